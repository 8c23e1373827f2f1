"""Recovery points kept in generations (issue 13): the configuration's checks, which generation a
run takes, what the array holds afterwards, and the emergency boot of one generation. Judged by
the lab's own state (the volumes' contents, the partitions' states), not by the store alone."""
from __future__ import annotations

import copy
import json

import pytest

from flash4i_tui.cli import main
from flash4i_tui.config.schema import validate
from flash4i_tui.config.yamlsrc import dump_yaml, load_yaml
from flash4i_tui.engine import rcvpnt
from flash4i_tui.engine.generations import listing
from flash4i_tui.engine.order import order_path
from flash4i_tui.errors import ConfigError, SafetyRefusal
from flash4i_tui.lab.server import Lab, load_topology

from .conftest import GEN_VOLUMES, GENERATIONS, LAB_SPEED, ibmi_state, lpar, run_now


def _run_id_on(lab: Lab, volume: str) -> int:
    """Which run's copy VOLUME holds: the clone order each run writes to production before its suspend."""
    content = lab.world.arrays["FS9500"].volume(volume).content
    assert content is not None, f"{volume} holds nothing"
    return json.loads(content.state.ifs.read(order_path(7)))["run_id"]


# ------------------------------------------------------------------ configuration

@pytest.fixture(scope="module")
def svc_config(tmp_path_factory):
    """The shipped lab's configuration, from one lab started for the module (not one per case)."""
    with Lab(load_topology(), tmp_path_factory.mktemp("svc"), speed=LAB_SPEED) as lab:
        yield lab.config()


def _check(cfg: dict) -> dict:
    return validate(load_yaml(dump_yaml(cfg)))


def _problems(cfg: dict) -> str:
    with pytest.raises(ConfigError) as err:
        _check(cfg)
    return str(err.value)


@pytest.mark.parametrize("change, expected", [
    (dict(function="*BRMS", brms={"control_groups": ["DAILY"]}), "must be *NONE"),
    (dict(generations=3), "give one target per generation (3)"),
    (dict(generations=300), "more than svc allows per source volume (256 copies)"),
    (dict(consistency_group="FL_RCVPNT_LONG"), "too long for generations"),
])
def test_generation_config_refusals(change, expected, svc_config):
    cfg = copy.deepcopy(svc_config)
    env = next(e for e in cfg["environments"] if e["name"] == "RCVPNT")
    env["generations"] = GENERATIONS
    for pair, targets in zip(env["volumes"], GEN_VOLUMES):
        pair["targets"] = list(targets)
    _check(cfg)            # the base is valid
    env.update(change)
    assert expected in _problems(cfg)


def test_a_generation_target_that_is_a_source_is_refused(svc_config):
    cfg = copy.deepcopy(svc_config)
    env = next(e for e in cfg["environments"] if e["name"] == "RCVPNT")
    env["generations"] = GENERATIONS
    for pair, targets in zip(env["volumes"], GEN_VOLUMES):
        pair["targets"] = list(targets)
    env["volumes"][0]["targets"][1] = "PROD_002"
    assert "would overwrite a production disk" in _problems(cfg)


# ------------------------------------------------------------------ runs and the boot

@pytest.mark.lab
def test_runs_take_the_oldest_generation_and_the_boot_copies_it_onto_the_clone(gen_lab, capsys, monkeypatch):
    lab = gen_lab
    monkeypatch.setenv("FLASH4I_DB", f"sqlite:///{lab.state_dir.parent / 'store.db'}")
    array = lab.world.arrays["FS9500"]
    clone_disks = [f"RCV_00{i}" for i in range(1, 5)]
    before = [array.volume(v).content for v in clone_disks]

    runs = [run_now("RCVPNT") for _ in range(6)]
    assert [r.state for r in runs] == ["SUCCEEDED"] * 6, [r.message for r in runs]
    # generations 1-4, then 1 and 2 again (the oldest): each pair's target of a generation holds
    # the copy of the run that last took it, the others are untouched
    assert [r.snapshot["generation"] for r in runs] == [1, 2, 3, 4, 1, 2]
    holder = {1: runs[4], 2: runs[5], 3: runs[2], 4: runs[3]}
    for targets in GEN_VOLUMES:
        assert [_run_id_on(lab, t) for t in targets] == [holder[k].id for k in range(1, 5)]
    assert {g.name for g in array.groups.values()} >= {f"FL_RCVPNT_G{k}" for k in range(1, 5)}
    assert "FL_RCVPNT" not in {g.name for g in array.groups.values()}
    # the clone and its own disks were not touched; no generation is mapped to any host
    assert lpar(lab, "CLONE3").state == "Not Activated"
    assert [array.volume(v).content for v in clone_disks] == before
    mapped = {v.name for h in array.hosts.values() for v in h.mappings.values()}
    assert not mapped & {v for targets in GEN_VOLUMES for v in targets}
    assert not lab.world.conflicts

    rows = listing(runs[0].environment)
    assert main(["rcvpnt", "list", "RCVPNT"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].split() == ["Gen", "Consistency", "group", "Taken", "Run", "State", "Space", "used", "Proven"]
    assert [line.split()[:2] for line in shown[1:]] == [[str(k), f"FL_RCVPNT_G{k}"] for k in range(1, 5)]
    assert [(r["generation"], r["run"]) for r in rows] == [(k, holder[k].id) for k in range(1, 5)]
    assert all(r["state"] != "never used" and r["taken_at"] is not None for r in rows)
    assert all(r["space_used_bytes"] is not None for r in rows)

    # boot generation 3 (an older one): copied onto the clone's own disks, the clone waits at
    # its console in a manual IPL, the recovery point itself stays as it was taken
    result = rcvpnt.boot("RCVPNT", generation=3, bound=120, poll=0.05)
    assert result.refcode in rcvpnt.MANUAL_IPL_CODES
    assert [_run_id_on(lab, v) for v in clone_disks] == [holder[3].id] * 4
    assert all(_run_id_on(lab, targets[2]) == holder[3].id for targets in GEN_VOLUMES)
    clone = lpar(lab, "CLONE3")
    assert (clone.state, clone.keylock, clone.refcode.code) == ("Running", "manual", result.refcode)
    assert any("CHGNETA SYSNAME(RCVPNT)" in s for s in result.next_steps)
    # stopped for its console: no operating system running, so no startup program, no TCP/IP
    assert ("P10-PROD", 7) not in lab.world.running
    assert lab.world.network.owner("10.10.1.10").state is ibmi_state(lab, "PROD")
    assert not lab.world.conflicts

    # a second boot while the clone runs changes nothing
    with pytest.raises(SafetyRefusal, match="in use"):
        rcvpnt.boot("RCVPNT", generation=1, bound=30, poll=0.05)
    assert [_run_id_on(lab, v) for v in clone_disks] == [holder[3].id] * 4
