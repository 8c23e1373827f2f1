"""Runs on the lab over real sockets: *NONE end to end, safety refusals, device errors at each
step with production resumed, concurrent environments, and worker recovery."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import dataclasses
import threading
import time

import pytest

from flash4i_tui.engine import runner
from flash4i_tui.engine.queue import submit_run
from flash4i_tui.engine.worker import Worker
from flash4i_tui.errors import SafetyRefusal
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.store import models as m

from .conftest import ibmi_state, lpar, run_now, steps_of

pytestmark = pytest.mark.lab

ALL_STEPS = ["CHECK", "STOP_CLONE", "UNMAP_VIOS", "PREPARE_FLASH", "WRITE_CLONE_ORDER", "QUIESCE", "FLASH", "RESUME",
             "MAP_VIOS", "START_CLONE", "FUNCTION", "COLLECT_LOGS", "FINISH"]


def prod_runtime(lab):
    system = lab.world.systems["P10-PROD"]
    return lab.world.running[(system.name, lpar(lab, "PROD").id)]


def production_suspended(lab) -> bool:
    return prod_runtime(lab).asp.suspended


def faults(lab, *rules) -> None:
    lab.world.faults.replace(FaultRules.parse(list(rules)))


def array(lab):
    return lab.world.arrays["FS9500"]


def test_none_run_end_to_end(lab, lab_store):
    prod = ibmi_state(lab, "PROD")
    run = run_now("RCVPNT")
    steps = steps_of(run)
    assert run.state == "SUCCEEDED", run.message
    assert [s.name for s in sorted(steps.values(), key=lambda s: s.seq)] == ALL_STEPS
    for name in ("CHECK", "STOP_CLONE", "PREPARE_FLASH", "WRITE_CLONE_ORDER", "QUIESCE", "FLASH", "RESUME", "FINISH"):
        assert steps[name].status == "OK", (name, steps[name].detail)
        assert steps[name].started_at and steps[name].ended_at and steps[name].duration is not None
    for name in ("UNMAP_VIOS", "MAP_VIOS", "START_CLONE", "FUNCTION", "COLLECT_LOGS"):
        assert steps[name].status == "SKIPPED" and steps[name].detail
    assert run.suspended_seconds is not None and 0 <= run.suspended_seconds < 1.0
    assert run.resume_confirmed and run.flash_time is not None and run.space_used_bytes is not None
    assert not production_suspended(lab)
    group = array(lab).group("FL_RCVPNT")
    assert group is not None and group.status == "copying"
    # The targets hold production as it was at the flash, with the clone order inside.
    target = array(lab).volume("RCV_001").content
    assert target is not None and target.consistency == "quiesced"
    assert target.state is not prod
    assert b'"run_id": ' in target.state.ifs.read("/QOpenSys/flash4i/orders/lpar7.json")
    internal = m.LogEntry.select().where((m.LogEntry.run == run.id) & (m.LogEntry.kind == "INTERNAL")).count()
    assert internal > 10          # every command and its answer went into the run's internal log
    assert lab.world.conflicts == []


def test_copy_holds_data_as_at_the_flash(lab, lab_store):
    prod = ibmi_state(lab, "PROD")
    run_now("RCVPNT")
    prod.ifs.write("/home/after-the-flash.txt", b"written after the flash")
    copy = array(lab).volume("RCV_002").content.state
    assert copy.ifs.node("/home/after-the-flash.txt") is None
    assert prod.ifs.read("/home/after-the-flash.txt") == b"written after the flash"


# ------------------------------------------------------------------ safety refusals

def _refused(run, text: str, lab) -> None:
    steps = steps_of(run)
    assert run.state == "FAILED"
    assert steps["CHECK"].status == "FAILED" and text in steps["CHECK"].detail, steps["CHECK"].detail
    assert text in run.message
    assert all(steps[n].status == "PENDING" for n in ALL_STEPS[1:] if n != "RESUME")    # nothing ran after CHECK
    assert steps["RESUME"].status in ("PENDING", "SKIPPED")
    assert array(lab).group("FL_RCVPNT") is None          # nothing was created on the storage
    assert not production_suspended(lab)


def _set_target(env: str, seq: int, target: str) -> None:
    e = m.Environment.get(m.Environment.name == env)
    m.VolumePair.update(target=target).where((m.VolumePair.environment == e) & (m.VolumePair.seq == seq)).execute()


def test_refuses_missing_target(lab, lab_store):
    _set_target("RCVPNT", 0, "NO_SUCH_VOL")
    _refused(run_now("RCVPNT"), "target volume NO_SUCH_VOL does not exist", lab)


def test_refuses_size_mismatch(lab, lab_store):
    _set_target("RCVPNT", 1, "TEST_SMALL")
    _refused(run_now("RCVPNT"), "target volume TEST_SMALL has", lab)


def test_refuses_target_that_is_a_source(lab, lab_store):
    _set_target("RCVPNT", 2, "PROD_003")
    _refused(run_now("RCVPNT"), "target volume PROD_003 is also a source volume", lab)


def test_refuses_target_mapped_to_another_host(lab, lab_store):
    array(lab).map_volume("PROD_FC", "RCV_004", force=True)     # a second host (shared disk)
    _refused(run_now("RCVPNT"), "target volume RCV_004 is mapped to host PROD_FC", lab)


def test_refuses_clone_that_is_the_source(lab, lab_store):
    env = m.Environment.get(m.Environment.name == "RCVPNT")
    m.Environment.update(clone=env.source).where(m.Environment.id == env.id).execute()
    run = submit_run("RCVPNT", "pytest")
    m.Run.update(state="RUNNING").where(m.Run.id == run.id).execute()
    runner.execute(run.id, threading.Event(), poll=0.05)
    _refused(m.Run.get_by_id(run.id), "clone partition PROD is the source LPAR", lab)


def test_refuses_wrong_system_behind_the_source_address(lab, lab_store):
    src = m.Partition.get(m.Partition.name == "PROD")
    clone3 = m.Partition.get(m.Partition.name == "CLONE3")
    m.Partition.update(lpar_id=clone3.lpar_id + 40).where(m.Partition.id == src.id).execute()
    run = run_now("RCVPNT")
    assert run.state == "FAILED" and "has id 3 on P10-PROD; the configuration says 47" in run.message


def test_second_run_on_same_clone_is_refused(lab, lab_store):
    first = submit_run("NIGHTLY", "pytest")
    with pytest.raises(SafetyRefusal, match="clone partition HMC1/P10-PROD/5 is in use by run"):
        submit_run("SUNDAY21", "pytest")
    assert m.Run.get_by_id(first.id).state == "QUEUED"


# ------------------------------------------------------------------ device errors at each step

STEP_FAULTS = [
    ("CHECK", {"device": "hmc", "match": "lssyscfg", "action": "fail",
               "message": "HSCL3205 The managed system is busy, try again later."}, "HSCL3205"),
    ("STOP_CLONE", {"device": "hmc", "match": "chsysstate .*-o shutdown", "action": "fail",
                    "message": "HSCL05DF The partition is not in a state under which this operation can be performed."},
     "HSCL05DF"),
    ("PREPARE_FLASH", {"device": "svc", "match": "prestartfcconsistgrp", "action": "fail",
                       "message": "CMMVC5903E The FlashCopy mapping was not changed because the mapping or "
                                  "consistency group is another state."}, "CMMVC5903E"),
    ("QUIESCE", {"device": "ibmi:PROD", "match": "OPTION\\(\\*SUSPEND\\)", "action": "fail", "exit_status": 255,
                 "message": "CPFB718: ASP *SYSBAS not suspended: activity did not reach a boundary within 30 seconds."},
     "CPFB718"),
    ("FLASH", {"device": "svc", "match": "(^|\\s)startfcconsistgrp", "action": "fail",
               "message": "CMMVC5903E The FlashCopy mapping was not changed because the mapping or consistency "
                          "group is another state."}, "CMMVC5903E"),
    ("FINISH", {"device": "svc", "match": "lsvdisk", "action": "fail", "after": 8,
                "message": "CMMVC5753E The specified object does not exist or is not a suitable candidate."},
     "CMMVC5753E"),
]


@pytest.mark.fault
@pytest.mark.parametrize("step,rule,msg_id", STEP_FAULTS, ids=[s for s, _, _ in STEP_FAULTS])
def test_device_error_at_each_step(lab, lab_store, step, rule, msg_id):
    if step == "STOP_CLONE":
        lpar(lab, "CLONE3").activate()      # a running clone must be stopped first
    faults(lab, rule)
    run = run_now("RCVPNT")
    steps = steps_of(run)
    assert run.state == "FAILED"
    assert steps[step].status == "FAILED" and msg_id in steps[step].detail, steps[step].detail
    assert msg_id in run.message
    assert not production_suspended(lab)
    if step in ("QUIESCE", "FLASH"):
        assert steps["RESUME"].status == "OK"   # production resumed on the way out
        assert "on the way out" in steps["RESUME"].detail
    later = ALL_STEPS[ALL_STEPS.index(step) + 1:]
    assert all(steps[n].status in ("PENDING", "OK", "SKIPPED") for n in later)
    assert all(steps[n].status == "PENDING" for n in later if n not in ("RESUME",)) or step == "FINISH"


@pytest.mark.fault
def test_hang_inside_the_suspend_is_bounded_and_resumes(lab, lab_store, monkeypatch):
    from flash4i_tui.engine import plan
    monkeypatch.setattr(plan, "STEPS", [s if s.name != "FLASH" else
                                        dataclasses.replace(s, bound=lambda d: 2.0) for s in plan.STEPS])
    monkeypatch.setattr(plan, "STEP_NAMES", [s.name for s in plan.STEPS])
    faults(lab, {"device": "svc", "match": "(^|\\s)startfcconsistgrp", "action": "hang"})
    t0 = time.monotonic()
    run = run_now("RCVPNT")
    assert time.monotonic() - t0 < 30
    steps = steps_of(run)
    assert run.state == "FAILED" and steps["FLASH"].status == "FAILED"
    assert "did not end within" in steps["FLASH"].detail
    assert steps["RESUME"].status == "OK" and not production_suspended(lab)


# ------------------------------------------------- the two ways a review left production suspended

def _starts(lab) -> int:
    """How many point-in-time copies of production's disks the storage made (lab ground truth)."""
    return len(lab.world.captures_of([f"PROD_00{i}" for i in range(1, 5)]))


