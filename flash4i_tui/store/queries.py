"""Read queries shared by the CLI and the panels. Lists are paged: never load everything."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

from peewee import fn

from ..errors import NotFound
from . import models as m

ACTIVE_STATES = ("QUEUED", "RUNNING")


# What a store column can hold: a 64-bit integer key; text without NUL that encodes as UTF-8.
# Anything else (a run id of 30 digits, a name from the command line with bytes that are not
# UTF-8) cannot name a stored row, and the driver would fail on it with its own exception.
MAX_ID = 2 ** 63 - 1


def storable_text(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def environment(name: str) -> m.Environment:
    env = m.Environment.get_or_none(m.Environment.name == name) if storable_text(name) else None
    if env is None:      # a name with a newline or control character stays on one line
        raise NotFound(f"environment {name if name.isprintable() else repr(name)} not found")
    return env


def run(run_id: int) -> m.Run:
    row = m.Run.get_or_none(m.Run.id == run_id) if -MAX_ID <= run_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"run {run_id} not found")
    return row


def environments() -> list[m.Environment]:
    return list(m.Environment.select().order_by(m.Environment.name))


def last_runs(env_ids: Optional[Iterable[int]] = None) -> dict[int, m.Run]:
    """The newest run of each environment, in one query."""
    newest = (m.Run.select(m.Run.environment, fn.MAX(m.Run.id).alias("rid"))
              .where(m.Run.environment.is_null(False)).group_by(m.Run.environment))
    if env_ids is not None:
        newest = newest.where(m.Run.environment.in_(list(env_ids)))
    ids = [row.rid for row in newest]
    return {r.environment_id: r for r in m.Run.select().where(m.Run.id.in_(ids))} if ids else {}


def last_success(env: m.Environment) -> Optional[m.Run]:
    return (m.Run.select().where((m.Run.environment == env) & (m.Run.state == "SUCCEEDED"))
            .order_by(m.Run.id.desc()).first())


def active_run(env: m.Environment) -> Optional[m.Run]:
    return (m.Run.select().where((m.Run.environment == env) & (m.Run.state.in_(ACTIVE_STATES)))
            .order_by(m.Run.id.desc()).first())


def runs_page(env_name: str | None = None, before_id: int | None = None, after_id: int | None = None,
              limit: int = 20) -> list[m.Run]:
    """A page of runs, newest first, by keyset on the run id (cheap at any depth)."""
    q = m.Run.select()
    if env_name:
        q = q.where(m.Run.env_name == env_name)
    if before_id is not None:
        q = q.where(m.Run.id < before_id)
    if after_id is not None:
        rows = list(q.where(m.Run.id > after_id).order_by(m.Run.id.asc()).limit(limit))
        return rows[::-1]
    return list(q.order_by(m.Run.id.desc()).limit(limit))


def steps(run_row: m.Run) -> list[m.Step]:
    return list(run_row.steps.order_by(m.Step.seq))


def log_page(run_id: int, kind: str, start_seq: int = 0, limit: int = 50, backwards: bool = False) -> list[m.LogEntry]:
    """A page of a run's log by sequence number (uses the (run, kind, seq) index)."""
    q = m.LogEntry.select().where((m.LogEntry.run == run_id) & (m.LogEntry.kind == kind))
    if backwards:
        rows = list(q.where(m.LogEntry.seq < start_seq).order_by(m.LogEntry.seq.desc()).limit(limit))
        return rows[::-1]
    return list(q.where(m.LogEntry.seq >= start_seq).order_by(m.LogEntry.seq).limit(limit))


def log_bounds(run_id: int, kind: str) -> tuple[int, int]:
    """Lowest and highest sequence number of a run's log (0, -1 when empty)."""
    row = (m.LogEntry.select(fn.MIN(m.LogEntry.seq).alias("lo"), fn.MAX(m.LogEntry.seq).alias("hi"))
           .where((m.LogEntry.run == run_id) & (m.LogEntry.kind == kind)).dicts().get())
    return (row["lo"], row["hi"]) if row["lo"] is not None else (0, -1)


