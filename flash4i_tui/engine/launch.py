"""Starting a detached worker from the CLI or the panels (light: imports no driver).

One worker per store per host is enough (it runs several runs at once); a pid file in the
data folder tells whether it is alive.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from ..paths import data_dir
from ..store.db import resolve_url, redact_url


def pidfile_of(db_url: str) -> Path:
    digest = hashlib.sha256(redact_url(db_url).encode()).hexdigest()[:12]
    return data_dir() / f"worker-{digest}.pid"


def worker_alive(db_url: Optional[str] = None) -> Optional[int]:
    """The pid of a live worker for this store on this host, if any."""
    path = pidfile_of(resolve_url(db_url))
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def ensure_worker(db_url: Optional[str] = None, idle_exit: float = 600.0) -> Optional[int]:
    """Start a detached worker for this store unless one is alive. Returns the pid started, if any."""
    url = resolve_url(db_url)
    if worker_alive(url):
        return None
    log = data_dir() / "worker.log"
    with open(log, "a") as out:
        # The store URL goes in the environment, never on the command line: a PostgreSQL password
        # in it would show in `ps` to every user of the host.
        proc = subprocess.Popen(
            [sys.executable, "-m", "flash4i_tui", "worker", "--idle-exit", str(idle_exit)],
            env=dict(os.environ, FLASH4I_DB=url),
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True)
    # Wait briefly for its pid file so a second caller does not start another one.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and worker_alive(url) is None and proc.poll() is None:
        time.sleep(0.05)
    return proc.pid
