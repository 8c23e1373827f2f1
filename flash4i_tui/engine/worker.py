"""The worker: claims runs from the store and executes several at once.

Runs outlive terminals: they execute here, never in the panels' process. Claiming is a
compare-and-set UPDATE on the run row (state and owner in the WHERE clause), so several
workers on one host, or on several hosts sharing a PostgreSQL store, never execute the same
run twice. A worker keeps a heartbeat on its runs; a run whose heartbeat stops (its worker
died) is claimed again by any worker and continues safely (runner._recover).

SIGTERM or SIGINT: production is resumed wherever it is suspended, the runs are left for the
next worker, and the worker exits.

A failing store (locked, full, PostgreSQL gone) never ends a run thread: claim and heartbeat
errors are retried every poll. A worker whose heartbeats have failed for half of STALE_AFTER
stops its runs at their next safe point (production resumed), before another worker may take
them over; a store that stays down for STORE_OUTAGE ends the worker with a clear error.
"""
from __future__ import annotations

import os
import signal
import sys
import socket
import threading
import time
from datetime import timedelta
from typing import Callable, Dict, List, Optional, TypeVar

from ..store import models as m
from ..store.db import open_store, resolve_url, utcnow, write_transaction
from . import runner
from .launch import pidfile_of

HEARTBEAT = 5.0            # seconds between heartbeats of a worker's runs
STALE_AFTER = 60.0         # a run whose heartbeat is older than this has lost its worker
STORE_OUTAGE = 300.0       # seconds of a failing store after which the worker gives up

T = TypeVar("T")


