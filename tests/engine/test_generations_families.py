"""Recovery points kept in generations on the REST families (issue 13): an environment with
`generations: 4` run 6 times keeps exactly 4 generations on the array, and booting generation 2
brings the clone up, in a manual IPL, with generation 2's data. Judged by the lab's own state:
the array's relationships / snapshots, the volumes' contents (a marker written on production
between the runs), the partitions' states and the world's conflicts."""
from __future__ import annotations

import copy

import pytest

from flash4i_tui.config.store_io import import_config, load_config_file
from flash4i_tui.engine import rcvpnt
from flash4i_tui.errors import SafetyRefusal
from flash4i_tui.lab.server import Lab, load_topology
from flash4i_tui.store import models as m
from flash4i_tui.store import open_store

from .conftest import LAB_SPEED, run_now

pytestmark = pytest.mark.lab

GENERATIONS = 4
MARKER = "/home/FLASH4I/generation-marker.txt"
SYSTEM = "P10-LAB"


def _ds8000_topology() -> dict:
    """lab-ds8000.yaml with one thin target per pair and generation (LSS 30-33), DSRCV keeping 4."""
    topo = copy.deepcopy(load_topology(storage="ds8000"))
    env = topo["flash4i"]["environments"][0]
    for j, pair in enumerate(env["volumes"]):
        pair["targets"] = [f"3{k}0{j}" for k in range(GENERATIONS)]
        topo["storage"][0]["volumes"] += [{"id": t, "size_gib": 1, "thin": True} for t in pair["targets"]]
    env["generations"] = GENERATIONS
    return topo


def _powermax_topology() -> dict:
    """lab-powermax.yaml with PMRCV keeping 4 generations: targetless snapshots, no targets."""
    topo = copy.deepcopy(load_topology(storage="powermax"))
    topo["flash4i"]["environments"][0]["generations"] = GENERATIONS
    return topo


FAMILIES = {"ds8000": ("DSRCV", _ds8000_topology), "powermax": ("PMRCV", _powermax_topology)}


@pytest.fixture(params=sorted(FAMILIES))
def gen_family(request, tmp_path, monkeypatch):
    env, topology = FAMILIES[request.param]
    lab = Lab(topology(), tmp_path / "lab", speed=LAB_SPEED).start()
    for variable, password in lab.passwords().items():
        monkeypatch.setenv(variable, password)
    monkeypatch.setenv("FLASH4I_DB", f"sqlite:///{tmp_path / 'store.db'}")
    db = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    import_config(load_config_file(lab.write_config(tmp_path / "lab.yaml")))
    yield request.param, lab, env
    db.close()
    lab.stop()


def _production(lab: Lab):
    return lab.world.running[(SYSTEM, 3)].state


def _marker(image) -> str:
    assert image is not None, "the volume holds nothing"
    return image.state.ifs.read(MARKER).decode()


def _array(lab: Lab):
    return next(iter(lab.world.arrays.values()))


def _kept(family: str, lab: Lab, env: m.Environment) -> dict:
    """generation -> the marker its copy holds, read from the array's own state."""
    array = _array(lab)
    if family == "powermax":        # one snapshot name per generation, one snapid each, on the source group
        snaps = array.snapshots[f"{env.consistency_group}_SRC"]
        assert sorted(snaps) == [f"{env.consistency_group}_G{k}" for k in range(1, GENERATIONS + 1)]
        kept = {}
        for k in range(1, GENERATIONS + 1):
            (gen,) = snaps[f"{env.consistency_group}_G{k}"]
            markers = {_marker(image) for image in gen.images}
            assert len(markers) == 1, markers
            kept[k] = markers.pop()
        return kept
    targets = env.options["generation_targets"]
    sources = [p.source for p in env.volume_pairs.order_by(m.VolumePair.id)]
    rels = {(r.source.id, r.target.id) for r in array.relationships.values()}
    kept = {}
    for k in range(1, GENERATIONS + 1):
        volumes = [t[k - 1] for t in targets]
        assert all((s, v) in rels for s, v in zip(sources, volumes)), (k, sorted(rels))
        markers = {_marker(array.volumes[v].content) for v in volumes}
        assert len(markers) == 1, markers          # one consistent point in time per generation
        kept[k] = markers.pop()
    return kept


