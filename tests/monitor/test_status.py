"""`flash4i status`: the store's view of runs and schedules, and the devices' view over real
sockets (lab Storage Virtualize, HMC and IBM i fronts), with devices failing per item."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from flash4i_tui.cli import main
from flash4i_tui.devices.ibmi import IbmiDriver
from flash4i_tui.devices.ssh import SshSession
from flash4i_tui.engine.order import status_path
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.monitor.status import environment_status, render_text, status_of
from flash4i_tui.store import models as m
from flash4i_tui.store.db import utcnow

from ..lab.hmc_support import wait_for
from ..lab.ibmi_support import Served
from .conftest import NOW, add_run

TOP_KEYS = {"environment", "description", "function", "source", "clone", "storage", "consistency_group",
            "checked_at", "devices_checked", "last_run", "last_success", "active_run", "latest", "schedule",
            "storage", "clone_partition", "function_progress"}


def run_cli(capsys, *argv: str):
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, out


# ------------------------------------------------------------------ the store's view

def test_runs_and_schedule_without_devices(sample):
    ok = add_run("NIGHTLY", "SUCCEEDED", ended=NOW - timedelta(hours=8), duration=812.5, suspended=0.42,
                 space=5 * 1024 ** 3)
    failed = add_run("NIGHTLY", "FAILED", ended=NOW - timedelta(hours=1), duration=30.0, suspended=None, space=None,
                     message="QUIESCE: PROD: CPF9801: Object not found\nmore")
    running = add_run("NIGHTLY", "RUNNING", phase="PREPARED", heartbeat=NOW - timedelta(seconds=3),
                      current_step="PREPARE_FLASH",
                      steps=[("CHECK", "OK", NOW - timedelta(minutes=10), 300.0),
                             ("PREPARE_FLASH", "RUNNING", NOW - timedelta(minutes=4), 420.0)])
    status = environment_status("NIGHTLY", devices=False, now=NOW)
    assert set(status) == TOP_KEYS
    assert status["last_run"]["id"] == failed.id and status["last_run"]["state"] == "FAILED"
    assert status["last_run"]["ended_at"] == "2024-06-02T07:00:00Z"
    assert status["last_success"] == {"id": ok.id, "ended_at": "2024-06-02T00:00:00Z", "age_seconds": 28800.0}
    active = status["active_run"]
    assert (active["id"], active["state"], active["current_step"], active["silent_seconds"]) == \
        (running.id, "RUNNING", "PREPARE_FLASH", 3.0)
    assert active["step"]["name"] == "PREPARE_FLASH" and active["step"]["elapsed_seconds"] == 240.0
    assert active["step"]["overrun_seconds"] == 0.0
    # the newest value of each figure, even when the last run has none
    assert status["latest"]["suspended_seconds"] == {"run": ok.id, "value": 0.42}
    assert status["latest"]["space_used_bytes"] == {"run": ok.id, "value": 5 * 1024 ** 3}
    assert status["latest"]["duration"] == {"run": failed.id, "value": 30.0}
    assert status["schedule"]["cron"] == "0 0 * * *" and len(status["schedule"]["next"]) == 3
    for key in ("storage", "clone_partition", "function_progress"):
        assert status[key]["probe"] == "not_checked" and status[key]["reason"] == "--no-devices"
    assert status["function_progress"]["run"] == running.id
    text = render_text(status)
    assert f"{failed.id} FAILED" in text and "QUIESCE: PROD: CPF9801: Object not found" in text and "more" not in text
    assert f"Last success       run {ok.id}" in text
    assert f"{running.id} RUNNING, step PREPARE_FLASH for 0:04:00 (bound 0:07:00)" in text
    assert "Schedule           0 0 * * *" in text


def test_a_run_that_may_have_left_production_suspended_says_so(sample):
    resumed = add_run("NIGHTLY", "FAILED", ended=utcnow() - timedelta(hours=3), phase="RESUMED", message="MAP_VIOS: x")
    status = environment_status("NIGHTLY", devices=False)
    assert status["last_run"]["id"] == resumed.id and status["last_run"]["production_may_be_suspended"] is False
    assert "MAY STILL BE SUSPENDED" not in render_text(status)
    lost = add_run("NIGHTLY", "FAILED", ended=utcnow(), phase="FLASHED", message="RESUME: PROD: no answer",
                   steps=[("RESUME", "FAILED", utcnow(), 300.0)])
    status = environment_status("NIGHTLY", devices=False)
    assert status["last_run"]["id"] == lost.id and status["last_run"]["production_may_be_suspended"] is True
    assert "PRODUCTION MAY STILL BE SUSPENDED: on the console of PROD type CHGASPACT ASPDEV(*SYSBAS) " \
           "OPTION(*RESUME)" in render_text(status)
    m.Run.update(resume_confirmed=True).where(m.Run.id == lost.id).execute()    # resumed later, by hand
    assert environment_status("NIGHTLY", devices=False)["last_run"]["production_may_be_suspended"] is False


def test_cli_status_json_and_text(sample, sqlite_url, capsys):
    add_run("RCVPNT", "SUCCEEDED", ended=utcnow() - timedelta(hours=2))
    code, out = run_cli(capsys, "--db", sqlite_url, "status", "--json", "--no-devices")
    data = json.loads(out)
    assert code == 0 and [e["environment"] for e in data["environments"]] == ["NIGHTLY", "RCVPNT", "SUNDAY21",
                                                                                "TESTCOPY"]
    assert all(set(e) == TOP_KEYS for e in data["environments"])
    code, out = run_cli(capsys, "--db", sqlite_url, "status", "RCVPNT", "--no-devices", "--tz", "Europe/Berlin")
    assert code == 0 and out.startswith("RCVPNT  *NONE  PROD -> CLONE3") and "SUCCEEDED" in out
    assert "(Europe/Berlin)" in out and "NIGHTLY" not in out
    assert main(["--db", sqlite_url, "status", "NOPE"]) == 3           # unknown environment: NotFound


# ------------------------------------------------------------------ the devices' view

@pytest.mark.lab
def test_flashcopy_progress_and_clone_state_from_the_lab(lab):
    lab.flash(copyrate=50, lab_seconds=10240)        # 2 MiB/s for 10240 s of 80 GiB volumes: 25%
    lab.start_clone()
    status = environment_status("NIGHTLY", timeout=5)
    storage = status["storage"]
    truth = {mp.name: mp for mp in lab.array.fcmaps.values()}
    assert storage["probe"] == "ok" and storage["exists"] and storage["status"] == "copying"
    assert [(mp["source"], mp["target"], mp["status"]) for mp in storage["mappings"]] == \
        [(s, t, "copying") for s, t in [("PROD_001", "CLN1_001"), ("PROD_002", "CLN1_002"),
                                        ("PROD_003", "CLN1_003"), ("PROD_004", "CLN1_004")]]
    assert [mp["progress"] for mp in storage["mappings"]] == [truth[mp["name"]].progress for mp in storage["mappings"]]
    assert storage["background_copy"] == {"progress": 25, "copy_rate": 50}
    assert storage["start_time"] and len(storage["start_time"]) == 12          # SVC form YYMMDDhhmmss
    clone = status["clone_partition"]
    assert (clone["probe"], clone["device"], clone["lpar"], clone["state"], clone["refcode"]) == \
        ("ok", "HMC1", "CLONE1", "Running", "00000000")
    assert status["function_progress"] == {"device": "CLONE1", "probe": "not_checked", "error": None,
                                           "reason": "no active run", "run": None, "state": None, "phase": None,
                                           "progress": None, "message": None, "updated_at": None}
    text = render_text(status)
    assert "FL_NIGHTLY on FS9500: copying, started" in text and "background copy 25% (rate 50)" in text
    assert "CLONE1 on P10-PROD (HMC1): Running, reference code 00000000" in text
    # a group that does not exist yet, and a snapshot without background copy
    status = environment_status("TESTCOPY", timeout=5)
    assert status["storage"]["probe"] == "ok" and status["storage"]["exists"] is False
    assert "FL_TEST on FS9500: the group does not exist yet" in render_text(status)
    lab.flash("FL_RCVPNT", [("PROD_001", "RCV_001")], copyrate=0, lab_seconds=100)
    status = environment_status("RCVPNT", timeout=5)
    assert status["storage"]["background_copy"] is None and status["storage"]["mappings"][0]["progress"] == 0
    assert "no background copy (space-efficient snapshot)" in render_text(status)


@pytest.mark.lab
def test_clone_in_error_shows_its_reference_code(lab, sqlite_url, capsys):
    lab.break_clone()
    code, out = run_cli(capsys, "--db", sqlite_url, "status", "NIGHTLY", "--json", "--timeout", "5")
    clone = json.loads(out)["environments"][0]["clone_partition"]
    assert code == 0 and (clone["state"], clone["refcode"]) == ("Error", "B2003110")


@pytest.mark.lab
def test_devices_unreachable_are_reported_per_item(lab, sqlite_url, capsys):
    add_run("NIGHTLY", "SUCCEEDED", ended=utcnow() - timedelta(hours=1))
    lab.world.faults.replace(FaultRules.parse([{"device": "hmc", "match": "lssyscfg", "action": "drop"}]))
    lab.svc.stop()
    started = time.monotonic()
    code, out = run_cli(capsys, "--db", sqlite_url, "status", "--timeout", "2")
    assert code == 0 and time.monotonic() - started < 15
    blocks = out.split("\n\n")
    assert len(blocks) == 4                                   # every environment is still shown
    nightly = blocks[0]
    assert "FL_NIGHTLY on FS9500: UNREACHABLE: FS9500: " in nightly
    assert "CLONE1 on P10-PROD (HMC1): UNREACHABLE: HMC1: connection lost" in nightly
    assert "SUCCEEDED" in nightly                              # the store's part is unaffected
    data = status_of(["NIGHTLY"], timeout=2)["environments"][0]
    assert data["storage"]["probe"] == data["clone_partition"]["probe"] == "unreachable"
    assert data["storage"]["exists"] is None and data["clone_partition"]["state"] is None


@pytest.mark.lab
def test_a_hanging_device_is_bounded(lab):
    lab.world.faults.replace(FaultRules.parse([{"device": "svc", "match": "lsfcconsistgrp", "action": "hang"}]))
    started = time.monotonic()
    status = environment_status("NIGHTLY", timeout=1)
    assert time.monotonic() - started < 6
    assert status["storage"]["probe"] == "unreachable" and "did not end within 1s" in status["storage"]["error"]
    assert status["clone_partition"]["probe"] == "ok"          # the other device still answered


@pytest.mark.lab
def test_function_progress_is_read_from_the_agent_status_file(lab, tmp_path):
    lab.start_clone()
    (tmp_path / "ibmi").mkdir()
    served = Served(tmp_path / "ibmi")        # an IBM i over SSH standing in for the clone's agent side
    try:
        m.Partition.update(ssh_host="127.0.0.1", ssh_port=served.port, ssh_auth={"key_file": str(served.key_file)},
                           known_hosts=str(served.known_hosts), ssh_user="FLASH4I").where(
            m.Partition.name == "CLONE1").execute()
        run = add_run("NIGHTLY", "RUNNING", phase="CLONE_STARTED", heartbeat=utcnow(), current_step="FUNCTION",
                      steps=[("FUNCTION", "RUNNING", utcnow() - timedelta(minutes=3), 3600.0)])
        status = environment_status("NIGHTLY", timeout=5)
        assert status["function_progress"]["probe"] == "ok"
        assert status["function_progress"]["reason"] == "the agent has not written its status yet"
        session = SshSession(served.endpoint("CLONE1"))
        agent = IbmiDriver(session, "CLONE1")
        path = status_path(run.id)
        agent.make_dirs(path.rsplit("/", 1)[0])
        agent.write_file(path, json.dumps({"run_id": run.id, "state": "running", "phase": "BRMS", "progress": 40,
                                           "message": "saving library APPDTA",
                                           "updated_at": "2024-06-02T08:00:00Z"}).encode())
        session.close()
        status = environment_status("NIGHTLY", timeout=5)
        fn = status["function_progress"]
        assert (fn["probe"], fn["run"], fn["state"], fn["phase"], fn["progress"], fn["message"]) == \
            ("ok", run.id, "running", "BRMS", 40, "saving library APPDTA")
        assert "Function on clone  run %d: running BRMS 40%%: saving library APPDTA" % run.id in render_text(status)
        # the clone's agent side is away (it restarts during a run): said so, not an error of status
        served.front.stop()
        status = environment_status("NIGHTLY", timeout=2)
        assert status["function_progress"]["probe"] == "unreachable"
        assert status["storage"]["probe"] == "ok" and status["clone_partition"]["probe"] == "ok"
        # a clone that is not up is not asked at all
        lab.clone().shutdown(immediate=True)
        wait_for(lambda: lab.clone().state == "Not Activated")
        status = environment_status("NIGHTLY", timeout=2)
        assert status["function_progress"]["probe"] == "not_checked"
        assert status["function_progress"]["reason"] == "the clone partition is Not Activated"
    finally:
        served.stop()
