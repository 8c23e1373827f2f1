"""The scheduler: queues a run of each scheduled environment when its cron slot is due.

- One slot, one decision. A decision is a ScheduleSlot row, unique per (environment, slot),
  inserted in the same transaction as the run it queues: two schedulers on one PostgreSQL
  store (or two processes on one SQLite file) never start a slot twice; the loser of the race
  gets an IntegrityError and leaves the slot alone.
- A slot whose environment still has an active run (or whose clone or targets another run
  holds) is recorded SKIPPED with the reason; it is not queued behind the running one.
- No backlog after downtime: only the most recent due slot is ever considered. If it is found
  within GRACE of its time it starts late; if later than that it is recorded SKIPPED as missed
  (a backup that suspends production must not start hours off its time), and the older missed
  slots are ignored. A slot due before the environment was last changed is not "missed".
- Every scheduler of a store must read schedules in the same time zone (--tz / $FLASH4I_TZ):
  a slot is identified by its UTC instant.
"""
from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Callable, List, Optional

from peewee import IntegrityError

from ..errors import SafetyRefusal
from ..store import models as m
from ..store import queries
from ..store.db import database, open_store, redact_url, resolve_url, utcnow, write_transaction
from .queue import submit_run
from .schedule import latest_due, next_times, schedule_zone, zone_name

GRACE = timedelta(hours=1)        # a slot first seen later than this after its time is not started
INTERVAL = 20.0                   # seconds between two looks at the schedules
STARTED, SKIPPED = "STARTED", "SKIPPED"


@dataclass(frozen=True)
class Decision:
    environment: str
    slot_at: datetime              # aware UTC
    status: str                    # STARTED | SKIPPED
    run_id: Optional[int]
    note: str

    def describe(self, tz: tzinfo) -> str:
        when = self.slot_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        what = f"run {self.run_id} queued" if self.status == STARTED else f"skipped: {self.note}"
        return f"{self.environment} slot {when}: {what}"


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    """Aware UTC; a naive time is UTC, as everywhere in the store."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


class Scheduler:
    def __init__(self, db_url: Optional[str] = None, tz: Optional[tzinfo] = None, grace: timedelta = GRACE,
                 interval: float = INTERVAL, start_worker: bool = True,
                 log: Optional[Callable[[str], None]] = None):
        self.db_url = resolve_url(db_url)
        self.tz = tz if tz is not None else schedule_zone()
        self.grace = grace
        self.interval = interval
        self.start_worker = start_worker
        self.log = log or (lambda text: print(text, flush=True))
        self.stopping = threading.Event()
        open_store(self.db_url)

    # ---------------------------------------------------------------- deciding

    def tick(self, now: Optional[datetime] = None) -> List[Decision]:
        """Decide every environment's latest due slot not yet decided. Returns what was decided here."""
        now = _aware(now or datetime.now(timezone.utc))
        decisions: List[Decision] = []
        # Read the list whole first: a SELECT still open would pin an old snapshot, and SQLite
        # refuses to start a write transaction on a stale snapshot (SQLITE_BUSY, no waiting).
        envs = list(m.Environment.select().where(m.Environment.schedule.is_null(False)).order_by(m.Environment.name))
        for env in envs:
            try:
                decision = self._decide(env, now)
            except Exception as exc:   # one bad schedule or a store hiccup must not stop the others
                self.log(f"scheduler: {env.name}: {type(exc).__name__}: {exc}")
                continue
            if decision is not None:
                decisions.append(decision)
                self.log(decision.describe(self.tz))
        if self.start_worker and any(d.status == STARTED for d in decisions):
            from .launch import ensure_worker
            pid = ensure_worker(self.db_url)
            if pid:
                self.log(f"worker started (pid {pid})")
        return decisions

    def _decide(self, env: m.Environment, now: datetime) -> Optional[Decision]:
        if not env.schedule:
            return None
        slot = latest_due(env.schedule, now, self.tz)
        if slot is None:
            return None
        key = _naive(slot)
        if m.ScheduleSlot.select().where((m.ScheduleSlot.environment == env) &
                                         (m.ScheduleSlot.slot_at == key)).exists():
            return None
        late = now - slot
        if late > self.grace:
            if key < env.updated_at:
                return None            # due before the schedule was set: nothing was missed
            note = (f"missed: the scheduler first saw this slot {_duration(late)} after its time "
                    f"(grace {_duration(self.grace)}); not started late")
            return self._claim(env, key, lambda row: (SKIPPED, None, note))
        return self._claim(env, key, self._queue)

    def _queue(self, slot: m.ScheduleSlot):
        """Inside the claim's transaction: queue the run, or say why the slot is skipped."""
        env = slot.environment
        active = queries.active_run(env)
        if active is not None:
            return SKIPPED, None, f"run {active.id} of {env.name} is still {active.state}"
        try:
            run = submit_run(env.name, requested_by="scheduler", schedule_slot=slot.slot_at)
        except SafetyRefusal as exc:
            return SKIPPED, None, str(exc)
        return STARTED, run, ""

    def _claim(self, env: m.Environment, key: datetime, decide) -> Optional[Decision]:
        """Insert the slot (unique) and record the decision in one transaction; None if another
        scheduler decided this slot first."""
        try:
            with write_transaction():
                row = m.ScheduleSlot.create(environment=env, slot_at=key, status=STARTED, decided_at=utcnow())
                status, run, note = decide(row)
                m.ScheduleSlot.update(status=status, run=run, note=note[:2000]).where(
                    m.ScheduleSlot.id == row.id).execute()
        except IntegrityError:
            return None
        return Decision(env.name, key.replace(tzinfo=timezone.utc), status, run.id if run else None, note)

    # ---------------------------------------------------------------- the loop

    def serve(self, once: bool = False) -> int:
        self.log(f"flash4i scheduler serving {redact_url(self.db_url)}; schedules read in {zone_name(self.tz)}")
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception as exc:      # the store may be away for a moment: try again next time
                self.log(f"scheduler: {type(exc).__name__}: {exc}")
                _drop_connection()
            if once:
                break
            self.stopping.wait(self.interval)
        return 0

    def install_signal_handlers(self) -> None:
        def handler(signum, frame):
            self.stopping.set()
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def _drop_connection() -> None:
    """Close a connection that may be broken; the next query opens a fresh one."""
    try:
        database.close()
    except Exception:
        pass


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