def _judged_by_the_lab(lab, starts_before: int, started: int) -> None:
    assert not production_suspended(lab)
    assert lab.world.open_pauses() == []                     # no pause the lab still counts
    assert lab.world.pauses and all(p.ended is not None for p in lab.world.pauses)
    assert _starts(lab) - starts_before == started
    assert lab.world.conflicts == []


@pytest.mark.fault
def test_the_resume_dropped_twice_in_a_row_is_retried_on_a_new_connection(lab, lab_store):
    """Main before the phase table retried the resume once, on the way out only: a second drop
    left production suspended under SSPTIMOACN(*CONT) until an operator typed the resume."""
    _suspend_until_resumed("RCVPNT")
    rule = {"device": "ibmi:PROD", "match": "OPTION\\(\\*RESUME\\)", "action": "drop", "times": 2}
    faults(lab, rule)
    before = _starts(lab)
    run = run_now("RCVPNT")
    assert lab.world.faults.rules[0].fired == 2                # both drops really happened
    _judged_by_the_lab(lab, before, 1)
    assert not _resumed_by_itself(lab)                         # flash4i resumed it, not SSPTIMO
    steps = steps_of(run)
    assert steps["RESUME"].status == "OK" and run.resume_confirmed
    assert run.state == "SUCCEEDED", run.message


