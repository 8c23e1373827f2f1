"""The functions that run on the clone (*BRMS, *SAVE21, *USER), end to end on the lab: the agent
installed on production, real runs through the engine, the clone's logs brought back."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from typing import Optional

import pytest

from flash4i_tui.agent import flash4i_agent as agent
from flash4i_tui.engine import plan
from flash4i_tui.engine.agentctl import install_agent
from flash4i_tui.engine.functions import logs_folder
from flash4i_tui.engine.order import order_path, resumed_path
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.store import models as m

from .conftest import ibmi_state, lpar, run_now, steps_of

pytestmark = pytest.mark.lab
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# What a run never changes on production, as it is once the agent is installed.
UNCHANGED = ("FLASH4I/FLSTRUP", [("DAYEND", "SCD"), ("PURGE", "SCD")], "PROD")


def what_runs_never_change(state) -> tuple:
    return state.system_values["QSTRUPPGM"], [(e.name, e.status) for e in state.schedule], state.sysname


@pytest.fixture
def prod(lab, lab_store):
    """Production's on-disk state, with the agent installed (QSTRUPPGM is the wrapper from now on)."""
    install_agent("PROD")
    state = ibmi_state(lab, "PROD")
    assert what_runs_never_change(state) == UNCHANGED          # before the run
    return state


def production_untouched(lab, prod) -> None:
    assert lab.world.conflicts == []                 # no clone started production's address or name
    assert what_runs_never_change(prod) == UNCHANGED             # after the run
    assert lab.world.network.owner("10.10.1.10").state is prod


def running_clone(lab, name: str):
    return ibmi_state(lab, name).runtime


def disk_of(lab, volume: str):
    return lab.world.arrays["FS9500"].volume(volume).content.state


def logs_of(run: m.Run, kind: str) -> list:
    return list(m.LogEntry.select().where((m.LogEntry.run == run.id) & (m.LogEntry.kind == kind))
                .order_by(m.LogEntry.seq))


def set_env(name: str, **fields) -> None:
    m.Environment.update(**fields).where(m.Environment.name == name).execute()


def old_run(env: str, days: int) -> m.Run:
    """A run of ENV that ended DAYS ago, with a line of clone history log."""
    ended = datetime.utcnow() - timedelta(days=days)
    run = m.Run.create(env_name=env, function="*BRMS", state="SUCCEEDED", started_at=ended, ended_at=ended)
    m.LogEntry.create(run=run, kind="QHST", seq=0, text="an old line")
    return run


# ---------------------------------------------------------------- the functions


def test_brms_puts_the_clones_backups_in_productions_history(lab, prod):
    old, kept = old_run("NIGHTLY", days=40), old_run("NIGHTLY", days=5)   # log_retention_days is 30
    for earlier in (old, kept):
        prod.ifs.make_dirs(logs_folder(earlier.id))
        prod.ifs.write(logs_folder(earlier.id) + "/qhst.txt", b"old\n")
    run = run_now("NIGHTLY")
    assert run.state == "SUCCEEDED", run.message
    steps = steps_of(run)
    assert "purged 1 log lines and 1 folders" in steps["COLLECT_LOGS"].detail
    assert not logs_of(old, "QHST") and logs_of(kept, "QHST")
    assert not prod.ifs.exists(logs_folder(old.id)) and prod.ifs.exists(logs_folder(kept.id))
    assert "INZBRM *ENDPRC" in steps["FUNCTION"].detail and "CLONE1 stopped" in steps["FINISH"].detail
    flashed = [h for h in prod.brms.history if h.flashcopy]
    assert sorted({h.control_group for h in flashed}) == ["DAILY", "IFSBKU"]
    assert {h.system_name for h in flashed} == {"PROD"}                  # as if made on production
    assert all(h.job.endswith("/QPGMR/FLASH4IFN") for h in flashed)       # by the clone's function job
    assert prod.brms.flashcopy_state == "*ENDPRC"
    clone_disk = disk_of(lab, "CLN1_001")                                # the clone, stopped after the run
    assert clone_disk.sysname == "CLONE1" and set(clone_disk.interfaces) == {"10.10.1.50"}
    assert [e.status for e in clone_disk.schedule] == ["HLD", "HLD"]
    for kind in ("QHST", "JOBLOG", "AGENT"):
        assert logs_of(run, kind), kind
    assert any(e.msg_id == "BRM15A2" for e in logs_of(run, "JOBLOG"))
    folder = prod.ifs.list_dir(logs_folder(run.id))
    assert folder == ["agent.log", "joblog.txt", "qhst.txt"]
    assert b"STRBKUBRM CTLGRP(DAILY)" in prod.ifs.read(logs_folder(run.id) + "/agent.log")
    production_untouched(lab, prod)


