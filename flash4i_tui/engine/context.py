"""Everything a step needs while a run executes: definitions, device drivers, logging, time."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, TypeVar

from ..devices.ssh import Endpoint, LogEvent, SessionPool
from ..errors import RunCancelled, StepTimeout, WorkerStopping
from ..store import models as m
from ..store.db import utcnow, write_transaction

T = TypeVar("T")

# A store that fails after the resume is retried this often before the run gives up on its records.
FLUSH_ATTEMPTS, FLUSH_PAUSE = 20, 0.5


@dataclass
class Defs:
    """The definitions a run works with: the environment as queued, and the live device rows."""

    env: dict                      # the environment record snapshotted when the run was queued
    source: m.Partition
    clone: m.Partition
    storage: m.StorageSystem

    @classmethod
    def load(cls, env: dict) -> "Defs":
        def partition(name: str) -> m.Partition:
            return m.Partition.get(m.Partition.name == name)
        return cls(env=env, source=partition(env["source"]), clone=partition(env["clone"]),
                   storage=m.StorageSystem.get(m.StorageSystem.name == env["storage"]))

    @property
    def function(self) -> str:
        return self.env["function"]

    @property
    def starts_clone(self) -> bool:
        return self.function != "*NONE"

    @property
    def vscsi(self) -> bool:
        return self.env["attach"]["type"] == "vscsi"

    @property
    def pairs(self) -> list:
        return [(p["source"], p["target"]) for p in self.env["volumes"]]

    @property
    def targets(self) -> list:
        return [t for _, t in self.pairs]

    @property
    def generation(self):
        """The recovery point generation this run takes (environments with `generations`), or None."""
        return self.env.get("generation")


def hmc_endpoint(partition: m.Partition) -> Endpoint:
    hmc = partition.managed_system.hmc
    return Endpoint.from_row(hmc.name, hmc.host, hmc.port, hmc.user, hmc.auth, hmc.known_hosts)


def ibmi_endpoint(partition: m.Partition) -> Endpoint:
    return Endpoint.from_row(partition.name, partition.ssh_host, partition.ssh_port, partition.ssh_user,
                             partition.ssh_auth, partition.known_hosts)


def storage_endpoint(storage: m.StorageSystem) -> Endpoint:
    return Endpoint.from_row(storage.name, storage.host, storage.port, storage.user, storage.auth,
                             storage.known_hosts)


class RunContext:
    """One run in progress. Owned by the thread that executes it."""

    poll = 2.0                      # seconds between polls of a device state (tests lower it)

    def __init__(self, run: m.Run, defs: Defs, cancel: threading.Event, poll: Optional[float] = None,
                 stopping: Optional[threading.Event] = None):
        self.run = run
        self.defs = defs
        self.cancel = cancel
        self.stopping = stopping or threading.Event()
        if poll is not None:
            self.poll = poll
        # Every device command is bounded by what is left of the current step's bound.
        self.sessions = SessionPool(log=self._log_command, limit=self.remaining,
                                    abort=lambda: self.abortable and self.stopping.is_set())
        self._drivers: Dict[str, object] = {}
        self._seq = _next_seq(run.id, "INTERNAL")
        self._seq_lock = threading.Lock()
        self.step: Optional[m.Step] = None
        self.deadline = float("inf")
        # While production is suspended nothing waits on the store: writes are kept here, in
        # order, and written after the resume (a locked or lost store cannot hold the resume).
        self.buffering = False
        self._deferred: list = []
        # Set while a step that holds production suspended runs (QUIESCE, FLASH): a stopping
        # worker then ends a hung device command at once, so the resume is not kept waiting.
        self.abortable = False
        # What steps hand to later steps. Each has a fallback after a worker restart, when
        # these start empty: the store (run.suspend_started_at) or the device asked again.
        self.suspended_at: Optional[float] = None      # monotonic time the suspend took effect
        self.source_info: Optional[object] = None      # CHECK's look at the source system
        self.function_status: Optional[dict] = None    # the agent's last readable status
        self.unreadable_status = 0                     # status reads in a row that failed

    # ---------------------------------------------------------------- the store

    def write(self, fn: Callable[[], object]) -> None:
        """Write to the store now, or after the resume when inside the suspend window."""
        if self.buffering:
            self._deferred.append(fn)
            return
        with write_transaction():
            fn()

    def flush(self) -> None:
        """Stop buffering and write what was kept, retrying a failing store (bounded)."""
        self.buffering = False
        for attempt in range(FLUSH_ATTEMPTS):
            try:
                with write_transaction():
                    for fn in self._deferred:
                        fn()
                self._deferred = []
                return
            except Exception:          # peewee's errors differ per database: retry any, bounded
                if attempt == FLUSH_ATTEMPTS - 1:
                    raise
                time.sleep(FLUSH_PAUSE)

    # ---------------------------------------------------------------- logging

    def log(self, text: str, msg_id: str = "", severity: int = 0, source: str = "flash4i") -> None:
        """A line of the run's internal log (kept in the store with the run)."""
        with self._seq_lock:
            seq, self._seq = self._seq, self._seq + 1
        at = utcnow()
        self.write(lambda: m.LogEntry.create(run=self.run.id, kind="INTERNAL", seq=seq, logged_at=at, msg_id=msg_id,
                                             severity=severity, source=source, text=text))

    def _log_command(self, event: LogEvent) -> None:
        status = "no answer" if event.exit_status is None else f"exit {event.exit_status}"
        lines = [f"> {event.command}  [{status}, {event.duration:.2f}s]"]
        for label, text in (("out", event.stdout), ("err", event.stderr), ("error", event.error)):
            if text and text.strip():
                lines.append(f"  {label}: {text.strip()}")
        self.log("\n".join(lines), severity=0 if event.exit_status == 0 else 20, source=event.device)

    # ---------------------------------------------------------------- drivers

    def driver(self, key: str, make: Callable[[], T]) -> T:
        if key not in self._drivers:
            self._drivers[key] = make()
        return self._drivers[key]  # type: ignore[return-value]

    def hmc(self, partition: m.Partition):
        from ..devices.hmc import HmcDriver
        endpoint = hmc_endpoint(partition)
        return self.driver(f"hmc:{endpoint.name}", lambda: HmcDriver(self.sessions.get(endpoint), endpoint.name))

    def storage(self):
        from ..devices.storage import GroupSpec, connect
        from ..devices.storage.base import VolumePair
        storage, env = self.defs.storage, self.defs.env
        # a generation's group names its environment's group as its base (generations.run_snapshot)
        group = {env["consistency_group"]: GroupSpec(tuple(VolumePair(s, t) for s, t in self.defs.pairs),
                                                     env["copy"]["rate"], env.get("base_consistency_group"))}

        return self.driver(f"storage:{storage.name}", lambda: connect(
            storage.type, storage_endpoint(storage), storage.options or {}, ssh=self.sessions.get,
            log=self._log_command, limit=self.remaining, groups=group))

    def ibmi(self, partition: m.Partition):
        from ..devices.ibmi import IbmiDriver
        endpoint = ibmi_endpoint(partition)
        return self.driver(f"ibmi:{endpoint.name}", lambda: IbmiDriver(self.sessions.get(endpoint), endpoint.name))

    def forget(self, partition: m.Partition) -> None:
        """Drop the SSH session to a partition (it restarted, or it changed its address)."""
        endpoint = ibmi_endpoint(partition)
        session = self.sessions.sessions.pop(endpoint.name, None)
        if session is not None:
            session.close()
        self._drivers.pop(f"ibmi:{endpoint.name}", None)

    def forget_storage(self) -> None:
        """Drop the storage driver and its session (SSH or REST): the next call connects anew."""
        name = self.defs.storage.name
        driver = self._drivers.pop(f"storage:{name}", None)
        if driver is not None:
            driver.close()
        self.sessions.sessions.pop(name, None)      # svc: its SSH session came from the pool

    def close(self) -> None:
        """The run ends: close the storage drivers' transports, then every SSH session."""
        for key, driver in self._drivers.items():
            if key.startswith("storage:"):
                driver.close()
        self.sessions.close()

    # ---------------------------------------------------------------- time and progress

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def bounded(self, seconds: float) -> float:
        """A command timeout that never runs past the step's bound."""
        left = self.remaining()
        if left <= 0:
            raise StepTimeout(f"step {self.step.name if self.step else ''} ran past its bound")
        return max(1.0, min(seconds, left))

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise RunCancelled("the run was asked to stop")

    def sleep(self, seconds: float) -> None:
        """Wait between polls; wakes early on cancel or a stopping worker; never past the step's bound."""
        self.check_cancel()
        deadline = time.monotonic() + min(seconds, max(0.0, self.remaining()))
        while time.monotonic() < deadline:
            if self.stopping.is_set():
                raise WorkerStopping("the worker is stopping")
            if self.cancel.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
                self.check_cancel()
        if self.remaining() <= 0:
            raise StepTimeout(f"step {self.step.name if self.step else ''} ran past its bound")

    def watch(self, detail: str) -> None:
        """Called at each poll of a device wait: show what is seen, and stop when asked to."""
        self.check_cancel()
        if self.stopping.is_set():
            raise WorkerStopping("the worker is stopping")
        if detail != getattr(self, "_watched", None):
            self._watched = detail
            self.progress(None, detail)

    def progress(self, percent: Optional[float], detail: Optional[str] = None) -> None:
        """Show progress of the current step on the live panel."""
        if self.step is None:
            return
        fields = {"progress": None if percent is None else max(0.0, min(100.0, float(percent)))}
        if detail is not None:
            fields["detail"] = detail
        step_id = self.step.id
        self.write(lambda: m.Step.update(**fields).where(m.Step.id == step_id).execute())

    def advance(self, event: str, **fields) -> None:
        """Move the run to its next phase (the table in phases.py), with FIELDS."""
        from .phases import next_phase
        self.update_run(phase=next_phase(self.run.phase, event), **fields)

    def update_run(self, **fields) -> None:
        run_id = self.run.id
        self.write(lambda: m.Run.update(**fields).where(m.Run.id == run_id).execute())
        for key, value in fields.items():
            setattr(self.run, key, value)


def _next_seq(run_id: int, kind: str) -> int:
    from peewee import fn
    top = m.LogEntry.select(fn.MAX(m.LogEntry.seq)).where((m.LogEntry.run == run_id) & (m.LogEntry.kind == kind)).scalar()
    return 0 if top is None else top + 1
