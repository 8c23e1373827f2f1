"""The panels in a real terminal: `python -m flash4i_tui` inside tmux (80x24, xterm-256color).

Keys go in with `tmux send-keys` and the screen comes back with `capture-pane`, so this is
what an operator over SSH sees, escape sequences and all.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .conftest import fill_store, repo_path, wait_until

pytestmark = pytest.mark.tui

TMUX = shutil.which("tmux")


class Tmux:
    def __init__(self, socket: str):
        self.socket = socket

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check,
                              timeout=10)

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "panels", check=False).stdout

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        def shown() -> str:
            screen = self.screen()
            return screen if text in screen else ""
        try:
            return wait_until(shown, timeout, f"{text!r} in the terminal", poll=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen was:\n{self.screen()}") from None

    def alive(self) -> bool:
        return self("has-session", "-t", "panels", check=False).returncode == 0

    def close(self) -> None:
        """Stop the server and remove its socket file (tmux leaves it behind)."""
        self("kill-server", check=False)
        socket_file(self.socket).unlink(missing_ok=True)


def socket_file(name: str) -> Path:
    return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / name


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_panels_in_a_real_terminal(tmp_path):
    from flash4i_tui.store import database, open_store
    url = f"sqlite:///{tmp_path / 'tmux.db'}"
    open_store(url)
    fill_store()
    database.obj.close()
    conf = tmp_path / "tmux.conf"
    conf.write_text('set -g default-terminal "xterm-256color"\nset -sg escape-time 10\n')
    env = dict(os.environ, TERM="xterm-256color", FLASH4I_HOME=str(tmp_path / "home"),
               FLASH4I_SYSTEM_NAME="TMUXTEST", PYTHONPATH=str(repo_path()))
    command = f"{sys.executable} -m flash4i_tui --db {url}"
    tmux = Tmux(f"flash4i-test-{uuid.uuid4().hex[:8]}")
    try:
        subprocess.run(["tmux", "-L", tmux.socket, "-f", str(conf), "new-session", "-d", "-s", "panels",
                        "-x", "80", "-y", "24", command], env=env, cwd=repo_path(), check=True, timeout=10)
        screen = tmux.wait_for("Work with Environments")
        first = screen.splitlines()[0]
        assert first.rstrip().endswith("TMUXTEST") and len(screen.splitlines()[0]) <= 80
        tmux.wait_for("NIGHTLY")
        tmux("send-keys", "-t", "panels", "5")                 # 5=Display on the first line (NIGHTLY)
        tmux("send-keys", "-t", "panels", "Enter")
        screen = tmux.wait_for("Display Environment")
        assert "FL_NIGHTLY" in tmux.wait_for("FL_NIGHTLY")
        lines = screen.splitlines()
        assert lines[0].strip().startswith("Display Environment")
        tmux("send-keys", "-t", "panels", "F3")                 # back to the list
        tmux.wait_for("Type options, press Enter.")
        tmux("send-keys", "-t", "panels", "S-F6")               # F18 = Bottom, as xterm sends Shift+F6
        tmux.wait_for("Bottom")
        tmux("send-keys", "-t", "panels", "F3")                 # exit
        wait_until(lambda: not tmux.alive(), 10, "the panels to end after F3", poll=0.1)
    finally:
        tmux.close()