def test_save21_saves_as_production_in_restricted_state_and_brings_its_joblog_back(lab, prod):
    run = run_now("SUNDAY21")
    assert run.state == "SUCCEEDED", run.message
    clone_disk = disk_of(lab, "CLN1_001")
    saves = {s.command: s for s in clone_disk.saves}
    assert {"SAVSYS", "SAVLIB", "SAVDLO", "SAV"} <= set(saves)
    assert saves["SAVSYS"].restricted and saves["SAVLIB"].restricted
    renamed = next(msg.at for msg in clone_disk.qhst if msg.msg_id == "CPI0994")     # CHGNETA on the clone
    assert all(s.at < renamed for s in saves.values())                # saved before the name changed
    joblog = logs_of(run, "JOBLOG")
    assert any(e.text.startswith("SAVSYS DEV(TAP01)") for e in joblog)
    assert any(e.msg_id == "CPC3701" for e in joblog)
    assert clone_disk.sysname == "CLONE1"
    production_untouched(lab, prod)


def test_user_commands_run_on_the_clone_not_on_production(lab, prod):
    run = run_now("TESTCOPY")
    assert run.state == "SUCCEEDED", run.message
    clone = running_clone(lab, "CLONE2")                  # TESTCOPY leaves its clone running
    assert clone.state.libraries["APPDTA"].get("ENVIRON", "*DTAARA").value == "TEST"
    assert clone.state.libraries["APPDTA"].get("CUSTEMAIL", "*FILE").records == 0
    assert prod.libraries["APPDTA"].get("ENVIRON", "*DTAARA").value == "PROD"
    assert prod.libraries["APPDTA"].get("CUSTEMAIL", "*FILE").records == 98000
    status = json.loads(clone.state.ifs.read(f"{agent.STATUS}/run{run.id}.json"))
    assert [(c["command"], c["ok"]) for c in status["commands"]] == [
        ("CLRPFM FILE(APPDTA/CUSTEMAIL)", True), ("CHGDTAARA DTAARA(APPDTA/ENVIRON) VALUE('TEST')", True)]
    assert clone.state.sysname == "TESTSYS" and clone.interfaces == {"10.10.1.60": "ACTIVE"}
    assert set(clone.subsystems) == {"QCTL", "QSYSWRK", "QUSRWRK"}           # not QBATCH
    assert any("CLRPFM FILE(APPDTA/CUSTEMAIL)" in e.text for e in logs_of(run, "JOBLOG"))
    production_untouched(lab, prod)


def test_the_clone_proves_its_copy_was_taken_in_the_window(lab, prod):
    run = run_now("TESTCOPY")
    assert run.state == "SUCCEEDED", run.message
    assert run.proven is True, run.proof
    assert run.proof == {"resumed_marker": True, "clone": {"copy": "in_window", "previous_end": "normal"}}
    assert prod_suspended_ever(lab)
    # production holds the run's resumed marker; the copy the clone booted from does not
    clone_id = m.Partition.get(m.Partition.name == "CLONE2").lpar_id
    marker = resumed_path(clone_id)
    assert json.loads(prod.ifs.read(marker))["run_id"] == run.id
    assert not running_clone(lab, "CLONE2").state.ifs.exists(marker)


