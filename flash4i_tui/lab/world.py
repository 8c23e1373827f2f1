"""The shared world every lab device lives in.

- Volumes hold what is "on disk": a DiskImage points at an IBM i's on-disk state (system
  values, network attributes, libraries, IFS, QHST, BRMS data ...). All units of one IBM i
  share one state object; a FlashCopy captures a copy of it at that instant.
- Managed systems hold LPARs and VIOS; activating an LPAR boots the IBM i found on the
  volumes it sees (NPIV host mappings on the array, or vSCSI mappings on a VIOS).
- The network maps addresses to the running IBM i that has them active; a second system
  starting an address that is already active is recorded as a conflict.
- A clock with a speed factor, fault rules, and an event log that the lab prints and the
  control API serves.

Device models keep their own state; the world only links them. It never does I/O.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional

from .clock import LabClock
from .faults import FaultRules, Latency

CONSISTENCY = ("clean", "quiesced", "flushed", "crash")


@dataclass
class DiskImage:
    """What one volume holds: one unit of an IBM i's disk set.

    `state` is shared by all units of the set. While the system runs, it is the live state;
    a copy made by a FlashCopy is an independent snapshot. `consistency` says how the data
    was left: clean (normal power down), quiesced (ASP suspended at the copy), flushed
    (main storage written, no suspend), crash (neither: an abnormal IPL with recovery).
    """

    set_id: str
    unit: int                      # 1 is the load source
    units: int                     # number of units in the set
    state: Any                     # the IBM i on-disk state (lab.ibmi), with snapshot()
    consistency: str = "clean"
    taken_at: Optional[datetime] = None


@dataclass
class Event:
    seq: int
    at: datetime
    kind: str                      # device, fault, boot, network, conflict ...
    text: str
    data: Dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"seq": self.seq, "at": self.at.isoformat(), "kind": self.kind, "text": self.text, "data": self.data}


@dataclass
class Pause:
    """Production held: an ASP suspended (CHGASPACT) or a source LSS frozen (DS8000), as the
    lab saw it. Real seconds (time.monotonic), because the clients' windows are real time."""

    who: str                       # the running system or array that held the I/O
    kind: str                      # asp_suspend | lss_freeze
    started: float
    lab_started: datetime
    ended: Optional[float] = None
    how: str = ""                  # resumed | automatic | failed | thawed | timeout

    @property
    def seconds(self) -> Optional[float]:
        return None if self.ended is None else self.ended - self.started

    def as_dict(self) -> dict:
        return {"who": self.who, "kind": self.kind, "at": self.lab_started.isoformat(),
                "seconds": self.seconds, "open": self.ended is None, "how": self.how}


@dataclass
class Capture:
    """One point-in-time copy taken on an array (a FlashCopy start, a SnapVX establish)."""

    array: str
    volumes: tuple                 # source volume names
    at: datetime


class Network:
    """Which running system answers for each address."""

    def __init__(self, world: "World"):
        self.world = world
        self._owners: Dict[str, Any] = {}

    def claim(self, address: str, owner: Any, who: str) -> bool:
        """OWNER starts ADDRESS. If another system has it active, record a conflict and refuse."""
        with self.world.lock:
            current = self._owners.get(address)
            if current is not None and current is not owner:
                self.world.conflict("address", f"{who} started {address}, which is already active on "
                                               f"{getattr(current, 'label', current)}",
                                    address=address, by=who)
                return False
            self._owners[address] = owner
            self.world.record("network", f"{who} started {address}", address=address)
            return True

    def release(self, address: str, owner: Any) -> None:
        with self.world.lock:
            if self._owners.get(address) is owner:
                del self._owners[address]

    def release_all(self, owner: Any) -> None:
        with self.world.lock:
            for address in [a for a, o in self._owners.items() if o is owner]:
                del self._owners[address]

    def owner(self, address: str) -> Any:
        with self.world.lock:
            return self._owners.get(address)

    def addresses(self) -> Dict[str, Any]:
        with self.world.lock:
            return dict(self._owners)