def log_find(run_id: int, kind: str, text: str, from_seq: int, forward: bool = True) -> Optional[int]:
    """Sequence number of the next line whose text or message id contains TEXT (case-insensitive), or None."""
    q = m.LogEntry.select(m.LogEntry.seq).where(
        (m.LogEntry.run == run_id) & (m.LogEntry.kind == kind)
        & (m.LogEntry.text.contains(text) | m.LogEntry.msg_id.contains(text)))
    if forward:
        q = q.where(m.LogEntry.seq > from_seq).order_by(m.LogEntry.seq)
    else:
        q = q.where(m.LogEntry.seq < from_seq).order_by(m.LogEntry.seq.desc())
    row = q.first()
    return row.seq if row else None


def run_summary(r: m.Run) -> dict:
    """A run as plain data (CLI --json, monitoring)."""
    return {
        "id": r.id, "environment": r.env_name, "function": r.function, "state": r.state,
        "requested_by": r.requested_by, "requested_at": _iso(r.requested_at), "started_at": _iso(r.started_at),
        "ended_at": _iso(r.ended_at), "duration": r.duration, "current_step": r.current_step,
        "suspended_seconds": r.suspended_seconds, "resume_confirmed": r.resume_confirmed,
        "proven": r.proven, "proof": r.proof,
        "flash_time": _iso(r.flash_time), "space_used_bytes": r.space_used_bytes, "message": r.message,
        "steps": [{"seq": s.seq, "name": s.name, "status": s.status, "started_at": _iso(s.started_at),
                   "ended_at": _iso(s.ended_at), "duration": s.duration, "detail": s.detail}
                  for s in steps(r)],
    }


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat(timespec="seconds") + "Z" if value else None


# ------------------------------------------------------------------ panels

def environments_page(after: Optional[str] = None, before: Optional[str] = None, limit: int = 20,
                      inclusive: bool = False) -> list[m.Environment]:
    """A page of environments by name (keyset on the unique name index), in name order.

    AFTER: the names following it (at or after it when INCLUSIVE); BEFORE: the LIMIT names
    just before it; neither: the first page.
    """
    q = m.Environment.select()
    name = m.Environment.name
    if before is not None:
        return list(q.where(name < before).order_by(name.desc()).limit(limit))[::-1]
    if after is not None:
        q = q.where(name >= after if inclusive else name > after)
    return list(q.order_by(name).limit(limit))


def environments_last(limit: int = 20) -> list[m.Environment]:
    """The last LIMIT environments by name, in name order (F18=Bottom)."""
    return list(m.Environment.select().order_by(m.Environment.name.desc()).limit(limit))[::-1]


def partition_names() -> dict[int, str]:
    """Partition id -> name, for lists that show an environment's source and clone."""
    return {p.id: p.name for p in m.Partition.select(m.Partition.id, m.Partition.name)}


def hmcs() -> list[m.Hmc]:
    return list(m.Hmc.select().order_by(m.Hmc.name))


def storage_systems() -> list[m.StorageSystem]:
    return list(m.StorageSystem.select().order_by(m.StorageSystem.name))


def partitions() -> list[m.Partition]:
    return list(m.Partition.select(m.Partition, m.ManagedSystem, m.Hmc)
                .join(m.ManagedSystem).join(m.Hmc).order_by(m.Partition.name))


def newest_runs(env_ids: Iterable[int]) -> dict[int, m.Run]:
    """The newest run of each of a page of environments: one MAX(id) index probe per
    environment, so it costs the same with a million runs (last_runs groups them all)."""
    ids = [row.rid for row in (m.Run.select(fn.MAX(m.Run.id).alias("rid"))
                                .where(m.Run.environment == env_id).get() for env_id in env_ids)
           if row.rid is not None]
    return {r.environment_id: r for r in m.Run.select().where(m.Run.id.in_(ids))} if ids else {}


def latest_run(env_name: Optional[str] = None) -> Optional[m.Run]:
    """The active run of ENV_NAME if there is one, else its newest run (any environment when None).

    A queued or running run holds its clone partition (queue locks), so an environment has at
    most one active run and it is its newest: index probes only, never a scan by state (SQLite
    scans the state index after ANALYZE, when nearly every run is SUCCEEDED).
    """
    if env_name:
        return m.Run.select().where(m.Run.env_name == env_name).order_by(m.Run.id.desc()).first()
    newest = newest_runs([e.id for e in m.Environment.select(m.Environment.id)]).values()
    active = [r for r in newest if r.state in ACTIVE_STATES]
    return max(active, key=lambda r: r.id) if active else m.Run.select().order_by(m.Run.id.desc()).first()
