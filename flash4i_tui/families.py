"""The storage families: one registry that everything listing them reads (the configuration's
types, ports and limits, the drivers, the plan, the lab's datacenters).

Neutral: it imports nothing of flash4i, so every layer (and the lab) may read it. A family names
its driver by module and class name; the storage package imports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Family:
    name: str                  # the configuration's storage type
    title: str
    transport: str             # "ssh" (the CLI over SSH) or "rest" (HTTPS)
    port: int                  # the default port of that transport
    driver: str                # "module:Class" under flash4i_tui.devices.storage
    lab_topology: str          # the shipped datacenter (data/)
    # Copies one source volume can have on the array (what generations count against); a storage's
    # options.copies_per_source overrides it.
    copies_per_source: int
    # Targets change only after the start (run step ACTIVATE_TARGETS): PowerMax links its snapshot.
    activating: bool = False
    # How generations (recovery points) are kept: "targets" (one target set per generation, copied
    # onto the clone's disks at boot), "snapshots" (one targetless snapshot per generation, linked
    # to the clone's disks at boot), or None (not built).
    generations: Optional[str] = None


_ALL = (
    # 256 FlashCopy mappings per source volume: IBM's configuration limits for Storage Virtualize.
    Family("svc", "IBM Storage Virtualize (SVC, Storwize, FlashSystem)", "ssh", 22, "svc:SvcDriver",
           "lab-topology.yaml", 256, generations="targets"),
    # 12 FlashCopy relationships per source volume ("up to twelve", IBM's DS8000 Copy Services
    # documentation of multiple relationship FlashCopy; [U] on current code levels).
    Family("ds8000", "IBM DS8000", "rest", 8452, "ds8000:Ds8000Driver", "lab-ds8000.yaml", 12,
           generations="targets"),
    # 256 SnapVX snapshots per source volume (1024 from PowerMaxOS 10 [U]: set the storage's
    # options.copies_per_source); generations are targetless snapshots, linked at boot only.
    Family("powermax", "Dell PowerMax / VMAX (SnapVX)", "rest", 8443, "powermax:PowerMaxDriver",
           "lab-powermax.yaml", 256, activating=True, generations="snapshots"),
)

FAMILIES: Dict[str, Family] = {f.name: f for f in _ALL}
NAMES: Tuple[str, ...] = tuple(FAMILIES)


def named(transport: Optional[str] = None, activating: Optional[bool] = None,
          generations: Optional[str] = None) -> Tuple[str, ...]:
    """The names of the families with these properties, in registry order."""
    return tuple(f.name for f in _ALL if (transport is None or f.transport == transport)
                 and (activating is None or f.activating == activating)
                 and (generations is None or f.generations == generations))
