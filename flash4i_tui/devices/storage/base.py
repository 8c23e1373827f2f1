"""The storage driver interface: one abstract class every storage family implements.

Modelled on NAPALM's NetworkDriver: the engine talks to `StorageDriver` only; each family
(svc, ds8000, powermax) implements every method with exactly these
signatures, and one conformance suite (tests/devices/storage_conformance.py) runs against
each family's lab device. Values that cross into the engine are frozen dataclasses.

States use the Storage Virtualize words (reference §1.4) for every family, so the engine
has one vocabulary: a family whose device says otherwise maps its own states onto these.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

MAPPING_STATES = ("idle_or_copied", "preparing", "prepared", "copying", "stopping", "stopped", "suspended")
GROUP_STATES = MAPPING_STATES + ("empty",)
# A group in one of these holds no running copy: safe to change, re-prepare or delete.
STOPPED_STATES = ("idle_or_copied", "stopped", "empty")


@dataclass(frozen=True)
class VolumeInfo:
    name: str
    id: str
    uid: str                 # the SCSI identifier the hosts see (vdisk_UID on SVC)
    capacity_bytes: int      # virtual size
    used_bytes: int          # written data (thin); equals capacity for a fully allocated volume
    thin: bool
    status: str              # online | offline | degraded


@dataclass(frozen=True)
class HostMapping:
    volume: str
    host: str
    scsi_id: int


@dataclass(frozen=True)
class MappingState:
    name: str
    source: str
    target: str
    status: str              # one of MAPPING_STATES
    progress: int            # background copy, 0..100
    copy_rate: int           # 0: no background copy (space-efficient snapshot)
    start_time: str | None   # as the device prints it (SVC: YYMMDDhhmmss); None if never started


@dataclass(frozen=True)
class GroupState:
    name: str
    status: str              # one of GROUP_STATES
    mappings: tuple[MappingState, ...]
    start_time: str | None


@dataclass(frozen=True)
class VolumePair:
    source: str
    target: str


@dataclass(frozen=True)
class GroupSpec:
    """What the configuration says a consistency group holds. Families without a group object on
    the array (DS8000) know their groups only from this; the others use it for what the array
    does not record (the copy rate of a PowerMax link before it exists)."""

    pairs: tuple[VolumePair, ...]
    copy_rate: int
    # A targetless generation of recovery points (PowerMax, issue 13): the group whose storage
    # groups it uses; the group's own name is the snapshot's. None for an ordinary group.
    base: Optional[str] = None


def tuning(options: Mapping[str, Any], keys: Sequence[str]) -> dict:
    """The storage options among KEYS that are set, as seconds (floats)."""
    return {key: float(options[key]) for key in keys if options.get(key) is not None}


FIRST_POLL = 0.05         # seconds before the first re-read of a state that is changing


def poll_pause(attempt: int, interval: float, deadline: float, now: float) -> float:
    """How long to wait before re-reading a changing state (attempt 0, 1, ...): quick changes end
    quickly, so poll soon at first and back off to the configured interval, never past DEADLINE."""
    return max(0.0, min(interval, FIRST_POLL * 2 ** attempt, deadline - now))


class StorageDriver(ABC):
    """One storage system. Constructors differ per family (transport, options) and live in
    the subclasses; every other public method has exactly the signature below.

    Errors: a command the device refuses raises DeviceError(device, command, message,
    msg_id) with the device's own message id; an answer that cannot be parsed raises
    DeviceError naming the command; a bounded wait that runs out raises StepTimeout; a
    request that would harm volumes of something else raises SafetyRefusal before any change.
    """

    family: str = ""         # "svc", "ds8000", "powermax"
    name: str = ""           # flash4i's name of the device, used in every error
    session: Any = None      # the transport: an SshSession (svc) or a RestSession (ds8000, powermax)

    @classmethod
    def configured(cls, session: Any, name: str, options: Mapping[str, Any],
                   groups: Optional[Mapping[str, "GroupSpec"]] = None) -> "StorageDriver":
        """The driver of device NAME over SESSION, tuned by the storage's configured OPTIONS (the
        ones it knows; the others are read by the engine or the transport). GROUPS are the
        consistency groups of the configuration on this device, for families that keep no
        group of their own on the array."""
        return cls(session, name)  # type: ignore[call-arg]

    @classmethod
    def plan_commands(cls, group: str, pairs: Sequence["VolumePair"], rate: int, user: str,
                          options: Mapping[str, Any]) -> dict[str, list[str]]:
        """The command lines (or REST requests) each storage step of a run sends, by step name,
        for `flash4i plan`: no device is touched."""
        raise NotImplementedError(f"{cls.__name__} does not plan its commands")

    @abstractmethod
    def volumes(self, names: Sequence[str]) -> dict[str, VolumeInfo]:
        """The named volumes; names that do not exist are absent from the result."""

    @abstractmethod
    def host_mappings(self, volumes: Sequence[str]) -> dict[str, list[HostMapping]]:
        """For each named volume, the hosts it is mapped to (an empty list if none)."""

    @abstractmethod
    def map_volume(self, volume: str, host: str, scsi_id: int | None = None) -> HostMapping:
        """Map VOLUME to HOST (at SCSI_ID, or the next free one)."""

    @abstractmethod
    def unmap_volume(self, volume: str, host: str) -> None:
        """Remove the mapping of VOLUME to HOST."""

    @abstractmethod
    def group_state(self, group: str) -> GroupState | None:
        """The consistency group and its mappings; None if the group does not exist."""

    @abstractmethod
    def ensure_group(self, group: str, pairs: Sequence[VolumePair], copy_rate: int) -> GroupState:
        """Make GROUP hold exactly PAIRS at COPY_RATE, ready to be prepared. Idempotent: creates
        what is missing and fixes the copy rate; a copy of an earlier flash still running in the
        group is stopped (a prepared group stays prepared); old mappings of these targets
        outside the group are stopped and removed. Refuses (SafetyRefusal, before any change) a
        group mapping with another source or a target that is not in PAIRS."""

    @abstractmethod
    def stop(self, group: str, force: bool = False, timeout: float = 300) -> GroupState:
        """Stop GROUP's copy if it runs and wait (bounded) until it is stopped or idle."""

    @abstractmethod
    def prepare(self, group: str, timeout: float) -> GroupState:
        """Prepare GROUP for the flash and wait (bounded, StepTimeout) until it is prepared."""

    def ready_for_start(self) -> None:
        """Called before the suspend: make the coming `start` cost as little as the transport
        allows. Nothing by default (a REST session keeps its connection open)."""

    @abstractmethod
    def start(self, group: str) -> None:
        """Take the point-in-time copy now. Runs while production is suspended: it sends the
        start command and nothing else (no checks, no extra round trips). A DS8000 flash is two
        requests: the FlashCopy with freeze, then the unfreeze of its source LSSs."""

    @abstractmethod
    def progress(self, group: str) -> GroupState:
        """As group_state(), but the group must exist (DeviceError otherwise)."""

    @abstractmethod
    def space_used(self, targets: Sequence[str]) -> int:
        """Bytes used on the TARGETS: thin used capacity, the capacity for a full allocation."""

    def activate_targets(self, group: str) -> str:
        """Make the point in time taken by start() visible on the targets, after production has
        resumed, and wait (bounded) until it is. Families whose start already does it (svc,
        ds8000) have nothing to do: they return "". PowerMax links the new snapshot to the
        target storage group here. Returns a one-line detail for the run's record."""
        return ""

    def copies_per_source(self, sources: Sequence[str], replacing: Optional[str] = None) -> dict[str, int]:
        """For each named source volume, how many copies of it the array holds now (SVC FlashCopy
        mappings, DS8000 relationships, PowerMax snapshots): what the array's limit per source
        volume counts. Copies that a flash of group REPLACING removes first (its own, or the
        earlier copies onto its targets) are left out. A family that cannot tell returns {}."""
        return {}

    def copies_reading(self, group: str) -> list[str]:
        """Copies that read through generation GROUP's point in time (a boot's cascaded FlashCopy
        from its targets, a link of its snapshot): a new flash of GROUP would end them. Their
        names; empty when none."""
        return []

    def recovery_point_space(self, group: str, targets: Sequence[str]) -> int:
        """Bytes a recovery point (generation GROUP, on TARGETS) holds on the array: what its
        targets use, unless the family keeps it without targets (PowerMax: the snapshot's own
        tracks)."""
        return self.space_used(targets)

    def link_generation(self, group: str, generation: str, timeout: float) -> str:
        """Targetless generations (PowerMax): link snapshot GENERATION (newest snapid) of GROUP's
        source storage group to GROUP's target storage group, relinking it from another
        generation linked there, and wait (bounded) until the targets hold it. Families whose
        generations are target sets copy them instead (a cascaded copy)."""
        raise NotImplementedError(f"{self.family} keeps its generations on target volumes")

    def release(self, group: str) -> str:
        """Let production's I/O go again after start(): idempotent, safe to call whether or not
        start() ran or finished. Families whose start holds nothing after it answers (svc,
        powermax) return "". DS8000 thaws the source LSSs that the freeze left long busy."""
        return ""

    def close(self) -> None:
        """Close the transport (the SSH session, the REST session and its connections). Idempotent;
        the driver connects anew if it is used again. The engine closes its drivers when a run ends."""
        if self.session is not None:
            self.session.close()

    @abstractmethod
    def describe_commands(self, group: str, pairs: Sequence[VolumePair], copy_rate: int) -> list[str]:
        """The command lines stop/ensure_group/prepare/start can send to set up and flash GROUP,
        in order, without touching the device (for `flash4i plan`). Each is sent only when
        needed: the stop when a copy runs, the creations when the objects are missing."""
