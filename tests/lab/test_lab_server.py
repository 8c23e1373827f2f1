"""`flash4i lab` as a process: endpoints up within 5 s, the written configuration imports as is,
the OpenSSH client works with the lab's known_hosts and key, the control API and live fault rules."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from flash4i_tui.config.schema import validate
from flash4i_tui.config.yamlsrc import load_yaml

from ..conftest import REPO

pytestmark = pytest.mark.lab


@pytest.fixture
def lab_process(tmp_path):
    env = dict(os.environ, FLASH4I_HOME=str(tmp_path / "home"))
    faults = tmp_path / "faults.yaml"
    faults.write_text("[]\n")
    config = tmp_path / "lab.yaml"
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "flash4i_tui", "lab", "--speed", "600", "--write-config",
                             str(config), "--faults", str(faults)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    info_path = tmp_path / "home" / "lab" / "lab.json"
    while not info_path.exists() and time.monotonic() - started < 30 and proc.poll() is None:
        time.sleep(0.05)
    up_after = time.monotonic() - started
    yield proc, json.loads(info_path.read_text()), config, faults, up_after, env
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)


def ssh(info: dict, port: int, user: str, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-p", str(port), "-o", f"UserKnownHostsFile={info['known_hosts']}",
                           "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-i", info["client_key"],
                           f"{user}@127.0.0.1", command], capture_output=True, text=True, timeout=30)


def test_lab_comes_up_and_serves_every_endpoint(lab_process):
    proc, info, config, _, up_after, _ = lab_process
    assert up_after < 5.0, f"the lab took {up_after:.1f}s to bring its endpoints up"
    out = ssh(info, info["hmcs"]["HMC1"], "hscroot", "lssyscfg -r lpar -m P10-PROD -F name,state")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["VIOS1,Running", "PROD,Running", "CLONE1,Not Activated",
                                       "CLONE2,Not Activated", "CLONE3,Not Activated"]
    out = ssh(info, info["storage"]["FS9500"], "flash4i", "lsvdisk -delim ! -filtervalue name=PROD_001")
    assert out.returncode == 0 and out.stdout.splitlines()[0].startswith("id!name!")
    out = ssh(info, info["ibmi"]["10.10.1.10"], "FLASH4I",
              "/QOpenSys/usr/bin/system 'CHKOBJ OBJ(QSYS/NOSUCH) OBJTYPE(*PGM)'")
    assert out.returncode == 255 and out.stderr.startswith("CPF9801")
    # Nobody has the clone's address active yet: the connection is refused.
    assert ssh(info, info["ibmi"]["10.10.1.50"], "FLASH4I", "uname").returncode == 255
    # The configuration it wrote is valid as is, with one environment per function.
    cfg = validate(load_yaml(config.read_text(), str(config)))
    assert sorted(e["function"] for e in cfg["environments"]) == ["*BRMS", "*NONE", "*SAVE21", "*USER"]
    assert oct(config.stat().st_mode & 0o777) == "0o600"


def test_control_api_and_live_fault_rules(lab_process):
    proc, info, _, faults, _, env = lab_process
    run = lambda *a: subprocess.run([sys.executable, "-m", "flash4i_tui", "labctl", *a], cwd=REPO,  # noqa: E731
                                    env=env, capture_output=True, text=True, timeout=30)
    out = run("conflicts")
    assert out.returncode == 0 and out.stdout.strip().endswith("0 conflicts")
    state = json.loads(run("state").stdout)
    assert {lp["name"]: lp["state"] for lp in state["lpars"]}["PROD"] == "Running"
    # A fault rule written to the watched file applies while the lab runs.
    faults.write_text(yaml.safe_dump([{"device": "hmc", "match": "lssyscfg", "action": "fail",
                                       "message": "HSCL3205 The managed system is busy."}]))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = ssh(info, info["hmcs"]["HMC1"], "hscroot", "lssyscfg -r sys -F name")
        if out.returncode != 0:
            break
        time.sleep(0.2)
    assert out.returncode != 0 and "HSCL3205" in out.stdout
    assert run("clear-faults").returncode == 0
    assert ssh(info, info["hmcs"]["HMC1"], "hscroot", "lssyscfg -r sys -F name").stdout.strip() == "P10-PROD"
