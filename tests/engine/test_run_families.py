"""*NONE runs through the engine over real sockets with production on a DS8000 and on a PowerMax
(REST over HTTPS): every step OK, production resumed, the targets hold production as at the
flash; and a failure inside FLASH leaves production resumed."""
from __future__ import annotations

import time

import pytest

from flash4i_tui.config.store_io import import_config, load_config_file
from flash4i_tui.engine.describe import describe_plan
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.lab.server import Lab, load_topology
from flash4i_tui.monitor.status import environment_status
from flash4i_tui.store import models as m

from .conftest import LAB_SPEED, run_now, steps_of

pytestmark = pytest.mark.lab

COMMON = ["CHECK", "STOP_CLONE", "UNMAP_VIOS", "PREPARE_FLASH", "WRITE_CLONE_ORDER", "QUIESCE", "FLASH", "RESUME"]
TAIL = ["MAP_VIOS", "START_CLONE", "FUNCTION", "COLLECT_LOGS", "FINISH"]


def _family_lab(name: str, tmp_path, monkeypatch):
    """(family, lab, environment) with the lab's configuration in a fresh store."""
    from flash4i_tui.store import open_store
    lab = Lab(load_topology(storage=name), tmp_path / "lab", speed=LAB_SPEED).start()
    for variable, password in lab.passwords().items():
        monkeypatch.setenv(variable, password)
    db = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    import_config(load_config_file(lab.write_config(tmp_path / "lab.yaml")))
    env = {"ds8000": "DSRCV", "powermax": "PMRCV"}[name]
    yield name, lab, env
    db.close()
    lab.stop()


@pytest.fixture(params=["ds8000", "powermax"])
def family(request, tmp_path, monkeypatch):
    yield from _family_lab(request.param, tmp_path, monkeypatch)


@pytest.fixture
def ds8000(tmp_path, monkeypatch):
    yield from _family_lab("ds8000", tmp_path, monkeypatch)


def production(lab: Lab):
    system = lab.world.systems["P10-LAB"]
    return lab.world.running[(system.name, 3)]


def array(lab: Lab):
    return next(iter(lab.world.arrays.values()))


def test_a_none_run_on_each_family(family):
    name, lab, env = family
    prod = production(lab)
    run = run_now(env)
    steps = steps_of(run)
    assert run.state == "SUCCEEDED", run.message
    expected = COMMON + (["ACTIVATE_TARGETS"] if name == "powermax" else []) + TAIL
    assert [s.name for s in sorted(steps.values(), key=lambda s: s.seq)] == expected
    for step in ("CHECK", "STOP_CLONE", "PREPARE_FLASH", "WRITE_CLONE_ORDER", "QUIESCE", "FLASH", "RESUME", "FINISH"):
        assert steps[step].status == "OK", (step, steps[step].detail)
    assert not prod.asp.suspended and run.resume_confirmed and run.space_used_bytes is not None
    ds = array(lab)
    if name == "ds8000":
        assert sorted(ds.relationships) == ["1000:2000", "1001:2001", "1100:2002"] and ds.frozen == {}
        targets = ["2000", "2001", "2002"]
    else:
        assert "linked to FL_PMRCV_TGT (nocopy)" in steps["ACTIVATE_TARGETS"].detail
        targets = ["00301", "00302"]
    # The targets hold production as it was at the flash (quiesced), with the clone order inside.
    images = [ds.volumes[t].content for t in targets]
    assert all(i is not None and i.state is images[0].state and i.consistency == "quiesced" for i in images)
    assert images[0].state is not prod.state and [i.unit for i in images] == list(range(1, len(targets) + 1))
    assert b'"run_id": ' in images[0].state.ifs.read("/QOpenSys/flash4i/orders/lpar7.json")
    prod.state.ifs.write("/home/after-the-flash.txt", b"later")
    assert images[0].state.ifs.node("/home/after-the-flash.txt") is None
    # Every request and its answer went to the run's internal log, without the password.
    logged = [e.text for e in m.LogEntry.select().where(m.LogEntry.run == run.id)]
    assert any("> POST " in t and "/api/v1/cs/flashcopies" in t or "/snapshot {" in t for t in logged)
    password = next(iter(lab.passwords().values()))
    assert not any(password in t for t in logged)
    # The monitor reads the group back from the array with a driver of its own.
    storage = environment_status(env)["storage"]
    assert storage["probe"] == "ok" and storage["exists"] and storage["status"] == "copying", storage
    assert [mp["target"] for mp in storage["mappings"]] == targets
    assert lab.world.conflicts == []