@pytest.mark.fault
def test_a_resume_that_never_gets_through_says_so_and_flash4i_resume_ends_it(lab, lab_store, monkeypatch, capsys,
                                                                              tmp_path):
    """Every resume attempt dropped until the bound runs out: the run FAILED says production may
    still be suspended with the console command; status and check say so (CRITICAL) until
    `flash4i resume RUN`, which resumes it (lab ground truth) and clears them."""
    from flash4i_tui.cli import main
    from flash4i_tui.engine import plan
    from flash4i_tui.monitor.check import Limits, check_environment
    from flash4i_tui.monitor.status import environment_status
    monkeypatch.setattr(plan, "STEPS", [s if s.name != "RESUME" else
                                        dataclasses.replace(s, bound=lambda d: 4.0) for s in plan.STEPS])
    _suspend_until_resumed("RCVPNT")
    faults(lab, {"device": "ibmi:PROD", "match": "OPTION\\(\\*RESUME\\)", "action": "drop"})
    run = run_now("RCVPNT")
    assert production_suspended(lab) and lab.world.faults.rules[0].fired >= 2     # retried, never got through
    assert run.state == "FAILED" and steps_of(run)["RESUME"].status == "FAILED"
    assert "PRODUCTION MAY STILL BE SUSPENDED" in run.message
    assert "type: CHGASPACT ASPDEV(*SYSBAS) OPTION(*RESUME)" in run.message and f"flash4i resume {run.id}" in run.message
    assert environment_status("RCVPNT", devices=False)["last_run"]["production_may_be_suspended"]
    result = check_environment("RCVPNT", Limits(), devices=False)
    assert result.state == 2 and result.summary.startswith(f"RCVPNT: PRODUCTION MAY STILL BE SUSPENDED after run {run.id}")
    faults(lab)                                                 # the connection is back
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["--db", url, "resume", str(run.id)]) == 0
    assert capsys.readouterr().out.startswith(f"run {run.id}: *SYSBAS of PROD resumed")
    assert not production_suspended(lab) and lab.world.open_pauses() == []
    assert not _resumed_by_itself(lab) and _starts(lab) == 1
    assert not environment_status("RCVPNT", devices=False)["last_run"]["production_may_be_suspended"]
    assert "SUSPENDED after run" not in check_environment("RCVPNT", Limits(), devices=False).summary
    # Again: nothing is suspended any more, and that is fine.
    from flash4i_tui.engine.steps import resume_by_hand
    assert "was not suspended" in resume_by_hand(run.id)
    assert not production_suspended(lab)


