"""The worker: claims runs from the store and executes several at once.

Runs outlive terminals: they execute here, never in the panels' process. Claiming is a
compare-and-set UPDATE on the run row (state and owner in the WHERE clause), so several
workers on one host, or on several hosts sharing a PostgreSQL store, never execute the same
run twice. A worker keeps a heartbeat on its runs; a run whose heartbeat stops (its worker
died) is claimed again by any worker and continues safely (runner._recover).

SIGTERM or SIGINT: production is resumed wherever it is suspended, the runs are left for the
next worker, and the worker exits.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
from datetime import timedelta
from typing import Dict, Optional

from ..store import models as m
from ..store.db import open_store, resolve_url, utcnow, write_transaction
from . import runner
from .launch import pidfile_of

HEARTBEAT = 5.0            # seconds between heartbeats of a worker's runs
STALE_AFTER = 60.0         # a run whose heartbeat is older than this has lost its worker


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(self, db_url: Optional[str] = None, concurrency: int = 4, poll: float = 1.0,
                 step_poll: Optional[float] = None, idle_exit: Optional[float] = None,
                 stale_after: float = STALE_AFTER):
        self.db_url = resolve_url(db_url)
        self.concurrency = concurrency
        self.poll = poll
        self.step_poll = step_poll
        self.idle_exit = idle_exit
        self.stale_after = stale_after
        self.ident = worker_id()
        self.stopping = threading.Event()
        self._threads: Dict[int, threading.Thread] = {}
        self._cancels: Dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- claiming

    def claim(self) -> Optional[int]:
        """Take one queued run, or one whose worker died. Returns its id, or None."""
        stale = utcnow() - timedelta(seconds=self.stale_after)
        candidates = (m.Run.select(m.Run.id, m.Run.state).where(
            (m.Run.state == "QUEUED") |
            ((m.Run.state == "RUNNING") & (m.Run.heartbeat_at.is_null() | (m.Run.heartbeat_at < stale))))
            .order_by(m.Run.id).limit(10))
        for row in candidates:
            with write_transaction():
                now = utcnow()
                query = m.Run.update(state="RUNNING", worker=self.ident, heartbeat_at=now).where(m.Run.id == row.id)
                if row.state == "QUEUED":
                    query = query.where(m.Run.state == "QUEUED")
                else:
                    query = query.where((m.Run.state == "RUNNING") &
                                        (m.Run.heartbeat_at.is_null() | (m.Run.heartbeat_at < stale)))
                if query.execute() == 1:
                    return row.id
        return None

    def _heartbeat(self) -> None:
        with self._lock:
            ids = list(self._threads)
        if ids:
            with write_transaction():
                m.Run.update(heartbeat_at=utcnow()).where(m.Run.id.in_(ids) & (m.Run.worker == self.ident)).execute()
            cancelled = {r.id for r in m.Run.select(m.Run.id).where(m.Run.id.in_(ids) & m.Run.cancel_requested)}
            for run_id in cancelled:
                self._cancels[run_id].set()

    # ---------------------------------------------------------------- running

    def _execute(self, run_id: int) -> None:
        try:
            runner.execute(run_id, self._cancels[run_id], self.stopping, poll=self.step_poll)
        finally:
            with self._lock:
                self._threads.pop(run_id, None)
                self._cancels.pop(run_id, None)

    def start_run(self, run_id: int) -> None:
        cancel = threading.Event()
        thread = threading.Thread(target=self._execute, args=(run_id,), name=f"run-{run_id}", daemon=True)
        with self._lock:
            self._cancels[run_id] = cancel
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
                while busy < self.concurrency and not self.stopping.is_set():
                    run_id = self.claim()
                    if run_id is None:
                        break
                    self.start_run(run_id)
                    busy += 1
                if busy:
                    idle_since = time.monotonic()
                elif self.idle_exit is not None and time.monotonic() - idle_since > self.idle_exit:
                    break
                if time.monotonic() - last_beat >= HEARTBEAT:
                    self._heartbeat()
                    last_beat = time.monotonic()
                    os.utime(pidfile)
                self.stopping.wait(self.poll)
        finally:
            self._shutdown()
            if pidfile.exists() and pidfile.read_text().strip() == str(os.getpid()):
                pidfile.unlink()
        return 0

    def _shutdown(self) -> None:
        """Let every run reach a safe point (production resumed), then leave them for the next worker."""
        self.stopping.set()
        deadline = time.monotonic() + 600
        while True:
            with self._lock:
                threads = list(self._threads.values())
            if not threads or time.monotonic() > deadline:
                break
            for thread in threads:
                thread.join(timeout=1.0)
            self._heartbeat()

    def install_signal_handlers(self) -> None:
        def handler(signum, frame):
            self.stopping.set()
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
