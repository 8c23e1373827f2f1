"""A password planted through `password_env` appears nowhere: not in the store's files, the data
folder (worker log, pid files), `config export`, any `--json` output, or the command line of any
process while a run goes on; and the store URL (which may hold a PostgreSQL password) is never
put on a worker's command line."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from flash4i_tui.engine import launch
from flash4i_tui.lab.server import Lab, load_topology

from .conftest import LAB_SPEED

pytestmark = pytest.mark.lab



def _cli(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flash4i_tui", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def _command_lines() -> list:
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return lines


class CommandLineWatch(threading.Thread):
    """Reads every process's command line until stopped; remembers any that holds NEEDLE."""

    def __init__(self, needle: str):
        super().__init__(daemon=True)
        self.needle, self.seen, self.looks = needle, [], 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.seen += [line for line in _command_lines() if self.needle in line]
            self.looks += 1
            self.done.wait(0.05)


def _files_holding(root: Path, needle: bytes, skip: Path) -> list:
    return [str(p) for p in root.rglob("*") if p.is_file() and skip not in p.parents and needle in p.read_bytes()]


def test_a_planted_password_appears_nowhere(tmp_path):
    password = f"Planted-{uuid.uuid4().hex}"
    topo = load_topology(storage="ds8000")
    array = topo["storage"][0]
    user = next(iter(array["users"]))
    array["users"] = {user: password}
    lab = Lab(topo, tmp_path / "lab", speed=LAB_SPEED).start()
    try:
        env = dict(os.environ, FLASH4I_HOME=str(tmp_path / "home"), FLASH4I_DB=f"sqlite:///{tmp_path / 'store.db'}",
                   **lab.passwords())
        assert password in lab.passwords().values()
        config = lab.write_config(tmp_path / "lab.yaml")
        assert password.encode() not in config.read_bytes()           # the YAML names the variable only
        assert _cli("config", "import", str(config), env=env).returncode == 0
        watch = CommandLineWatch(password)
        watch.start()
        started = _cli("start", "DSRCV", "--wait", "--json", env=env)
        watch.done.set()
        watch.join(5)
        assert started.returncode == 0, started.stdout + started.stderr
        assert watch.looks > 5 and watch.seen == [], watch.seen
        outputs = [started.stdout, started.stderr]
        for args in (("config", "export"), ("status", "--json"), ("history", "--json"), ("env", "list", "--json"),
                     ("env", "show", "DSRCV", "--json"), ("plan", "DSRCV", "--json"), ("schedule", "list", "--json"),
                     ("check", "DSRCV")):
            done = _cli(*args, env=env)
            assert done.returncode in (0, 1), (args, done.stdout, done.stderr)
            outputs += [done.stdout, done.stderr]
        assert not [text for text in outputs if password in text]
        # The store (with its WAL), the data folder: nothing under tmp_path but the lab's own files.
        assert _files_holding(tmp_path, password.encode(), skip=tmp_path / "lab") == []
        assert (tmp_path / "home" / "worker.log").exists()
    finally:
        for pidfile in (tmp_path / "home").glob("worker-*.pid"):
            try:
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        lab.stop()


def test_the_store_url_never_goes_on_a_workers_command_line(tmp_path, monkeypatch):
    """With a PostgreSQL URL holding a password, the worker ensure_worker() starts gets the URL in
    its environment (readable by its owner only), not in its argv (readable by every user)."""
    url = "postgresql://flash4i:Planted-url-secret@127.0.0.1:1/flash4i"
    started = {}

    class Popen:
        def __init__(self, argv, env=None, **kwargs):
            started.update(argv=argv, env=env)
            self.pid = 0

        def poll(self):
            return 1
    monkeypatch.setenv("FLASH4I_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(launch.subprocess, "Popen", Popen)
    launch.ensure_worker(url)
    assert not any("Planted-url-secret" in a for a in started["argv"]), started["argv"]
    assert started["env"]["FLASH4I_DB"] == url
    assert "Planted-url-secret" not in launch.pidfile_of(url).name


def test_a_real_worker_on_postgresql_keeps_the_password_off_its_command_line(pg_url, tmp_path):
    """CI's throw-away cluster trusts loopback, so a password in the URL is accepted and unused."""
    scheme, rest = pg_url.split("://", 1)
    user, host = rest.split("@", 1)
    url = f"{scheme}://{user.split(':')[0]}:Planted-pg-secret@{host}"
    env = dict(os.environ, FLASH4I_HOME=str(tmp_path / "home"))
    old = dict(os.environ)
    os.environ.update(env)
    try:
        launch.ensure_worker(url, idle_exit=30)
        pid = launch.worker_alive(url)
        assert pid, (tmp_path / "home" / "worker.log").read_text()
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            assert b"Planted-pg-secret" not in cmdline and b"postgresql://" not in cmdline, cmdline
            deadline = time.monotonic() + 10
            while b"serving" not in (tmp_path / "home" / "worker.log").read_bytes() and time.monotonic() < deadline:
                time.sleep(0.05)
            log = (tmp_path / "home" / "worker.log").read_bytes()
            assert b"serving postgresql://" in log and b"Planted-pg-secret" not in log, log
        finally:
            os.kill(pid, signal.SIGTERM)
    finally:
        os.environ.clear()
        os.environ.update(old)