def test_flash4i_resume_refuses_a_run_its_worker_still_holds(lab, lab_store):
    from flash4i_tui.engine.steps import resume_by_hand
    run = submit_run("RCVPNT", "pytest")
    with pytest.raises(SafetyRefusal, match="its worker resumes production"):
        resume_by_hand(run.id)


class _FailingStore:
    """Makes every SQL statement fail like a locked (or lost) database while WHEN() holds."""

    def __init__(self, monkeypatch, when):
        import peewee
        self.db, self.when, self.failed = m.Run._meta.database.obj, when, 0
        real = self.db.execute_sql

        def execute_sql(sql, params=None, *args, **kwargs):
            if self.when():
                self.failed += 1
                raise peewee.OperationalError("database is locked")
            return real(sql, params, *args, **kwargs)
        monkeypatch.setattr(self.db, "execute_sql", execute_sql)


@pytest.mark.fault
def test_a_store_locked_inside_the_window_does_not_hold_the_resume(lab, lab_store, monkeypatch):
    """Main before the change wrote each step's RUNNING record before sending its command, so a
    store error inside the window ended the run before *RESUME was ever sent."""
    _suspend_until_resumed("RCVPNT")
    def locked() -> bool:          # from the suspend to one second after the resume
        pauses = lab.world.pauses
        return bool(pauses) and (pauses[-1].ended is None or time.monotonic() < pauses[-1].ended + 1.0)
    store = _FailingStore(monkeypatch, locked)
    before = _starts(lab)
    run = run_now("RCVPNT")
    assert store.failed > 0                                    # the store really failed
    _judged_by_the_lab(lab, before, 1)
    assert run.state == "SUCCEEDED", run.message               # its records were written later
    steps = steps_of(run)
    assert all(steps[n].status == "OK" for n in ("QUIESCE", "FLASH", "RESUME"))
    assert run.suspend_started_at is not None and run.suspend_ended_at is not None


