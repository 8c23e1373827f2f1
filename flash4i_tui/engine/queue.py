"""Queueing runs: the only way a run comes into existence (CLI, panels, scheduler).

A run takes its resources when it is queued: the clone LPAR and every target volume. The
locks are rows with a unique key, so two runs can never hold the same clone or target,
whichever process or host queued them and on SQLite or PostgreSQL alike. They are freed
when the run ends.
"""
from __future__ import annotations

import getpass
from datetime import datetime
from typing import List, Optional

from peewee import IntegrityError

from ..config.store_io import environment_record
from ..errors import SafetyRefusal
from ..store import models as m
from ..store.db import database, utcnow, write_transaction
from ..store.queries import environment, run as stored_run
from .generations import all_generation_targets, run_snapshot

ACTIVE = ("QUEUED", "RUNNING")


def resources_of(env: m.Environment) -> List[str]:
    """Lock keys of what a run of ENV must hold exclusively."""
    clone = env.clone
    msys = clone.managed_system
    keys = [f"lpar:{msys.hmc.name}/{msys.name}/{clone.lpar_id}"]
    keys += [f"volume:{env.storage.name}/{p.target}" for p in env.volume_pairs.order_by(m.VolumePair.seq)]
    keys += [f"volume:{env.storage.name}/{t}" for t in all_generation_targets(env)]     # generations
    return keys


def _holder(resource: str) -> Optional[m.Run]:
    lock = m.ResourceLock.get_or_none(m.ResourceLock.resource == resource)
    return lock.run if lock else None


def _describe(resource: str) -> str:
    kind, _, name = resource.partition(":")
    return f"clone partition {name}" if kind == "lpar" else f"target volume {name}"


def submit_run(env_name: str, requested_by: Optional[str] = None, schedule_slot: Optional[datetime] = None) -> m.Run:
    """Queue a run of ENV_NAME, or refuse it if another active run holds its clone or targets."""
    env = environment(env_name)
    who = requested_by or _current_user()
    with write_transaction():
        run = m.Run.create(environment=env, env_name=env.name, function=env.function, state="QUEUED",
                           requested_by=who, requested_at=utcnow(), schedule_slot=schedule_slot,
                           snapshot=run_snapshot(env, environment_record(env)))
        for resource in resources_of(env):
            holder = _holder(resource)
            if holder is not None:
                raise SafetyRefusal(f"run of {env.name} refused: {_describe(resource)} is in use by run "
                                    f"{holder.id} ({holder.env_name}, {holder.state})")
            try:
                with database.obj.atomic():   # savepoint: a lost race is a clean refusal
                    m.ResourceLock.create(resource=resource, run=run)
            except IntegrityError:
                holder = _holder(resource)
                who_has = f"run {holder.id} ({holder.env_name})" if holder else "another run"
                raise SafetyRefusal(f"run of {env.name} refused: {_describe(resource)} is in use by {who_has}") \
                    from None
    return run


def release_locks(run: m.Run) -> None:
    m.ResourceLock.delete().where(m.ResourceLock.run == run).execute()


def request_cancel(run_id: int) -> m.Run:
    """Ask a run to stop. A queued run ends at once; a running one stops at a safe point."""
    with write_transaction():
        run = stored_run(run_id)      # an unknown run is NotFound (exit 3), not peewee's DoesNotExist
        if run.state == "QUEUED":
            m.Run.update(state="CANCELLED", ended_at=utcnow(), message="cancelled before it started").where(
                (m.Run.id == run.id) & (m.Run.state == "QUEUED")).execute()
            release_locks(run)
        elif run.state == "RUNNING":
            m.Run.update(cancel_requested=True).where(m.Run.id == run.id).execute()
    return m.Run.get_by_id(run_id)


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
