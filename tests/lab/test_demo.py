"""`flash4i demo --storage FAMILY --no-tui`: the lab in the background and a demo store for each
shipped datacenter, a *NONE run on it through the real CLI, then `--stop`."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.lab


def flash4i(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flash4i_tui", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("storage, env_name", [("svc", "RCVPNT"), ("ds8000", None), ("powermax", None)])
def test_demo_of_each_storage_family_runs_a_flash(tmp_path, storage, env_name):
    env = dict(os.environ, FLASH4I_HOME=str(tmp_path / "home"))
    env.pop("FLASH4I_DB", None)
    started = flash4i(env, "demo", "--storage", storage, "--no-tui")
    try:
        assert started.returncode == 0, started.stderr
        db = started.stdout.split("demo store ", 1)[1].split(";", 1)[0]
        if storage != "svc":        # a REST array's password: in the lab's 0600 file, as the demo says
            env_file = started.stdout.split("another shell: . ", 1)[1].split()[0]
            assert oct(os.stat(env_file).st_mode & 0o777) == "0o600"
            env.update(line[len("export "):].replace("'", "").split("=", 1)
                       for line in open(env_file).read().splitlines())
        assert db.endswith("demo.db" if storage == "svc" else f"demo-{storage}.db"), started.stdout
        listed = json.loads(flash4i(env, "--db", db, "env", "list", "--json").stdout)
        assert listed, "the demo store holds no environment"
        name = env_name or next(e["name"] for e in listed if e["function"] == "*NONE")
        ran = flash4i(env, "--db", db, "start", name, "--wait", "--timeout", "300", timeout=330)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        history = json.loads(flash4i(env, "--db", db, "history", "--json", "--limit", "1").stdout)
        assert history[0]["state"] == "SUCCEEDED" and history[0]["environment"] == name, history
    finally:
        stopped = flash4i(env, "demo", "--storage", storage, "--stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