@pytest.mark.fault
def test_a_store_gone_at_the_suspend_still_resumes_production(lab, lab_store, monkeypatch):
    _suspend_until_resumed("RCVPNT")
    def lost() -> bool:            # from the suspend on, for good
        return bool(lab.world.pauses)
    store = _FailingStore(monkeypatch, lost)
    monkeypatch.setattr("flash4i_tui.engine.context.FLUSH_PAUSE", 0.05)
    before = _starts(lab)
    run = submit_run("RCVPNT", "pytest")
    m.Run.update(state="RUNNING", worker="pytest").where(m.Run.id == run.id).execute()
    try:
        runner.execute(run.id, threading.Event(), poll=0.05)
    except Exception:                  # the run cannot be recorded; what matters is production
        pass
    assert store.failed > 0
    _judged_by_the_lab(lab, before, 1)
    assert not _resumed_by_itself(lab)


def _serve_until_idle(worker: Worker, timeout: float = 60) -> int:
    done: list = []
    thread = threading.Thread(target=lambda: done.append(worker.serve()))
    thread.start()
    thread.join(timeout)
    worker.stopping.set()
    thread.join(30)
    return done[0]


@pytest.mark.fault
def test_a_worker_rides_out_a_store_outage_across_the_window(lab, lab_store, monkeypatch, tmp_path):
    """Claim and heartbeat errors used to end the worker's loop and, with it, its daemon run
    threads, possibly with production suspended. Now the outage (suspend to 2 s after the
    resume) is retried and the run finishes."""
    _suspend_until_resumed("RCVPNT")

    def outage() -> bool:
        pauses = lab.world.pauses
        return bool(pauses) and (pauses[-1].ended is None or time.monotonic() < pauses[-1].ended + 2.0)
    run = submit_run("RCVPNT", "pytest")
    worker = Worker(f"sqlite:///{tmp_path / 'store.db'}", poll=0.05, step_poll=0.05, stale_after=8,
                    idle_exit=1.0)
    store = _FailingStore(monkeypatch, outage)
    assert _serve_until_idle(worker) == 0
    assert store.failed > 0
    _judged_by_the_lab(lab, 0, 1)
    run = m.Run.get_by_id(run.id)
    assert run.state == "SUCCEEDED", run.message


@pytest.mark.fault
def test_a_store_gone_for_good_stops_the_runs_safely_and_the_next_worker_finishes(lab, lab_store, monkeypatch,
                                                                                   tmp_path):
    """Heartbeats that cannot be written for half the stale period: the worker lets its runs go
    (production resumed) before another worker may take them, and says why it stopped."""
    _suspend_until_resumed("RCVPNT")
    monkeypatch.setattr("flash4i_tui.engine.context.FLUSH_PAUSE", 0.05)
    down = [True]
    store = _FailingStore(monkeypatch, lambda: down[0] and bool(lab.world.pauses))
    run = submit_run("RCVPNT", "pytest")
    worker = Worker(f"sqlite:///{tmp_path / 'store.db'}", poll=0.05, step_poll=0.05, stale_after=2,
                    idle_exit=1.0)
    assert _serve_until_idle(worker) == 1
    assert "no heartbeat" in worker.failure or "store" in worker.failure
    assert store.failed > 0 and not production_suspended(lab)
    down[0] = False                        # the store is back: the next worker picks the run up
    time.sleep(2.1)
    again = Worker(f"sqlite:///{tmp_path / 'store.db'}", poll=0.05, step_poll=0.05, stale_after=2, idle_exit=1.0)
    assert _serve_until_idle(again) == 0
    _judged_by_the_lab(lab, 0, 1)
    run = m.Run.get_by_id(run.id)
    # The flash went out before the store was lost: the storage confirms it, and the run goes on.
    assert run.state == "SUCCEEDED", run.message
    steps = steps_of(run)
    assert steps["RESUME"].status == "OK" and "confirmed from the storage" in steps["FLASH"].detail


# ------------------------------------------------------------------ concurrency and workers