def test_four_generations_over_six_runs_and_the_boot_of_generation_2(gen_family):
    family, lab, env_name = gen_family
    prod = _production(lab)
    prod.ifs.make_dirs("/home/FLASH4I")
    runs = []
    for i in range(6):
        prod.ifs.write(MARKER, f"run {i + 1}".encode())       # production changes between the runs
        runs.append(run_now(env_name))
    assert [r.state for r in runs] == ["SUCCEEDED"] * 6, [r.message for r in runs]
    assert [r.snapshot["generation"] for r in runs] == [1, 2, 3, 4, 1, 2]
    env = m.Environment.get(m.Environment.name == env_name)
    # exactly 4 generations on the array, each holding the run that last took it
    assert _kept(family, lab, env) == {1: "run 5", 2: "run 6", 3: "run 3", 4: "run 4"}
    clone = next(lp for lp in lab.world.systems[SYSTEM].lpars.values() if lp.id == 7)
    assert clone.state == "Not Activated" and not lab.world.conflicts
    if family == "powermax":      # targetless: no run linked anything, the step said why
        assert all(g.links == [] for gens in _array(lab).snapshots[f"{env.consistency_group}_SRC"].values()
                   for g in gens)
        activate = next(s for s in runs[-1].steps if s.name == "ACTIVATE_TARGETS")
        assert activate.status == "SKIPPED", activate.status

    prod.ifs.write(MARKER, b"after the runs")
    result = rcvpnt.boot(env_name, generation=2, bound=120, poll=0.05)
    assert result.refcode in rcvpnt.MANUAL_IPL_CODES
    disks = [p.target for p in env.volume_pairs.order_by(m.VolumePair.id)]
    assert [_marker(_array(lab).volumes[d].content) for d in disks] == ["run 6"] * len(disks)
    assert (clone.state, clone.keylock, clone.refcode.code) == ("Running", "manual", result.refcode)
    assert (SYSTEM, 7) not in lab.world.running          # waits at its console: no OS, no TCP/IP
    address = {"ds8000": "10.20.1.10", "powermax": "10.20.2.10"}[family]
    assert lab.world.network.owner(address).state is prod
    assert not lab.world.conflicts
    # the recovery point itself is unchanged, and all 4 are still there
    assert _kept(family, lab, env) == {1: "run 5", 2: "run 6", 3: "run 3", 4: "run 4"}
    # a boot onto disks in use (the clone runs) is refused before any change
    with pytest.raises(SafetyRefusal, match="in use"):
        rcvpnt.boot(env_name, generation=1, bound=30, poll=0.05)
    assert [_marker(_array(lab).volumes[d].content) for d in disks] == ["run 6"] * len(disks)


# ------------------------------------------------------------------ refusals

@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_config(request, tmp_path_factory):
    """(family, environment, the configuration of that family's lab): started once per family."""
    env, topology = FAMILIES[request.param]
    with Lab(topology(), tmp_path_factory.mktemp(request.param), speed=LAB_SPEED) as lab:
        yield request.param, env, lab.config()


def _problems(cfg: dict) -> str:
    from flash4i_tui.config.schema import validate
    from flash4i_tui.config.yamlsrc import dump_yaml, load_yaml
    from flash4i_tui.errors import ConfigError
    with pytest.raises(ConfigError) as err:
        validate(load_yaml(dump_yaml(cfg)))
    return str(err.value)


@pytest.mark.parametrize("change, expected", [
    ({"generations": 13}, {"ds8000": "more than ds8000 allows per source volume (12 copies)",
                           "powermax": "give no targets"}),
    ({"generations": 257, "targets": None}, {"ds8000": "give one target per generation (257)",
                                             "powermax": "more than powermax allows per source volume (256 copies)"}),
])
def test_a_generation_count_past_the_array_limit_is_refused_by_the_configuration(family_config, change, expected):
    family, env_name, base = family_config
    cfg = copy.deepcopy(base)
    env = next(e for e in cfg["environments"] if e["name"] == env_name)
    env.update({k: v for k, v in change.items() if k != "targets"})
    if family == "powermax" and "targets" not in change:
        env["volumes"][0]["targets"] = ["00301"] * env["generations"]
    assert expected[family] in _problems(cfg)


def test_the_storage_limit_option_is_the_one_counted(family_config):
    family, env_name, base = family_config
    cfg = copy.deepcopy(base)
    storage = next(s for s in cfg["storage"] if s["type"] == family)
    storage.setdefault("options", {})["copies_per_source"] = 3
    assert f"4 generations are more than {family} allows per source volume (3 copies)" in _problems(cfg)


def _extra_copy(family: str, lab: Lab) -> None:
    """Another copy of production's first source volume, made on the array by someone else."""
    array = _array(lab)
    if family == "ds8000":
        array.add_volume("4000", array.volumes["1000"].capacity, thin=True)
        array.create_flashcopies([("1000", "4000")], ["no_background_copy", "persistent",
                                                      "permit_space_efficient_target"])
    else:
        array.create_sg("OTHER_SG")
        array.add_to_sg("OTHER_SG", ["00201"])
        array.establish("OTHER_SG", "OTHER_SNAP")