# ------------------------------------------------------------------ overview (schedule list, panels)

def schedule_overview(count: int = 3, now: Optional[datetime] = None, tz: Optional[tzinfo] = None) -> List[dict]:
    """Every scheduled environment: its next COUNT due times and its last decided slot."""
    tz = tz if tz is not None else schedule_zone()
    return [schedule_info(env, count, now, tz)
            for env in m.Environment.select().where(m.Environment.schedule.is_null(False))
            .order_by(m.Environment.name)]


def schedule_info(env: m.Environment, count: int = 3, now: Optional[datetime] = None,
                  tz: Optional[tzinfo] = None) -> dict:
    """One environment's schedule: cron text, zone, next COUNT due times (ISO, in the zone), last slot."""
    tz = tz if tz is not None else schedule_zone()
    info = {"environment": env.name, "cron": env.schedule, "timezone": zone_name(tz), "next": [], "error": None,
            "last_slot": last_slot(env)}
    if env.schedule:
        try:
            info["next"] = [t.astimezone(tz).isoformat() for t in
                            next_times(env.schedule, now or datetime.now(timezone.utc), tz, count)]
        except Exception as exc:       # shown, never fatal: the configuration check should have caught it
            info["error"] = f"cannot read schedule: {exc}"
    return info


def last_slot(env: m.Environment) -> Optional[dict]:
    slot = (m.ScheduleSlot.select().where(m.ScheduleSlot.environment == env)
            .order_by(m.ScheduleSlot.slot_at.desc()).first())
    if slot is None:
        return None
    return {"slot_at": slot.slot_at.isoformat(timespec="seconds") + "Z", "status": slot.status,
            "run": slot.run_id, "note": slot.note,
            "decided_at": slot.decided_at.isoformat(timespec="seconds") + "Z"}
