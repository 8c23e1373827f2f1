"""Panels under test: a SQLite store with fixed data, a frozen clock, UTC on the panels, no cursor blink."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, List

import pytest

from ..conftest import SAMPLE

NOW = datetime(2025, 6, 2, 0, 20, 0)          # naive UTC, as the store holds it
STEPS = ("CHECK", "STOP_CLONE", "PREPARE_FLASH", "WRITE_CLONE_ORDER", "QUIESCE", "FLASH", "RESUME",
         "START_CLONE", "FUNCTION", "COLLECT_LOGS", "FINISH")
# step durations in seconds of the finished NIGHTLY run (the suspended window is QUIESCE+FLASH+RESUME)
DURATIONS = (4.2, 61.0, 12.5, 1.1, 0.9, 0.31, 0.64, 412.0, 1805.0, 14.0, 22.0)
FIND_SEQ = 45                                   # the one QHST line that mentions CPI2417
QHST_LINES, JOBLOG_LINES, INTERNAL_LINES = 60, 25, 40


def _run(env, state: str, started: datetime, **kw):
    from flash4i_tui.config.store_io import environment_record
    from flash4i_tui.store import models as m
    return m.Run.create(environment=env, env_name=env.name, function=env.function, state=state,
                        requested_by="qsecofr", requested_at=started - timedelta(seconds=1), started_at=started,
                        snapshot=environment_record(env), **kw)


def _steps(run, started: datetime, statuses: List[str], progress_of_running: float = None) -> None:
    from flash4i_tui.store import models as m
    at = started
    for seq, (name, dur, status) in enumerate(zip(STEPS, DURATIONS, statuses), start=1):
        done = status in ("OK", "FAILED", "SKIPPED")
        m.Step.create(run=run, seq=seq, name=name, status=status,
                      started_at=at if status != "PENDING" else None,
                      ended_at=at + timedelta(seconds=dur) if done else None,
                      duration=dur if done else None, bound_seconds=3600.0,
                      progress=progress_of_running if status == "RUNNING" else (100.0 if done else None),
                      detail=f"{name.lower()} detail line 1\nline 2 of {name}")
        at += timedelta(seconds=dur)


def _logs(run) -> None:
    from flash4i_tui.store import models as m
    t0 = run.started_at
    rows = []
    for seq in range(1, QHST_LINES + 1):
        text = (f"Job {100000 + seq:06d}/QSECOFR/QPADEV{seq:04d} started on 06/01/25 at 00:{seq % 60:02d}:00 "
                f"in subsystem QINTER in QSYS.")
        msg = "CPF1124"
        if seq == FIND_SEQ:
            msg, text = "CPI2417", "Job message queue for 123456/QSYS/QBRMS has been wrapped."
        rows.append(dict(run=run, kind="QHST", seq=seq, logged_at=t0 + timedelta(seconds=seq), msg_id=msg,
                         severity=0, source="QSYSARB", text=text))
    for seq in range(1, JOBLOG_LINES + 1):
        rows.append(dict(run=run, kind="JOBLOG", seq=seq, logged_at=t0 + timedelta(seconds=600 + seq),
                         msg_id="BRM1820" if seq % 5 else "CPF3741", severity=0 if seq % 5 else 40,
                         source="STRBKUBRM", text=f"Control group DAILY step {seq} completed."))
    for seq in range(1, INTERNAL_LINES + 1):
        rows.append(dict(run=run, kind="INTERNAL", seq=seq, logged_at=t0 + timedelta(seconds=seq * 3),
                         msg_id="", severity=0, source=STEPS[seq % len(STEPS)],
                         text=f"{STEPS[seq % len(STEPS)]}: event {seq}"))
    for seq in range(1, 11):
        rows.append(dict(run=run, kind="AGENT", seq=seq, logged_at=t0 + timedelta(seconds=900 + seq),
                         msg_id="", severity=0, source="FLASH4IAGT", text=f"agent: clone order check {seq}"))
    m.LogEntry.insert_many(rows).execute()


def fill_store() -> None:
    """The sample configuration plus four runs: NIGHTLY done and running, TESTCOPY failed, RCVPNT done."""
    from flash4i_tui.config.store_io import import_config, load_config_file
    from flash4i_tui.engine.queue import submit_run
    from flash4i_tui.store import models as m
    from flash4i_tui.store import queries
    from flash4i_tui.store.db import write_transaction

    import_config(load_config_file(SAMPLE))
    nightly, testcopy, rcvpnt = (queries.environment(n) for n in ("NIGHTLY", "TESTCOPY", "RCVPNT"))
    with write_transaction():
        t1 = datetime(2025, 6, 1, 0, 0, 0)
        done = _run(nightly, "SUCCEEDED", t1, ended_at=t1 + timedelta(seconds=sum(DURATIONS)),
                    duration=sum(DURATIONS), suspend_started_at=t1 + timedelta(seconds=78.8),
                    suspend_ended_at=t1 + timedelta(seconds=80.64), suspended_seconds=1.84,
                    space_used_bytes=13207024435, phase="DONE", message="")
        _steps(done, t1, ["OK"] * len(STEPS))
        _logs(done)
        t2 = datetime(2025, 6, 1, 5, 30, 0)
        failed = _run(testcopy, "FAILED", t2, ended_at=t2 + timedelta(seconds=492), duration=492.0,
                      suspended_seconds=2.1, suspend_started_at=t2 + timedelta(seconds=79),
                      suspend_ended_at=t2 + timedelta(seconds=81.1), space_used_bytes=2 * 1024 ** 3,
                      message="START_CLONE: IPL stopped at reference code A6005008")
        _steps(failed, t2, ["OK"] * 7 + ["FAILED"] + ["SKIPPED"] * 3)
        t3 = datetime(2025, 6, 1, 7, 0, 0)
        _run(rcvpnt, "SUCCEEDED", t3, ended_at=t3 + timedelta(seconds=95), duration=95.0, suspended_seconds=0.72,
             space_used_bytes=512 * 1024 ** 2)
    live = submit_run("NIGHTLY", "qsecofr")          # the live run holds its locks, as a real one does
    t4 = datetime(2025, 6, 2, 0, 0, 0)
    with write_transaction():
        m.Run.update(state="RUNNING", started_at=t4, current_step="FUNCTION", requested_at=t4,
                     suspend_started_at=t4 + timedelta(seconds=78.8), suspend_ended_at=t4 + timedelta(seconds=80.4),
                     suspended_seconds=1.6).where(m.Run.id == live.id).execute()
        _steps(m.Run.get_by_id(live.id), t4, ["OK"] * 8 + ["RUNNING", "PENDING", "PENDING"], 42.0)


@pytest.fixture
def tui_url(tmp_path) -> str:
    from flash4i_tui.store import database, open_store
    url = f"sqlite:///{tmp_path / 'panels.db'}"
    open_store(url)
    fill_store()
    yield url
    if database.obj is not None and not database.obj.is_closed():
        database.obj.close()


@pytest.fixture(autouse=True)
def _no_blink(monkeypatch):
    """A blinking cursor makes screenshots differ from one run to the next."""
    from textual.widgets import Input
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setenv("FLASH4I_TZ", "UTC")     # schedules due in a fixed zone, whatever the host's


class Started:
    """An ensure_worker hook that records its calls instead of starting a process."""

    def __init__(self):
        self.calls: List[str] = []

    def __call__(self, db_url):
        self.calls.append(db_url)


@pytest.fixture
def worker_hook() -> Started:
    return Started()


@pytest.fixture
def make_app(tui_url, tmp_path, worker_hook) -> Callable:
    from screens.app import Flash4iApp

    def factory(start: str = None, **kw):
        kw.setdefault("keymap_file", tmp_path / "no-keymap.yaml")
        kw.setdefault("ensure_worker", worker_hook)
        return Flash4iApp(tui_url, start, system_name="FLASH4I", clock=lambda: NOW, tz=timezone.utc, **kw)
    return factory


def screen_lines(app) -> List[str]:
    """The screen as text, one string per terminal line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def settle(pilot, rounds: int = 5) -> None:
    """Let the thread workers finish and their results reach the panel (a result may start another)."""
    from textual.worker import WorkerState
    for _ in range(rounds):
        await pilot.pause()
        busy = [w for w in pilot.app.workers if w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        if not busy:
            return
        await pilot.app.workers.wait_for_complete(busy)


def wait_until(check: Callable[[], Any], timeout: float, what: str, poll: float = 0.2) -> Any:
    """CHECK()'s first true value, polled every POLL seconds; an AssertionError naming WHAT after TIMEOUT
    (for what the test cannot be told of: another process, a real terminal, a browser)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(poll)


async def until(pilot, check: Callable[[], Any], what: str, timeout: float = 20.0, poll: float = 0.05) -> Any:
    """The app's own wait_until: let it run (workers, timers) until CHECK() holds, at most TIMEOUT seconds.
    For what only time brings (a poller's next round, a process of its own); a result of the panels'
    own work is better waited for with `Watch.work_ended`."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await pilot.pause(poll)


class Watch:
    """The messages the app dispatches (`app.run_test(message_hook=watch)`), to wait for the result of a
    panel's store work (screens.workers.WorkDone / WorkFailed) instead of sleeping."""

    def __init__(self):
        self.seen: List[Any] = []

    def __call__(self, message) -> None:
        self.seen.append(message)

    def done(self, description: str, result: Callable[[Any], bool]) -> List[Any]:
        from screens.workers import WorkDone
        return [m for m in list(self.seen) if isinstance(m, WorkDone) and m.description == description
                and result(m.result)]

    async def work_done(self, pilot, description: str, result: Callable[[Any], bool] = lambda _: True,
                        timeout: float = 10.0) -> Any:
        """The first WorkDone of DESCRIPTION (`RunPanel:poll`) whose result satisfies RESULT, once the
        panel has handled it; an AssertionError that says which work did end after TIMEOUT."""
        deadline = time.monotonic() + timeout
        while not self.done(description, result):
            if time.monotonic() > deadline:
                ended = sorted({getattr(m, "description", "") for m in list(self.seen)} - {""})
                raise AssertionError(f"no {description!r} work with the result awaited ended within "
                                     f"{timeout:g}s (work that ended: {ended})")
            await pilot.pause(0.01)
        await settle(pilot)
        return self.done(description, result)[0]


def line_of(app, text: str) -> int:
    """The 1-based screen line that holds TEXT (0 when it is not on the screen)."""
    for i, line in enumerate(screen_lines(app), start=1):
        if text in line:
            return i
    return 0


def repo_path(*parts: str) -> Path:
    return Path(__file__).resolve().parents[2].joinpath(*parts)