def test_a_suspend_the_system_acknowledged_but_did_not_do_leaves_the_clone_unproven(lab, prod):
    """The flush and the flash happen, but production was never suspended: the copy is only
    flushed, the clone's IPL is abnormal, and the run says so (and so does the monitor)."""
    from flash4i_tui.monitor.check import Limits, check_environment, nagios_line
    lab.world.faults.replace(FaultRules.parse([{"device": "ibmi", "match": r"OPTION\(\*SUSPEND\)",
                                                "action": "ignore"}]))
    run = run_now("TESTCOPY")
    assert any(e.kind == "fault" and "without doing it" in e.text for e in lab.world.events)
    assert not prod_suspended_ever(lab)
    assert run.state == "SUCCEEDED", run.message      # the copy is usable, only not proven
    assert run.proven is False, run.proof
    assert run.proof["clone"] == {"copy": "in_window", "previous_end": "abnormal"}
    assert "not suspended" in steps_of(run)["RESUME"].detail
    assert running_clone(lab, "CLONE2").state.sysname == "TESTSYS"
    line = nagios_line(check_environment("TESTCOPY", Limits(), devices=False))
    assert line.startswith("FLASH4I WARNING") and "NOT proven" in line, line
    production_untouched(lab, prod)


def test_where_quiesced_copies_ipl_abnormally_the_site_says_so_and_the_marker_proves_the_clone(lab, prod):
    prod.quiesced_copy_ipl = "abnormal"         # this site's releases: QABNORMSW 1 after a suspend
    run = run_now("TESTCOPY")
    assert run.state == "SUCCEEDED", run.message
    assert (run.proven, run.proof["clone"]["previous_end"]) == (False, "abnormal"), run.proof
    assert prod_suspended_ever(lab)
    env = m.Environment.get(m.Environment.name == "TESTCOPY")
    set_env("TESTCOPY", options=dict(env.options or {}, abnormal_ipl_expected=True))
    again = run_now("TESTCOPY")
    assert again.state == "SUCCEEDED", again.message
    assert (again.proven, again.proof["clone"]["previous_end"]) == (True, "abnormal"), again.proof
    production_untouched(lab, prod)


def prod_suspended_ever(lab) -> bool:
    """Whether the lab's production was ever held (the lab's own record of its pauses)."""
    return any(p.kind == "asp_suspend" for p in lab.world.pauses)


def test_a_failing_user_command_fails_the_run_with_its_message_and_logs(lab, prod):
    set_env("TESTCOPY", user_commands={"commands": ["CHGDTAARA DTAARA(APPDTA/ENVIRON) VALUE('TEST')",
                                                    "CHGDTAARA DTAARA(APPDTA/NOSUCH) VALUE('X')",
                                                    "CLRPFM FILE(APPDTA/CUSTEMAIL)"], "program": None})
    run = run_now("TESTCOPY")
    assert run.state == "FAILED"
    function = steps_of(run)["FUNCTION"].detail
    assert "user command 2 of 3 failed: CHGDTAARA DTAARA(APPDTA/NOSUCH) VALUE('X') (CPF1015" in function
    assert logs_of(run, "JOBLOG") and logs_of(run, "AGENT")          # collected although the run failed
    clone = running_clone(lab, "CLONE2")
    assert clone.state.libraries["APPDTA"].get("CUSTEMAIL", "*FILE").records == 98000    # stopped at the failure
    production_untouched(lab, prod)


# ---------------------------------------------------------------- faults