def test_check_refuses_a_generation_past_the_limit_counted_on_the_array(gen_family):
    family, lab, env_name = gen_family
    env = m.Environment.get(m.Environment.name == env_name)
    storage = env.storage
    storage.options = dict(storage.options or {}, copies_per_source=4)
    storage.save()
    _extra_copy(family, lab)
    array = _array(lab)
    runs = [run_now(env_name) for _ in range(3)]
    assert [r.state for r in runs] == ["SUCCEEDED"] * 3, [r.message for r in runs]
    before = (dict(array.relationships) if family == "ds8000"
              else {sg: dict(s) for sg, s in array.snapshots.items()})
    refused = run_now(env_name)                    # generation 4 would make 5 copies of the first source
    assert refused.state == "FAILED" and "past the array's limit of 4 per source volume" in refused.message
    check = next(s for s in refused.steps if s.name == "CHECK")
    assert check.status == "FAILED"
    after = (dict(array.relationships) if family == "ds8000"
             else {sg: dict(s) for sg, s in array.snapshots.items()})
    assert after == before and not lab.world.running[(SYSTEM, 3)].asp.suspended


def test_the_lab_array_refuses_a_copy_past_its_limit_per_source(gen_family):
    family, lab, _ = gen_family
    array = _array(lab)
    if family == "ds8000":
        from flash4i_tui.lab.ds8000.errors import Ds8kError
        array.relationships_per_source = 1
        array.add_volume("4000", array.volumes["1000"].capacity, thin=True)
        array.add_volume("4001", array.volumes["1000"].capacity, thin=True)
        options = ["no_background_copy", "persistent", "permit_space_efficient_target"]
        array.create_flashcopies([("1000", "4000")], options)
        with pytest.raises(Ds8kError) as err:
            array.create_flashcopies([("1000", "4001")], options)
        assert err.value.code == "BE7A0062" and "maximum number of FlashCopy relationships (1)" in err.value.text
        assert "1000:4001" not in array.relationships
    else:
        from flash4i_tui.lab.powermax.errors import PmaxError
        assert array.snapshots_per_source == 1024          # the lab's microcode is PowerMaxOS 10
        array.snapshots_per_source = 1
        array.create_sg("OTHER_SG")
        array.add_to_sg("OTHER_SG", ["00201"])
        array.establish("OTHER_SG", "SNAP_A")
        with pytest.raises(PmaxError, match="maximum number of snapshots"):
            array.establish("OTHER_SG", "SNAP_B")
        assert list(array.snapshots["OTHER_SG"]) == ["SNAP_A"]


def test_a_generation_a_boot_reads_through_is_not_taken_again(gen_family):
    family, lab, env_name = gen_family
    runs = [run_now(env_name) for _ in range(GENERATIONS)]
    assert [r.state for r in runs] == ["SUCCEEDED"] * GENERATIONS, [r.message for r in runs]
    rcvpnt.boot(env_name, generation=1, bound=120, poll=0.05)     # the oldest: the next run's
    array = _array(lab)
    before = (sorted(array.relationships) if family == "ds8000"
              else sorted((n, g.snapid) for s in array.snapshots.values() for n, gs in s.items() for g in gs))
    refused = run_now(env_name)
    assert refused.snapshot["generation"] == 1
    assert refused.state == "FAILED" and "in use by a boot" in refused.message, refused.message
    assert next(s for s in refused.steps if s.name == "CHECK").status == "FAILED"
    after = (sorted(array.relationships) if family == "ds8000"
             else sorted((n, g.snapid) for s in array.snapshots.values() for n, gs in s.items() for g in gs))
    assert after == before and not lab.world.conflicts


@pytest.mark.parametrize("gen_family", ["ds8000"], indirect=True)      # a DS8000 setting only
def test_a_ds8000_without_cascading_flashcopy_refuses_the_boot_before_any_change(gen_family):
    family, lab, env_name = gen_family
    assert [run_now(env_name).state for _ in range(2)] == ["SUCCEEDED"] * 2
    env = m.Environment.get(m.Environment.name == env_name)
    env.storage.options = dict(env.storage.options or {}, cascading_flashcopy=False)
    env.storage.save()
    array = _array(lab)
    before = sorted(array.relationships)
    with pytest.raises(SafetyRefusal, match="does not do cascading FlashCopy"):
        rcvpnt.boot(env_name, generation=1, bound=30, poll=0.05)
    clone = next(lp for lp in lab.world.systems[SYSTEM].lpars.values() if lp.id == 7)
    assert sorted(array.relationships) == before and clone.state == "Not Activated"