class DeviceStats:
    """What the lab's servers saw, per device: SSH handshakes (connections whose key exchange
    completed), commands (SSH exec lines, REST "METHOD path") and the connections still open
    (a client that ends without closing its sessions leaves them open)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.handshakes: Dict[str, int] = {}
        self._open: Dict[str, int] = {}
        self.commands: List[tuple] = []          # (time.monotonic(), device, command)

    def handshake(self, device: str) -> None:
        with self._lock:
            self.handshakes[device] = self.handshakes.get(device, 0) + 1
            self._open[device] = self._open.get(device, 0) + 1

    def closed(self, device: str) -> None:
        """A connection counted by handshake() has ended."""
        with self._lock:
            self._open[device] = self._open.get(device, 0) - 1

    def open_connections(self) -> Dict[str, int]:
        """Per device, the connections open now (devices with none are left out)."""
        with self._lock:
            return {device: n for device, n in self._open.items() if n}

    def command(self, device: str, command: str) -> None:
        with self._lock:
            self.commands.append((time.monotonic(), device, command))
            if len(self.commands) > 100000:
                del self.commands[:20000]

    def reset(self) -> None:
        with self._lock:
            self.handshakes, self.commands = {}, []

    def as_dict(self) -> dict:
        with self._lock:
            counts: Dict[str, int] = {}
            for _, device, _ in self.commands:
                counts[device] = counts.get(device, 0) + 1
            return {"handshakes": dict(self.handshakes), "commands": counts}


class World:
    def __init__(self, speed: float = 1.0, faults: Optional[FaultRules] = None,
                 latency: Optional[Latency] = None):
        self.clock = LabClock(speed)
        self.faults = faults or FaultRules()
        self.latency = latency or Latency()     # device latencies (real seconds), zero unless set
        self.stats = DeviceStats()
        self.lock = threading.RLock()
        self.arrays: Dict[str, Any] = {}        # storage arrays by name (lab.svc)
        self.systems: Dict[str, Any] = {}       # managed systems by name (lab.hmc)
        self.hmcs: Dict[str, Any] = {}          # HMCs by name (lab.hmc)
        self.network = Network(self)
        self.running: Dict[tuple, Any] = {}     # (managed system, lpar id) -> running IBM i (lab.ibmi)
        self.events: List[Event] = []
        self.conflicts: List[Event] = []
        self._seq = itertools.count(1)
        self._tickers: List[Callable[[float], None]] = []
        self._tick_thread: Optional[threading.Thread] = None
        self.listeners: List[Callable[[Event], None]] = []
        self.pauses: List[Pause] = []           # ground truth of production's pauses
        self.captures: List[Capture] = []       # every point-in-time copy, in order

    # ---------------------------------------------------------------- events

    def record(self, kind: str, text: str, **data: Any) -> Event:
        event = Event(next(self._seq), self.clock.now(), kind, text, data)
        with self.lock:
            self.events.append(event)
            if len(self.events) > 20000:
                del self.events[:5000]
        for listener in list(self.listeners):
            listener(event)
        return event

    def conflict(self, kind: str, text: str, **data: Any) -> Event:
        """Something a clone must never do (production's address or name on the network)."""
        event = self.record("conflict", f"CONFLICT ({kind}): {text}", conflict=kind, **data)
        with self.lock:
            self.conflicts.append(event)
        return event

    # ---------------------------------------------------------------- ground truth

    def pause_begins(self, who: str, kind: str) -> Pause:
        pause = Pause(who, kind, time.monotonic(), self.clock.now())
        with self.lock:
            self.pauses.append(pause)
            if len(self.pauses) > 20000:
                del self.pauses[:5000]
        return pause

    def pause_ends(self, pause: Optional[Pause], how: str) -> None:
        if pause is not None and pause.ended is None:
            pause.ended, pause.how = time.monotonic(), how
            self.record("pause", f"{pause.who}: {pause.kind} ended ({how}) after {pause.seconds:.3f}s",
                        seconds=pause.seconds, pause=pause.kind)

    def open_pauses(self, who: Optional[str] = None) -> List[Pause]:
        with self.lock:
            return [p for p in self.pauses if p.ended is None and (who is None or p.who == who)]

    def captures_of(self, volumes) -> List[Capture]:
        """The point-in-time copies that included any of VOLUMES (source names)."""
        wanted = set(volumes)
        with self.lock:
            return [c for c in self.captures if wanted & set(c.volumes)]

    # ---------------------------------------------------------------- disks

    def volume_by_uid(self, uid: str) -> Any:
        for array in self.arrays.values():
            volume = array.volume_by_uid(uid)
            if volume is not None:
                return volume
        return None

    def disks_of(self, system: str, lpar_id: int) -> List[Any]:
        """The volumes an LPAR sees: NPIV host mappings on the arrays, then vSCSI through its VIOS."""
        with self.lock:
            volumes: List[Any] = []
            for array in self.arrays.values():
                volumes.extend(array.npiv_volumes(system, lpar_id))
            msys = self.systems.get(system)
            if msys is not None:
                for uid in msys.vscsi_backing_uids(lpar_id):
                    volume = self.volume_by_uid(uid)
                    if volume is not None:
                        volumes.append(volume)
            return volumes

    def capture(self, sources: List[Any]) -> List[Optional[DiskImage]]:
        """Point-in-time copies of the SOURCES' contents, as one consistency group.

        Units of the same IBM i share one snapshot of its state, taken once, so a group that
        holds every unit yields a complete, consistent disk set.
        """
        with self.lock:
            self.captures.append(Capture(getattr(sources[0], "array", "") if sources else "",
                                         tuple(v.name for v in sources), self.clock.now()))
            snapshots: Dict[int, tuple] = {}
            images: List[Optional[DiskImage]] = []
            for volume in sources:
                image = volume.content
                if image is None:
                    images.append(None)
                    continue
                key = id(image.state)
                if key not in snapshots:
                    snapshots[key] = image.state.snapshot()     # -> (state copy, consistency)
                state, consistency = snapshots[key]
                images.append(DiskImage(image.set_id, image.unit, image.units, state, consistency,
                                        self.clock.now()))
            return images

    def volume_overwritten(self, volume: Any, why: str) -> None:
        """A FlashCopy wrote onto VOLUME. If a running partition uses it, that is a disaster:
        record it as a conflict and crash that partition, as a real system would."""
        with self.lock:
            victims = [rt for rt in self.running.values() if volume in getattr(rt, "volumes", ())]
        for runtime in victims:
            self.conflict("overwrite", f"{why} overwrote {volume.name}, in use by running partition "
                                       f"{getattr(runtime, 'label', runtime)}", volume=volume.name)
            runtime.crash(f"disk unit {volume.name} was overwritten while in use")

    # ---------------------------------------------------------------- time

    def add_ticker(self, fn: Callable[[float], None]) -> None:
        """Call FN(lab_seconds_elapsed) regularly (background copy, thin growth, suspend timers)."""
        with self.lock:
            self._tickers.append(fn)

    def start(self) -> None:
        if self._tick_thread is None:
            self._tick_thread = threading.Thread(target=self._tick_loop, name="lab-ticker", daemon=True)
            self._tick_thread.start()

    def stop(self) -> None:
        self.clock.shutdown()

    def wait_real(self, seconds: float, cancel: Optional[threading.Event] = None) -> bool:
        """Wait SECONDS of real time (a device latency); False if CANCEL or the lab's stop cut it short."""
        return self.clock.sleep(seconds * self.clock.speed, cancel=cancel)

    def _tick_loop(self) -> None:
        last = self.clock.monotonic()
        while self.clock.sleep(self.clock.speed * 0.1):   # every 0.1 real seconds
            now = self.clock.monotonic()
            elapsed, last = now - last, now
            for fn in list(self._tickers):
                try:
                    with self.lock:
                        fn(elapsed)
                except Exception as exc:  # a broken ticker must not stop time
                    self.record("error", f"ticker {getattr(fn, '__qualname__', fn)} failed: {exc}")
            if self.faults.source is not None:
                try:
                    if self.faults.reload_if_changed():
                        self.record("fault", f"fault rules reloaded from {self.faults.source}")
                except Exception as exc:
                    self.record("error", f"fault file {self.faults.source} is invalid: {exc}")