def test_a_stalled_clone_ipl_fails_within_its_bound(lab, prod):
    set_env("NIGHTLY", ipl_timeout=2)
    lab.world.faults.replace(FaultRules.parse([{"ipl_stall": {"lpar": "CLONE1", "refcode": "C9002910"}}]))
    started = time.monotonic()
    run = run_now("NIGHTLY")
    assert run.state == "FAILED"
    assert time.monotonic() - started < 30
    step = steps_of(run)["START_CLONE"]
    assert step.status == "FAILED" and "C9002910" in step.detail and "CLONE1" in step.detail
    assert steps_of(run)["FUNCTION"].status == "PENDING"
    lab.world.faults.replace(FaultRules())
    production_untouched(lab, prod)


def test_a_source_without_the_agent_is_refused_before_any_change(lab, lab_store):
    run = run_now("NIGHTLY")
    assert run.state == "FAILED"
    check = steps_of(run)["CHECK"]
    assert check.status == "FAILED" and "clone agent on source partition PROD" in check.detail
    assert "flash4i agent install PROD" in check.detail
    assert all(s.status == "PENDING" for s in run.steps if s.name != "CHECK")
    assert not [g for g in lab.world.arrays["FS9500"].groups.values() if g.name == "FL_NIGHTLY"]
    assert lpar(lab, "CLONE1").state == "Not Activated"


def test_a_clone_whose_order_is_missing_stays_in_restricted_state(lab, prod, monkeypatch):
    set_env("NIGHTLY", ipl_timeout=4)
    index = plan.STEP_NAMES.index("WRITE_CLONE_ORDER")
    written = plan.STEPS[index]

    def write_then_lose(ctx) -> Optional[str]:
        detail = written.run(ctx)
        prod.ifs.remove(order_path(ctx.defs.clone.lpar_id))     # the order never reaches the clone
        return detail

    steps = list(plan.STEPS)
    steps[index] = dataclasses.replace(written, run=write_then_lose)
    monkeypatch.setattr(plan, "STEPS", steps)
    run = run_now("NIGHTLY")
    assert run.state == "FAILED"
    function = steps_of(run)["FUNCTION"]
    assert function.status == "FAILED" and "did not report" in function.detail
    assert "restricted state" in function.detail
    clone = running_clone(lab, "CLONE1")
    assert set(clone.subsystems) == {"QCTL"} and not clone.tcp_active and not clone.interfaces
    assert clone.state.sysname == "PROD" and [e.status for e in clone.state.schedule] == ["SCD", "SCD"]
    assert any("restricted state" in msg.text for msg in clone.state.message_queues["QSYSOPR"])
    assert any("no clone order for partition 5" in msg.text for msg in clone.state.qhst)
    production_untouched(lab, prod)


# ---------------------------------------------------------------- through the CLI, as an operator does


def test_flash4i_agent_and_start_through_the_cli(lab, lab_store, tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    env = dict(os.environ, FLASH4I_HOME=str(tmp_path / "home"), PYTHONPATH=REPO)

    def flash4i(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flash4i_tui", "--db", db, *args], capture_output=True,
                              text=True, env=env, cwd=REPO, timeout=timeout)

    checked = flash4i("agent", "check", "PROD")
    assert checked.returncode == 1 and checked.stdout.startswith("PROD: no install record")
    assert flash4i("agent", "install", "PROD").returncode == 0
    checked = flash4i("agent", "check", "PROD")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # a worker polling fast (the CLI finds it alive and uses it); it exits when idle
    worker = subprocess.Popen([sys.executable, "-m", "flash4i_tui", "--db", db, "worker", "--step-poll", "0.1",
                               "--idle-exit", "60"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not list((tmp_path / "home").glob("worker-*.pid")) and time.monotonic() < deadline:
            time.sleep(0.05)
        for name in ("NIGHTLY", "SUNDAY21", "TESTCOPY"):
            done = flash4i("start", name, "--wait", "--timeout", "120", timeout=180)
            assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"
            assert "SUCCEEDED" in done.stdout.splitlines()[-1]
    finally:
        worker.terminate()
        worker.wait(30)
    assert lab.world.conflicts == []
