"""Executing one run: its steps in order, each recorded as it goes, production first.

- Every step is a record (status, start, end, duration, detail) written when it starts and
  when it ends, so a panel follows the run live.
- Each step has a bound; waits inside it never run past it (StepTimeout).
- Production is resumed on every path out of QUIESCE: a failure, a timeout, a cancel, or
  the worker being stopped. The resume itself is never cancelled.
- A run picked up again after a worker died continues from its first unfinished step:
  production is resumed first if it could still be suspended, and a run that is past FLASH
  is never flashed again. A run that cannot continue is closed as failed, with the reason.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Optional

from ..errors import Flash4iError, RunCancelled, WorkerStopping
from ..store import models as m
from ..store.db import utcnow, write_transaction
from . import steps
from .context import Defs, RunContext
from .phases import SUSPEND_WINDOW, allows
from .plan import CLEANUP, StepDef, plan_for
from .queue import release_locks

DONE = ("OK", "SKIPPED")


def execute(run_id: int, cancel: threading.Event, stopping: Optional[threading.Event] = None,
            poll: Optional[float] = None) -> str:
    """Run (or continue) RUN_ID to its end. Returns the final state."""
    run = m.Run.get_by_id(run_id)
    try:
        defs = Defs.load(run.snapshot)
    except m.Partition.DoesNotExist as exc:
        return _close(run, "FAILED", f"a partition or storage of the environment no longer exists: {exc}")
    stopping = stopping or threading.Event()
    ctx = RunContext(run, defs, cancel, poll=poll, stopping=stopping)
    try:
        return _execute(ctx, stopping)
    finally:
        ctx.close()


def _execute(ctx: RunContext, stopping: threading.Event) -> str:
    run = ctx.run
    plan = plan_for(ctx.defs)
    rows = _step_rows(run, plan)
    if run.started_at is None:
        ctx.update_run(started_at=utcnow())
        ctx.log(f"run {run.id} of {run.env_name} ({run.function}) started by {run.requested_by}")
    else:
        ctx.log(f"run {run.id} picked up again after its worker stopped (phase {run.phase})")
    failure: Optional[str] = None
    interrupted = False
    try:
        failure = _recover(ctx, plan, rows)
        for stepdef in plan:
            if failure is not None:
                break
            row = rows[stepdef.name]
            if row.status in DONE:
                continue
            if stepdef.cleanup and run.phase not in SUSPEND_WINDOW:
                _record_skip(row, "production was not suspended")
                continue
            if stopping.is_set() and run.phase not in SUSPEND_WINDOW:
                interrupted = True
                break
            if stepdef.applies(ctx.defs) and not allows(run.phase, stepdef.name):
                failure = f"{stepdef.name}: not allowed in phase {run.phase} (internal error: the run stops here)"
                break
            try:
                failure = _run_step(ctx, stepdef, row)
            except WorkerStopping:
                interrupted = True
                break
            if failure is not None and stepdef.never_twice:
                failure = _settle(ctx, stepdef, rows, failure)
    finally:
        # Production first: whatever happened above, an open suspend is closed now.
        resume_failure = _cleanup(ctx, rows)
        if resume_failure:
            failure = (failure + "; " if failure else "") + resume_failure
        ctx.flush()
    if interrupted and failure is None:
        _release(run)
        ctx.log("worker stopping: run left for another worker to continue")
        return "RUNNING"
    if failure is None:
        ctx.advance("done")
        return _close(run, "SUCCEEDED", "")
    state = "CANCELLED" if ctx.cancel.is_set() and run.cancel_requested else "FAILED"
    return _close(run, state, failure)


def _cleanup(ctx: RunContext, rows: dict) -> Optional[str]:
    """Run the cleanup step if production may still be suspended, and it has not failed already
    in this pass (its own retries are spent: the message says what to type on the console)."""
    row = rows[CLEANUP.name]
    if ctx.run.phase not in SUSPEND_WINDOW or row.status == "FAILED":
        return None
    return _run_step(ctx, CLEANUP, row, cleanup=True)


def _settle(ctx: RunContext, stepdef: StepDef, rows: dict, failure: str) -> Optional[str]:
    """A never-twice step failed (or its worker died while it ran): resume production first, then
    ask the device whether it happened after all. Returns the run's failure, or None if it did."""
    resume_failure = _cleanup(ctx, rows)
    row = rows[stepdef.name]
    try:
        confirmed = stepdef.confirm(ctx) if stepdef.confirm is not None else None
    except Flash4iError as exc:
        return f"{failure}; the storage cannot tell whether it happened: {exc}" + \
            (f"; {resume_failure}" if resume_failure else "")
    if confirmed is None or resume_failure:
        outcome = "" if resume_failure else "; production was resumed; no copy was made"
        return f"{failure}{outcome}" + (f"; {resume_failure}" if resume_failure else "")
    ended = utcnow()
    ctx.write(lambda: m.Step.update(status="OK", ended_at=ended, detail=confirmed[:4000]).where(
        m.Step.id == row.id).execute())
    row.status = "OK"
    # The steps before it in the window (the suspend) happened too, even if their records were
    # lost with the last worker: the storage's copy could only be taken after them.
    for before in (rows[s.name] for s in plan_for(ctx.defs) if s.inside_suspend and s is not stepdef):
        if before.status != "OK":
            ctx.write(lambda b=before: m.Step.update(status="OK", ended_at=ended, detail=(
                f"its record was lost with the last worker; {stepdef.name} confirms it ran")).where(
                m.Step.id == b.id).execute())
            before.status = "OK"
    ctx.advance("flash_confirmed", **({} if ctx.run.flash_time else {"flash_time": ended}))
    ctx.log(f"{stepdef.name} OK: {confirmed}{steps.mark_resumed(ctx)}")
    return None


