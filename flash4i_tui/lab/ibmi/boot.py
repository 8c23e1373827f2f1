"""The IPL of an IBM i from the disk set an LPAR sees.

The HMC side calls

    runtime = boot(world, lpar_ref, volumes, report=set_refcode, cancel=event, instant=False)

- lpar_ref: .system (managed system), .name, .id, .serial, and optionally .type_model;
  methods power_off(restart, immediate) and set_refcode(code) (called later, by PWRDWNSYS or a
  crash, from a separate thread);
- volumes: the volumes the LPAR sees (.name, .content: a world.DiskImage or None, .write(n));
- report(code): each reference code of the IPL (C6xxxxxx LIC, C900xxxx OS), then '00000000';
  a report that returns False means the IPL was superseded: boot stops as if cancelled;
  an `ipl_stall` fault rule naming the LPAR holds the IPL at that code until it is removed;
- cancel: set when the HMC shuts the LPAR down mid-IPL: boot raises IplCancelled promptly
  (a BootFailure whose state is 'Not Activated');
- returns the IbmiRuntime once the OS is up (registered in world.running);
- raises BootFailure(refcode, message, state) when the disk set cannot IPL.

The partition's identity (id, name) comes from the LPAR, not from the disks. A copy taken
without quiesce IPLs abnormally (longer, with recovery, recorded in QHST); a flushed copy
abnormally but shorter; a quiesced copy or a clean power down normally.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .messages import msg
from .runtime import DEFAULT_PYTHON, IbmiRuntime, ensure_ticker


class BootFailure(Exception):
    """The partition cannot IPL from its disks: the SRC it shows and the LPAR state to take."""

    def __init__(self, refcode: str, message: str, state: str = "Error"):
        self.refcode, self.message, self.state = refcode, message, state
        super().__init__(f"{refcode}: {message}")


class IplCancelled(BootFailure):
    """The HMC shut the partition down during the IPL."""

    def __init__(self, message: str = "IPL cancelled: the partition was shut down"):
        super().__init__("00000000", message, "Not Activated")


class Ipl:
    """IPL timing and failure codes (lab seconds; the clock's speed makes them short)."""

    LIC_STEPS: Tuple[Tuple[str, float], ...] = (
        ("C6003900", 15), ("C6003910", 15), ("C6003911", 15), ("C6003912", 15), ("C6003913", 20),
        ("C6003915", 20), ("C6003917", 20), ("C6004031", 40))                    # [V] sequence, C6004031 [U]
    OS_STEPS: Tuple[Tuple[str, float], ...] = (
        ("C9002810", 30), ("C9002910", 40), ("C9002930", 30), ("C9002965", 40), ("C9002A80", 30),
        ("C9002C10", 40), ("C9002F00", 20))                                      # [U] OS IPL progress codes
    # Extra recovery after an abnormal end: (after LIC, after OS start) per consistency [U codes].
    RECOVERY_STEPS: Dict[str, Tuple[Tuple[str, float], ...]] = {
        "crash": (("C6004130", 240), ("C9002B30", 420)),
        "flushed": (("C6004130", 60), ("C9002B30", 120)),
    }
    # Failures: (SRC, LPAR state) [U codes]
    NO_LOAD_SOURCE = ("B2008105", "Error")          # no disk unit holds a load source
    MISSING_UNITS = ("A6005090", "Running")         # units of the set are missing: IPL stops for attention
    MIXED_UNITS = ("A6005082", "Running")           # units come from different copies or systems
    IN_USE = ("B6005090", "Error")                  # the units are in use by another running partition


ORDER = ("clean", "quiesced", "flushed", "crash")
STALL_POLL = 5.0            # lab seconds between checks of an IPL stall fault


def worst(*consistencies: str) -> str:
    return max(consistencies, key=lambda c: ORDER.index(c) if c in ORDER else len(ORDER) - 1)


def check_disks(world: Any, volumes: Sequence[Any]) -> Tuple[Any, List[Any]]:
    """The state to IPL and the images of a complete disk set, or BootFailure."""
    images = [(v, v.content) for v in volumes if getattr(v, "content", None) is not None]
    load_sources = [(v, img) for v, img in images if img.unit == 1]
    if not volumes or not load_sources:
        refcode, state = Ipl.NO_LOAD_SOURCE
        raise BootFailure(refcode, "no load source disk unit found" if volumes else "no disk units attached", state)
    volume, load_source = load_sources[0]
    same_set = [img for _, img in images if img.set_id == load_source.set_id and img.state is load_source.state]
    if len(load_sources) > 1 or len(same_set) != len(images) or len({img.unit for img in same_set}) != len(same_set):
        refcode, state = Ipl.MIXED_UNITS
        raise BootFailure(refcode, "disk units belong to different copies or systems", state)
    missing = sorted(set(range(1, load_source.units + 1)) - {img.unit for img in same_set})
    if missing:
        refcode, state = Ipl.MISSING_UNITS
        raise BootFailure(refcode, f"disk units missing from the configuration: {', '.join(map(str, missing))} "
                                   f"of {load_source.units}", state)
    running = load_source.state.runtime
    if running is not None and running.phase != "down":
        refcode, state = Ipl.IN_USE
        raise BootFailure(refcode, f"disk units are in use by {running.label}", state)
    return load_source.state, [img for _, img in images]


def boot(world: Any, lpar_ref: Any, volumes: Sequence[Any], report: Optional[Callable[[str], None]] = None,
         cancel: Optional[threading.Event] = None, instant: bool = False,
         python: str = DEFAULT_PYTHON) -> IbmiRuntime:
    """IPL the IBM i on VOLUMES as LPAR_REF; return the running system."""
    report = report or (lambda code: None)
    cancel = cancel or threading.Event()
    with world.lock:
        state, images = check_disks(world, volumes)
        kind = worst(state.last_end, *(img.consistency for img in images))
    runtime = IbmiRuntime(world, lpar_ref, volumes, state, python)
    ensure_ticker(world)
    recovery = Ipl.RECOVERY_STEPS.get(kind, ())

    def step(code: str, seconds: float) -> None:
        superseded = report(code) is False        # the HMC side answers False once this IPL is stale
        while not superseded and world.faults.ipl_stall(runtime.partition_name) == code and not cancel.is_set():
            world.clock.sleep(STALL_POLL, cancel=cancel)   # an IPL stall fault holds this code
        if superseded or cancel.is_set() or (not instant and not world.clock.sleep(seconds, cancel=cancel)):
            runtime.stop("crash", "IPL cancelled", spool=False)
            raise IplCancelled()
        if runtime.phase == "down" and runtime.ipl_started is not None:
            raise BootFailure(runtime.CRASH_REFCODE, "the system crashed during the IPL", "Running")

    world.record("boot", f"{runtime.label}: IPL started ({'normal' if kind in ('clean', 'quiesced') else 'abnormal'}, "
                         f"disks left {kind})", lpar=runtime.partition_name)
    runtime.begin_ipl(kind)
    for img in images:
        img.consistency = "clean"        # the disks are live now: the state's last_end tells how they end
    _record_abnormal_start(runtime, kind)
    for code, seconds in Ipl.LIC_STEPS + recovery[:1] + Ipl.OS_STEPS[:1] + recovery[1:] + Ipl.OS_STEPS[1:]:
        step(code, seconds)
    _record_recovery_done(runtime, kind)
    runtime.finish_ipl()
    report("00000000")
    return runtime


def _record_abnormal_start(runtime: IbmiRuntime, kind: str) -> None:
    if kind == "crash":
        runtime.qhst(msg("CPI0990"))
        runtime.qhst(msg("CPI0991"))
    elif kind == "flushed":
        runtime.qhst(msg("CPI0995"))
        runtime.qhst(msg("CPI0991"))


def _record_recovery_done(runtime: IbmiRuntime, kind: str) -> None:
    if kind in ("crash", "flushed"):
        runtime.qhst(msg("CPI0992"))