def test_two_workers_of_one_store_one_leaving_does_not_stop_the_other(lab, lab_store, tmp_path):
    """Workers of one store share its pidfile: one that goes idle and exits removes it, and the
    other's next heartbeat used to crash on the missing file (FileNotFoundError), leaving its run
    RUNNING with no worker. Now it writes the file again and the run ends."""
    from flash4i_tui.lab.faults import Latency
    lab.world.latency.replace(Latency.parse({"commands": [
        {"device": "svc", "match": "prestartfcconsistgrp", "seconds": 1.5}]}))
    try:
        run = submit_run("RCVPNT", "pytest")
        url = f"sqlite:///{tmp_path / 'store.db'}"
        busy = Worker(url, poll=0.05, step_poll=0.05, stale_after=1.0, idle_exit=0.5)
        done: list = []
        thread = threading.Thread(target=lambda: done.append(busy.serve()))
        thread.start()
        deadline = time.monotonic() + 10
        while m.Run.get_by_id(run.id).state == "QUEUED" and time.monotonic() < deadline:
            time.sleep(0.02)
        idle = Worker(url, poll=0.05, stale_after=1.0, idle_exit=0.1)
        assert idle.serve() == 0                  # nothing to claim: it leaves, taking the pidfile
        thread.join(60)
        assert done == [0]
    finally:
        lab.world.latency.clear()
    run = m.Run.get_by_id(run.id)
    assert run.state == "SUCCEEDED", run.message
    _judged_by_the_lab(lab, 0, 1)



def _second_none_environment() -> None:
    """RCVPNT2: a *NONE environment of the same source on another clone and other targets."""
    from flash4i_tui.config.store_io import environment_record, save_environment
    from flash4i_tui.store import write_transaction
    rec = environment_record(m.Environment.get(m.Environment.name == "RCVPNT"))
    rec.update(name="RCVPNT2", clone="CLONE1", consistency_group="FL_RCV2")
    rec["volumes"] = [{"source": f"PROD_00{i}", "target": f"CLN1_00{i}"} for i in range(1, 5)]
    with write_transaction():
        save_environment(rec)