def _touch(pidfile) -> None:
    """Say this worker is alive. Several workers may serve one store: one that exits removes the
    file if it holds its pid, and the others write theirs again (never crash on it)."""
    try:
        os.utime(pidfile)
    except FileNotFoundError:
        pidfile.write_text(f"{os.getpid()}\n")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(self, db_url: Optional[str] = None, concurrency: int = 4, poll: float = 1.0,
                 step_poll: Optional[float] = None, idle_exit: Optional[float] = None,
                 stale_after: float = STALE_AFTER, store_outage: float = STORE_OUTAGE):
        self.db_url = resolve_url(db_url)
        self.concurrency = concurrency
        self.poll = poll
        self.step_poll = step_poll
        self.idle_exit = idle_exit
        self.stale_after = stale_after
        self.store_outage = store_outage
        self.heartbeat = min(HEARTBEAT, stale_after / 4)   # several beats fit in one stale period
        self.ident = worker_id()
        self.stopping = threading.Event()
        self._threads: Dict[int, threading.Thread] = {}
        self._cancels: Dict[int, threading.Event] = {}
        self._stops: Dict[int, threading.Event] = {}      # one per run: this worker lets it go
        self._lock = threading.Lock()
        self.store_failing_since: Optional[float] = None
        self.last_beat_ok = time.monotonic()
        self.failure: Optional[str] = None                 # why serve() ended early, if it did

    # ---------------------------------------------------------------- claiming

    def claim(self, limit: int) -> List[int]:
        """Take up to LIMIT runs: queued ones, or ones whose worker died. Returns their ids.

        One write transaction for the batch: 32 runs queued at once start at once, instead of
        one per transaction while the runs already started contend for the store."""
        stale = utcnow() - timedelta(seconds=self.stale_after)
        taken: List[int] = []
        with write_transaction():
            # read them all first: a cursor left open across the updates is cut short (SQLite)
            candidates = list(m.Run.select(m.Run.id, m.Run.state).where(
                (m.Run.state == "QUEUED") |
                ((m.Run.state == "RUNNING") & (m.Run.heartbeat_at.is_null() | (m.Run.heartbeat_at < stale))))
                .order_by(m.Run.id).limit(limit))
            now = utcnow()
            for row in candidates:
                query = m.Run.update(state="RUNNING", worker=self.ident, heartbeat_at=now).where(m.Run.id == row.id)
                if row.state == "QUEUED":
                    query = query.where(m.Run.state == "QUEUED")
                else:
                    query = query.where((m.Run.state == "RUNNING") &
                                        (m.Run.heartbeat_at.is_null() | (m.Run.heartbeat_at < stale)))
                if query.execute() == 1:     # compare-and-set: another worker may have taken it
                    taken.append(row.id)
        return taken

    def _heartbeat(self) -> None:
        with self._lock:
            ids = list(self._threads)
        if ids:
            with write_transaction():
                m.Run.update(heartbeat_at=utcnow()).where(m.Run.id.in_(ids) & (m.Run.worker == self.ident)).execute()
            rows = list(m.Run.select(m.Run.id, m.Run.worker, m.Run.cancel_requested).where(m.Run.id.in_(ids)))
            with self._lock:
                for row in rows:
                    if row.cancel_requested and row.id in self._cancels:
                        self._cancels[row.id].set()
                    if row.worker not in (self.ident, None) and row.id in self._stops:
                        self._stops[row.id].set()       # another worker holds it now: let it go
        self.last_beat_ok = time.monotonic()

    def _store(self, what: str, call: Callable[[], T]) -> Optional[T]:
        """CALL, or None when the store fails (said once per outage, on stderr)."""
        try:
            result = call()
        except Exception as exc:   # peewee's errors differ per database: any store error counts
            if self.store_failing_since is None:
                self.store_failing_since = time.monotonic()
                print(f"flash4i worker: the store failed ({what}): {type(exc).__name__}: {exc}; retrying",
                      file=sys.stderr, flush=True)
            return None
        if self.store_failing_since is not None:
            print(f"flash4i worker: the store answers again after "
                  f"{time.monotonic() - self.store_failing_since:.0f}s", file=sys.stderr, flush=True)
            self.store_failing_since = None
        return result

    def _check_store_outage(self) -> None:
        """Let runs go before another worker could take them; give up after STORE_OUTAGE."""
        now = time.monotonic()
        with self._lock:
            busy = bool(self._threads)
        if busy and now - self.last_beat_ok > self.stale_after / 2 and not self.stopping.is_set():
            self.failure = (f"no heartbeat could be written for {now - self.last_beat_ok:.0f}s: "
                            "runs stopped at their next safe point")
            self.stopping.set()
        if self.store_failing_since is not None and now - self.store_failing_since > self.store_outage:
            self.failure = f"the store has failed for {now - self.store_failing_since:.0f}s"
            self.stopping.set()

    # ---------------------------------------------------------------- running

    def _execute(self, run_id: int) -> None:
        try:
            runner.execute(run_id, self._cancels[run_id], self._stops[run_id], poll=self.step_poll)
        except Exception as exc:    # the store failed past every retry: production came first
            print(f"flash4i worker: run {run_id} ended without its records: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)
        finally:
            with self._lock:
                self._threads.pop(run_id, None)
                self._cancels.pop(run_id, None)
                self._stops.pop(run_id, None)

    def start_run(self, run_id: int) -> None:
        # Not a daemon: the process never exits under a run that may hold production suspended.
        thread = threading.Thread(target=self._execute, args=(run_id,), name=f"run-{run_id}")
        with self._lock:
            self._cancels[run_id] = threading.Event()
            self._stops[run_id] = threading.Event()
            if self.stopping.is_set():
                self._stops[run_id].set()
            self._threads[run_id] = thread
        thread.start()

    def serve(self) -> int:
        """Claim and execute runs until stopped (or idle for idle_exit seconds)."""
        open_store(self.db_url)
        pidfile = pidfile_of(self.db_url)
        pidfile.write_text(f"{os.getpid()}\n")
        idle_since = time.monotonic()
        last_beat = 0.0
        try:
            while not self.stopping.is_set():
                with self._lock:
                    busy = len(self._threads)
                if busy < self.concurrency and not self.stopping.is_set():
                    for run_id in self._store("claim", lambda: self.claim(self.concurrency - busy)) or []:
                        self.start_run(run_id)
                        busy += 1
                if busy:
                    idle_since = time.monotonic()
                elif self.idle_exit is not None and time.monotonic() - idle_since > self.idle_exit:
                    break
                if time.monotonic() - last_beat >= self.heartbeat:
                    self._store("heartbeat", self._heartbeat)
                    last_beat = time.monotonic()
                    _touch(pidfile)
                self._check_store_outage()
                self.stopping.wait(self.poll)
        finally:
            self._shutdown()
            if pidfile.exists() and pidfile.read_text().strip() == str(os.getpid()):
                pidfile.unlink()
        if self.failure:
            print(f"flash4i worker: stopped: {self.failure}", file=sys.stderr, flush=True)
            return 1
        return 0

    def _shutdown(self) -> None:
        """Let every run reach a safe point (production resumed), then leave them for the next worker."""
        self.stopping.set()
        with self._lock:
            for stop in self._stops.values():
                stop.set()
        deadline = time.monotonic() + 600
        while True:
            with self._lock:
                threads = list(self._threads.values())
            if not threads or time.monotonic() > deadline:
                break
            for thread in threads:
                thread.join(timeout=1.0)
            self._store("heartbeat", self._heartbeat)

    def install_signal_handlers(self) -> None:
        def handler(signum, frame):
            self.stopping.set()
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