def _step_rows(run: m.Run, plan) -> dict:
    """The run's step records, created PENDING up front so the whole plan shows at once."""
    existing = {s.name: s for s in m.Step.select().where(m.Step.run == run)}
    missing = [dict(run=run, seq=i, name=s.name, status="PENDING") for i, s in enumerate(plan)
               if s.name not in existing]
    if missing:
        with write_transaction():
            m.Step.insert_many(missing).execute()
        existing = {s.name: s for s in m.Step.select().where(m.Step.run == run)}
    return existing


def _run_step(ctx: RunContext, stepdef: StepDef, row: m.Step, cleanup: bool = False) -> Optional[str]:
    """Run one step and record it. Returns None on success, else the failure text."""
    defs = ctx.defs
    if not stepdef.applies(defs):
        _record_skip(row, stepdef.skip_reason(ctx.defs))
        return None
    bound = stepdef.bound(defs)
    started = utcnow()
    # Inside the suspend window this is kept for after the resume (ctx.write): the command
    # goes out first, whatever the store does.
    ctx.write(lambda: m.Step.update(status="RUNNING", started_at=started, ended_at=None, duration=None,
                                    bound_seconds=bound, progress=None, detail="").where(m.Step.id == row.id)
              .execute())
    ctx.update_run(current_step=stepdef.name)
    ctx.step = row
    ctx.deadline = time.monotonic() + bound
    t0 = time.monotonic()
    status, detail, failure = "OK", "", None
    saved_cancel = ctx.cancel
    if stepdef.cleanup:
        ctx.cancel = threading.Event()      # the resume is never cancelled
    ctx.abortable = stepdef.inside_suspend
    try:
        detail = stepdef.run(ctx) or ""
    except WorkerStopping:
        # Not a failure: the step is left to run again when another worker picks the run up.
        ctx.write(lambda: m.Step.update(status="PENDING", detail="interrupted: the worker stopped; the next worker "
                                                                 "runs it again").where(m.Step.id == row.id).execute())
        row.status = "PENDING"
        raise
    except RunCancelled as exc:
        status, failure = "FAILED", f"{stepdef.name}: {exc}"
        detail = str(exc)
    except Flash4iError as exc:
        status, failure = "FAILED", f"{stepdef.name}: {exc}"
        detail = str(exc)
    except Exception as exc:  # a bug must still end the run cleanly, with production resumed
        status, failure = "FAILED", f"{stepdef.name}: internal error {type(exc).__name__}: {exc}"
        detail = failure
        ctx.log(traceback.format_exc(), severity=40)
    finally:
        ctx.cancel = saved_cancel
        ctx.abortable = False
        ctx.step = None
        ctx.deadline = float("inf")
    if cleanup and status == "OK":
        detail = f"{detail} (on the way out after a failure)"
    ended, duration = utcnow(), time.monotonic() - t0
    ctx.write(lambda: m.Step.update(status=status, ended_at=ended, duration=duration, detail=detail[:4000])
              .where(m.Step.id == row.id).execute())
    row.status = status
    ctx.log(f"{stepdef.name} {status}: {detail}", severity=0 if status == "OK" else 40)
    if stepdef.cleanup and status == "OK":
        ctx.flush()          # production runs again: what the window kept goes to the store now
    return failure


def _record_skip(row: m.Step, why: str) -> None:
    now = utcnow()
    with write_transaction():
        m.Step.update(status="SKIPPED", started_at=now, ended_at=now, duration=0.0, detail=why).where(
            m.Step.id == row.id).execute()
    row.status = "SKIPPED"


def _recover(ctx: RunContext, plan, rows: dict) -> Optional[str]:
    """Make a picked-up run safe to continue; return a failure if it cannot continue.

    Inside the suspend window the records of the last worker may be missing (they are kept until
    the resume), so the phase alone decides: production is resumed first, then the storage is
    asked whether the flash happened. Never quiesce again: a second suspend of a production that
    an operator may already be looking at is not this worker's decision."""
    run = ctx.run
    for name, row in rows.items():
        if row.status == "RUNNING":
            # A step cut short by the worker's end is simply run again (all are re-entrant).
            with write_transaction():
                m.Step.update(status="PENDING", detail="interrupted by a worker restart; run again").where(
                    m.Step.id == row.id).execute()
            row.status = "PENDING"
    once = next(s for s in plan if s.never_twice)
    # Resumed, but the last worker died before it asked the storage about the flash.
    unsettled = run.phase == "RESUMED_NO_FLASH" and rows[once.name].status != "OK"
    if run.phase not in SUSPEND_WINDOW and not unsettled:
        return None
    failure = f"{once.name}: the worker stopped inside the suspend window"
    return _settle(ctx, once, rows, failure)


def _owned(run: m.Run):
    """The run's row, while this worker still owns it (a worker that lost its heartbeat never
    writes over the run's new owner)."""
    where = m.Run.id == run.id
    return where & (m.Run.worker == run.worker) if run.worker else where


def _release(run: m.Run) -> None:
    with write_transaction():
        m.Run.update(worker=None, heartbeat_at=None).where(_owned(run)).execute()


def _close(run: m.Run, state: str, message: str) -> str:
    ended = utcnow()
    started = run.started_at or ended
    with write_transaction():
        m.Run.update(state=state, ended_at=ended, duration=(ended - started).total_seconds(), message=message[:4000],
                     current_step=None, worker=None).where(_owned(run)).execute()
        release_locks(run)
    return state