def test_two_environments_at_once_both_succeed(lab, lab_store, tmp_path):
    _second_none_environment()
    worker = Worker(f"sqlite:///{tmp_path / 'store.db'}", concurrency=4, poll=0.05, step_poll=0.05)
    a, b = submit_run("RCVPNT", "pytest"), submit_run("RCVPNT2", "pytest")
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = {m.Run.get_by_id(r.id).state for r in (a, b)}
        if states <= {"SUCCEEDED", "FAILED", "CANCELLED"}:
            break
        time.sleep(0.1)
    worker.stopping.set()
    thread.join(30)
    runs = [m.Run.get_by_id(r.id) for r in (a, b)]
    assert [r.state for r in runs] == ["SUCCEEDED", "SUCCEEDED"], [r.message for r in runs]
    # Their suspend windows never overlapped (one source, one QUIESCE-FLASH-RESUME at a time).
    windows = sorted((r.suspend_started_at, r.suspend_ended_at) for r in runs)
    assert windows[0][1] <= windows[1][0], windows
    assert m.ResourceLock.select().count() == 0


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _worker_process(tmp_path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, FLASH4I_HOME=str(tmp_path / "home"))
    return subprocess.Popen([sys.executable, "-m", "flash4i_tui", "--db", f"sqlite:///{tmp_path / 'store.db'}",
                             "worker", "--step-poll", "0.05", *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _suspend_until_resumed(env: str) -> None:
    """The lab ends a *SUSPEND with SSPTIMOACN(*END) by itself once SSPTIMO (real seconds) has
    passed; *CONT keeps production suspended until someone resumes it, so these tests do not
    depend on how fast the machine is."""
    m.Environment.update(quiesce_action="*CONT").where(m.Environment.name == env).execute()


def _resumed_by_itself(lab) -> bool:
    return any(message.msg_id == "CPIB71C" for message in prod_runtime(lab).state.qhst)


def test_sigterm_inside_the_suspend_resumes_production(lab, lab_store, tmp_path):
    _suspend_until_resumed("RCVPNT")
    faults(lab, {"device": "svc", "match": "(^|\\s)startfcconsistgrp", "action": "hang", "seconds": 30000})
    run = submit_run("RCVPNT", "pytest")
    proc = _worker_process(tmp_path)
    try:
        _wait_for(lambda: production_suspended(lab), 30, "production to be suspended")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        proc.kill()
    assert not production_suspended(lab)
    assert not _resumed_by_itself(lab)
    steps = steps_of(m.Run.get_by_id(run.id))
    assert steps["RESUME"].status == "OK"
    assert m.Run.get_by_id(run.id).resume_confirmed


def test_worker_killed_mid_flash_is_recovered_by_another(lab, lab_store, tmp_path):
    _suspend_until_resumed("RCVPNT")
    faults(lab, {"device": "svc", "match": "(^|\\s)startfcconsistgrp", "action": "hang", "seconds": 30000})
    run = submit_run("RCVPNT", "pytest")
    proc = _worker_process(tmp_path)
    try:
        _wait_for(lambda: production_suspended(lab), 30, "production to be suspended")
        # The start is out and hangs (its RUNNING record waits in the worker for the resume).
        _wait_for(lambda: lab.world.faults.rules[0].fired >= 1, 10, "the start command to reach the storage")
        proc.kill()                          # the worker dies inside the suspend window
        proc.wait(10)
    finally:
        proc.kill()
    assert production_suspended(lab)         # nobody resumed it yet
    lab.world.faults.clear()
    # A new worker sees the stale heartbeat, resumes production first, and asks the storage.
    worker = Worker(f"sqlite:///{tmp_path / 'store.db'}", poll=0.05, step_poll=0.05, stale_after=0.5,
                    idle_exit=1.0)
    time.sleep(0.6)
    worker.serve()
    run = m.Run.get_by_id(run.id)
    assert not production_suspended(lab)
    assert not _resumed_by_itself(lab)
    assert run.state == "FAILED"
    assert "production was resumed; no copy was made" in run.message
    assert steps_of(run)["RESUME"].status == "OK"


def test_cli_start_wait(lab, lab_store, tmp_path):
    env = dict(os.environ, FLASH4I_HOME=str(tmp_path / "home"))
    out = subprocess.run([sys.executable, "-m", "flash4i_tui", "--db", f"sqlite:///{tmp_path / 'store.db'}",
                          "start", "RCVPNT", "--wait", "--timeout", "120"], env=env, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("QUIESCE ") and " OK " in line for line in lines)
    assert "SUCCEEDED" in lines[-1]
    from flash4i_tui.engine.launch import worker_alive
    pid = worker_alive(f"sqlite:///{tmp_path / 'store.db'}")
    if pid:
        os.kill(pid, signal.SIGTERM)


def test_sigterm_during_a_long_wait_leaves_the_run_to_the_next_worker(lab, lab_store, tmp_path):
    """A worker stopped while a run waits on the clone's IPL exits at once; the next one finishes it."""
    from flash4i_tui.engine.agentctl import install_agent
    install_agent("PROD")
    faults(lab, {"ipl_stall": {"lpar": "CLONE1", "refcode": "C9002910"}})
    run = submit_run("NIGHTLY", "pytest")
    proc = _worker_process(tmp_path)
    try:
        _wait_for(lambda: lpar(lab, "CLONE1").refcode.code == "C9002910", 60, "the clone's IPL to stall")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert time.monotonic() - t0 < 10          # it did not sit out the IPL bound
    finally:
        proc.kill()
    row = m.Run.get_by_id(run.id)
    steps = steps_of(row)
    assert row.state == "RUNNING" and row.worker is None
    assert steps["START_CLONE"].status == "PENDING" and "worker stopped" in steps["START_CLONE"].detail
    assert steps["FLASH"].status == "OK" and not production_suspended(lab)
    lab.world.faults.clear()
    worker = Worker(f"sqlite:///{tmp_path / 'store.db'}", poll=0.05, step_poll=0.05, idle_exit=1.0)
    worker.serve()
    row = m.Run.get_by_id(run.id)
    assert row.state == "SUCCEEDED", row.message
    assert m.Step.select().where((m.Step.run == row) & (m.Step.name == "FLASH")).get().status == "OK"
    assert lab.world.conflicts == []