def test_a_failure_inside_flash_leaves_production_resumed(family):
    name, lab, env = family
    prod = production(lab)
    if name == "ds8000":
        # The relationships are made but the unfreeze's answer is lost once: the start fails, the
        # resume releases the freeze itself, and the storage shows the copy that was taken.
        array(lab).LONG_BUSY_TIMEOUT = 600.0                # 1 s at speed 600
        rule = {"device": "ds8000", "match": "unfreeze$", "action": "fail", "message": "BE7A0091 lost", "times": 1}
    else:
        rule = {"device": "powermax", "match": "^POST .*/snapshot$", "action": "fail", "exit_status": 500,
                "message": "SnapVX establish failed: the SRP is out of space"}
    lab.world.faults.replace(FaultRules.parse([rule]))
    run = run_now(env)
    steps = steps_of(run)
    assert steps["RESUME"].status == "OK" and run.resume_confirmed and not prod.asp.suspended
    assert not lab.world.open_pauses()
    if name == "ds8000":
        assert run.state == "SUCCEEDED", run.message
        assert steps["FLASH"].status == "OK" and "confirmed from the storage" in steps["FLASH"].detail
        assert "unfrozen" in steps["RESUME"].detail
        freezes = [p for p in lab.world.pauses if p.kind == "lss_freeze"]
        assert freezes and all(p.how == "thawed" for p in freezes)    # released, not timed out
        assert len(lab.world.captures) == 1
    else:
        assert run.state == "FAILED" and steps["FLASH"].status == "FAILED", run.message
        assert run.phase == "RESUMED_NO_FLASH"
        assert "SRP is out of space" in steps["FLASH"].detail
        assert "production was resumed; no copy was made" in run.message
        assert steps["ACTIVATE_TARGETS"].status == "PENDING"
        assert not array(lab).snapshots.get("FL_PMRCV_SRC")
    assert lab.world.conflicts == []


def test_a_freeze_that_will_not_thaw_fails_the_run_and_says_so(ds8000, monkeypatch):
    """Every unfreeze fails: the resume retries it until its bound, then the run ends FAILED with
    a message that production's I/O is still held (the LSS long busy ends by its own timeout)."""
    import dataclasses

    from flash4i_tui.engine import plan
    monkeypatch.setattr(plan, "CLEANUP", dataclasses.replace(plan.CLEANUP, bound=lambda d: 3.0))
    monkeypatch.setattr("flash4i_tui.engine.runner.CLEANUP", plan.CLEANUP)
    monkeypatch.setattr(plan, "STEPS", [plan.CLEANUP if s.cleanup else s for s in plan.STEPS])
    _, lab, env = ds8000
    lab.world.faults.replace(FaultRules.parse(
        [{"device": "ds8000", "match": "unfreeze$", "action": "fail", "message": "BE7A0091 lost"}]))
    run = run_now(env)
    steps = steps_of(run)
    assert run.state == "FAILED" and steps["RESUME"].status == "FAILED"
    assert "the storage still holds its I/O" in run.message and "BE7A0091" in run.message, run.message
    assert not production(lab).asp.suspended       # the IBM i side was resumed first
    assert lab.world.faults.rules[0].fired >= 3    # the start's unfreeze, then retries on new sessions


def test_the_plan_shows_the_family_requests(family):
    name, lab, env = family
    plan = {s["name"]: s for s in describe_plan(env)["steps"]}
    flash = [c["command"] for c in plan["FLASH"]["commands"]]
    if name == "ds8000":
        assert flash[0].startswith('POST /api/v1/cs/flashcopies {"request":{"params":{"volume_pairs":'
                                   '[{"source_volume":"1000","target_volume":"2000"}')
        assert flash[1] == 'POST /api/v1/cs/flashcopies/unfreeze {"request":{"params":{"lss_ids":["10","11"]}}}'
        assert "ACTIVATE_TARGETS" not in plan
    else:
        assert flash == ["POST /univmax/restapi/100/replication/symmetrix/000197900123/storagegroup/FL_PMRCV_SRC/"
                         'snapshot {"snapshotName":"FL_PMRCV"}']
        assert any('"action":"Link"' in c["command"] for c in plan["ACTIVATE_TARGETS"]["commands"])
