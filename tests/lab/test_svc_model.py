"""The simulated Storage Virtualize array, driven directly (no sockets, manual lab time)."""
from __future__ import annotations

import yaml
import pytest

from flash4i_tui.lab.svc.errors import SvcError
from flash4i_tui.lab.svc.model import GiB, StorageArray, build_arrays
from flash4i_tui.lab.world import DiskImage, World

from ..conftest import REPO

MiB = 1024 ** 2


class FakeState:
    """Stands in for an IBM i's on-disk state: snapshot() is what world.capture() calls."""

    def __init__(self, data: dict):
        self.data = data
        self.snapshots = 0

    def snapshot(self):
        self.snapshots += 1
        return FakeState(dict(self.data)), "quiesced"


class FakeRuntime:
    """A running partition as world.volume_overwritten() sees it."""

    label = "CLONE1"

    def __init__(self, volumes):
        self.volumes = volumes
        self.crashed = None

    def crash(self, why: str) -> None:
        self.crashed = why


@pytest.fixture
def world():
    return World(speed=1)        # not started: the tests advance lab time with array.tick()


@pytest.fixture
def array(world):
    a = StorageArray(world, "FS1", "FS1-CL", ["Pool0", "Pool1"], ["flash4i"])
    a.add_volume("SRC1", GiB)
    a.add_volume("SRC2", GiB)
    a.add_volume("TGT1", GiB, thin=True)
    a.add_volume("TGT2", GiB, thin=True)
    a.add_volume("SMALL", GiB // 2, thin=True)
    state = FakeState({"sysname": "PROD", "orders": 10})
    a.volume("SRC1").content = DiskImage("PROD", 1, 2, state)
    a.volume("SRC2").content = DiskImage("PROD", 2, 2, state)
    return a


def code(excinfo) -> str:
    return excinfo.value.msg_id


def group_of_two(a: StorageArray, copyrate: int = 0, name: str = "FLG", autodelete: bool = False):
    group = a.mkfcconsistgrp(name)
    maps = [a.mkfcmap("SRC1", "TGT1", consistgrp=name, copyrate=copyrate, autodelete=autodelete),
            a.mkfcmap("SRC2", "TGT2", consistgrp=name, copyrate=copyrate, autodelete=autodelete)]
    return group, maps


def prepare_and_start(a: StorageArray, name: str = "FLG") -> None:
    a.prestartfcconsistgrp(name)
    a.tick(a.prepare_delay + 0.1)
    a.startfcconsistgrp(name)


# ------------------------------------------------------------------ objects

def test_ids_names_and_uids(array):
    vols = sorted(array.volumes.values(), key=lambda v: v.id)
    assert [v.id for v in vols] == [0, 1, 2, 3, 4]
    uids = [v.uid for v in vols]
    assert len(set(uids)) == 5 and all(len(u) == 32 and int(u, 16) >= 0 for u in uids)
    tgt = array.volume("TGT1")
    assert array.volume("2") is tgt and array.volume(2) is tgt and array.volume(tgt.uid) is tgt
    assert array.volume_by_uid(tgt.uid.lower()) is tgt and array.volume("NOPE") is None
    g = array.mkfcconsistgrp()
    assert (g.id, g.name, g.status) == (1, "fccstgrp1", "empty")
    m0, m1 = array.mkfcmap("SRC1", "TGT1"), array.mkfcmap("SRC2", "TGT2")
    assert (m0.id, m0.name, m1.id, m0.copy_rate, m0.status) == (0, "fcmap0", 1, 50, "idle_or_copied")
    array.rmfcmap("fcmap0")
    assert array.mkfcmap("SRC1", "TGT1").id == 0          # the lowest free id is reused


def test_builder_accepts_the_lab_topology(world):
    topology = yaml.safe_load((REPO / "data" / "lab-topology.yaml").read_text())
    build_arrays(world, topology["storage"])
    a = world.arrays["FS9500"]
    assert a.cluster == "FS9500-CL1" and a.users == ["superuser", "flash4i"] and len(a.volumes) == 17
    assert a.volume("PROD_001").capacity == 80 * GiB and not a.volume("PROD_001").thin
    assert a.volume("CLN1_001").thin and a.volume("TEST_SMALL").capacity == 40 * GiB
    assert [v.name for v in a.npiv_volumes("P10-PROD", 5)] == ["CLN1_001", "CLN1_002", "CLN1_003", "CLN1_004"]
    assert [v.name for v in a.vios_volumes("P10-PROD", "VIOS1")] == ["CLN2_001", "CLN2_002", "CLN2_003",
                                                                       "CLN2_004"]
    assert a.npiv_volumes("P10-PROD", 6) == [] and a.vios_volumes("OTHER", "VIOS1") == []
    assert [v.name for v in world.disks_of("P10-PROD", 3)] == ["PROD_001", "PROD_002", "PROD_003", "PROD_004"]
    assert world.volume_by_uid(a.volume("RCV_002").uid) is a.volume("RCV_002")


def test_builder_refuses_unknown_keys_and_volumes(world):
    with pytest.raises(ValueError, match="unknown keys size"):
        build_arrays(world, [{"name": "X", "type": "svc", "pools": ["P"], "volumes": [{"name": "V", "size": 1}]}])
    with pytest.raises(ValueError, match="unknown volume"):
        build_arrays(world, [{"name": "Y", "type": "svc", "pools": ["P"],
                              "hosts": [{"name": "H", "vios": {"system": "S", "lpar": "V"}, "volumes": ["NONE"]}]}])
    build_arrays(world, [{"name": "DS", "type": "ds8000"}])          # other families are not ours
    assert "DS" not in world.arrays


def test_host_mappings_in_scsi_order(array):
    host = array.add_host("CLONE_FC", ["C050760A1B2C0030"], npiv_lpar=("SYS", 5))
    assert array.map_volume("CLONE_FC", "TGT2", scsi=5) == 5
    assert array.map_volume("CLONE_FC", "TGT1") == 0
    assert [v.name for v in array.npiv_volumes("SYS", 5)] == ["TGT1", "TGT2"]
    with pytest.raises(SvcError) as exc:
        array.map_volume("CLONE_FC", "TGT1")
    assert code(exc) == "CMMVC6071E"
    with pytest.raises(SvcError) as exc:
        array.map_volume("CLONE_FC", "SMALL", scsi=5)
    assert code(exc) == "CMMVC5879E"
    array.unmap_volume("CLONE_FC", "TGT2")
    assert list(host.mappings) == [0]
    with pytest.raises(SvcError) as exc:
        array.unmap_volume("CLONE_FC", "TGT2")
    assert code(exc) == "CMMVC5753E"


# ------------------------------------------------------------------ the state machine

def test_every_legal_transition_of_a_nocopy_group(array):
    group, maps = group_of_two(array)
    assert group.status == "idle_or_copied" and all(m.group is group for m in maps)
    array.prestartfcconsistgrp("FLG")
    assert group.status == "preparing" and {m.status for m in maps} == {"preparing"}
    array.tick(array.prepare_delay / 2)
    assert group.status == "preparing"
    array.tick(array.prepare_delay)
    assert group.status == "prepared" and array.volume("TGT1").status == "offline"
    array.startfcconsistgrp("FLG")
    assert group.status == "copying" and group.start_time is not None
    assert array.volume("TGT1").status == "online" and maps[0].start_time == group.start_time
    array.tick(10 ** 6)
    assert group.status == "copying" and maps[0].progress == 0          # copyrate 0 copies nothing by itself
    array.stopfcconsistgrp("FLG")
    assert group.status == "stopping"
    array.tick(array.stop_delay + 0.1)
    assert group.status == "stopped" and {m.status for m in maps} == {"stopped"}
    assert array.volume("TGT1").content is None and array.volume("TGT1").status == "offline"
    array.prestartfcconsistgrp("FLG")                                   # stopped -> preparing
    array.tick(array.prepare_delay + 0.1)
    array.stopfcconsistgrp("FLG")                                       # prepared -> stopped at once
    assert group.status == "stopped"
    array.rmfcmap(maps[0].name, force=True)                             # stopped needs -force
    assert maps[0].id not in array.fcmaps and group.maps == [maps[1]]
    assert array.volume("TGT1").status == "online"


def test_start_with_prep_and_the_prestart_rule(array):
    group, _ = group_of_two(array)
    array.startfcconsistgrp("FLG", prep=True)                            # idle_or_copied -> copying
    assert group.status == "copying"
    array.stopfcconsistgrp("FLG", force=True)
    assert group.status == "stopped"
    array.prestartfcconsistgrp("FLG")
    with pytest.raises(SvcError) as exc:                                 # still preparing
        array.startfcconsistgrp("FLG", prep=True)
    assert code(exc) == "CMMVC5903E"
    array.tick(array.prepare_delay + 0.1)
    array.prep_after_prestart_fails = True                               # the [U] rule, switched on
    with pytest.raises(SvcError) as exc:
        array.startfcconsistgrp("FLG", prep=True)
    assert code(exc) == "CMMVC5903E"
    array.prep_after_prestart_fails = False
    array.startfcconsistgrp("FLG", prep=True)
    assert group.status == "copying"


@pytest.mark.parametrize("steps, action", [
    ([], lambda a: a.startfcconsistgrp("FLG")),                           # idle_or_copied: start
    ([], lambda a: a.stopfcconsistgrp("FLG")),                            # idle_or_copied: stop
    (["prestart"], lambda a: a.prestartfcconsistgrp("FLG")),              # preparing: prestart
    (["prestart"], lambda a: a.stopfcconsistgrp("FLG")),                  # preparing: stop
    (["prestart", "tick", "start"], lambda a: a.prestartfcconsistgrp("FLG")),   # copying: prestart
    (["prestart", "tick", "start"], lambda a: a.rmfcmap("fcmap0", force=True)),  # copying: rmfcmap
    (["prestart", "tick", "start"], lambda a: a.stopfcconsistgrp("FLG", split=True)),  # split below 100
    (["prestart", "tick", "start"], lambda a: a.chfcmap("fcmap0", consistgrp="0")),  # leave while copying
    (["prestart", "tick", "start", "stop", "tick"], lambda a: a.rmfcmap("fcmap0")),   # stopped without -force
    (["prestart", "tick"], lambda a: a.startfcmap("fcmap0")),             # a member alone
])
def test_illegal_transitions_are_refused(array, steps, action):
    group, maps = group_of_two(array)
    do = {"prestart": lambda: array.prestartfcconsistgrp("FLG"), "tick": lambda: array.tick(10),
          "start": lambda: array.startfcconsistgrp("FLG"), "stop": lambda: array.stopfcconsistgrp("FLG")}
    for step in steps:
        do[step]()
    before = (group.status, [m.status for m in maps])
    with pytest.raises(SvcError) as exc:
        action(array)
    assert code(exc) == "CMMVC5903E"
    assert (group.status, [m.status for m in maps]) == before


def test_empty_group_cannot_be_prepared_and_stop_on_idle_can_be_a_noop(array):
    array.mkfcconsistgrp("EMPTY")
    with pytest.raises(SvcError) as exc:
        array.prestartfcconsistgrp("EMPTY")
    assert code(exc) == "CMMVC5903E"
    group, _ = group_of_two(array)
    array.stop_idle_noop = True
    array.stopfcconsistgrp("FLG")
    assert group.status == "idle_or_copied"


@pytest.mark.parametrize("call, expected", [
    (lambda a: a.mkfcmap("SRC1", "SMALL"), "CMMVC5924E"),
    (lambda a: a.mkfcmap("SRC1", "SRC1"), "CMMVC6303E"),
    (lambda a: a.mkfcmap("SRC1", "NOPE"), "CMMVC5754E"),
    (lambda a: a.mkfcmap("SRC1", "TGT1", consistgrp="NOGROUP"), "CMMVC5754E"),
    (lambda a: a.mkfcmap("SRC1", "TGT1", copyrate=151), "CMMVC5767E"),
    (lambda a: a.startfcconsistgrp("NOGROUP"), "CMMVC5753E"),
    (lambda a: a.rmfcmap("fcmap9"), "CMMVC5753E"),
    (lambda a: a.mkfcconsistgrp("ABCDEFGHIJKLMNOP"), "CMMVC6527E"),        # 16 characters
    (lambda a: a.mkfcconsistgrp("1GROUP"), "CMMVC6527E"),
    (lambda a: a.mkfcconsistgrp("A;B"), "CMMVC6527E"),
    (lambda a: a.mkfcmap("SRC1", "TGT1", name="trailing "), "CMMVC6527E"),
])
def test_creation_errors(array, call, expected):
    with pytest.raises(SvcError) as exc:
        call(array)
    assert code(exc) == expected
    assert not array.fcmaps


def test_duplicate_names(array):
    array.mkfcconsistgrp("FLG")
    array.mkfcmap("SRC1", "TGT1", name="MAP1")
    for call in (lambda: array.mkfcconsistgrp("FLG"), lambda: array.mkfcmap("SRC2", "TGT2", name="MAP1")):
        with pytest.raises(SvcError) as exc:
            call()
        assert code(exc) == "CMMVC6035E"
    assert array.mkfcconsistgrp("ABCDEFGHIJKLMNO").name == "ABCDEFGHIJKLMNO"   # 15 is the limit


# ------------------------------------------------------------------ what the flash does to the data

def test_the_flash_captures_the_sources_at_that_instant(array):
    group_of_two(array)
    source_state = array.volume("SRC1").content.state
    prepare_and_start(array)
    t1, t2 = array.volume("TGT1").content, array.volume("TGT2").content
    assert (t1.set_id, t1.unit, t1.units, t2.unit) == ("PROD", 1, 2, 2)
    assert t1.consistency == "quiesced" and t1.state is t2.state     # one snapshot for the whole group
    assert source_state.snapshots == 1
    source_state.data["orders"] = 11                                  # production goes on writing
    assert t1.state.data == {"sysname": "PROD", "orders": 10}
    assert array.volume("SRC1").content.state.data["orders"] == 11


def test_a_flash_onto_a_volume_in_use_crashes_that_partition(array, world):
    group_of_two(array)
    runtime = FakeRuntime([array.volume("TGT2")])
    world.running[("SYS", 5)] = runtime
    prepare_and_start(array)
    assert runtime.crashed and "TGT2" in runtime.crashed
    assert [e.data.get("volume") for e in world.conflicts] == ["TGT2"]


def test_thin_targets_grow_by_copy_on_write_and_by_their_own_writes(array):
    group_of_two(array)
    tgt1, src1 = array.volume("TGT1"), array.volume("SRC1")
    tgt1.used_bytes = 300 * MiB                                       # left from an earlier copy
    src1.write(10 * MiB)                                              # no active mapping yet
    assert tgt1.used_bytes == 300 * MiB and src1.used_bytes == GiB    # a full source stays full
    prepare_and_start(array)
    assert tgt1.used_bytes == 0
    src1.write(10 * MiB)
    assert tgt1.used_bytes == 10 * MiB and array.volume("TGT2").used_bytes == 0
    tgt1.write(5 * MiB)                                               # the clone writes too
    assert tgt1.used_bytes == 15 * MiB
    assert tgt1.real_bytes == tgt1.used_bytes + int(GiB * 0.02) and tgt1.free_bytes == int(GiB * 0.02)
    src1.write(4 * GiB)                                               # bounded by the capacity
    assert tgt1.used_bytes == GiB
    array.stopfcconsistgrp("FLG", force=True)
    array.volume("SRC2").write(10 * MiB)
    assert array.volume("TGT2").used_bytes == 0                       # stopped: no more copy-on-write


def test_stop_split_when_every_grain_is_copied_keeps_the_targets(array):
    group, maps = group_of_two(array)
    prepare_and_start(array)
    array.volume("SRC1").write(GiB)
    array.volume("SRC2").write(GiB)
    assert [m.progress for m in maps] == [100, 100] and group.status == "copying"
    array.stopfcconsistgrp("FLG", split=True)
    array.tick(array.stop_delay + 0.1)
    assert group.status == "idle_or_copied" and array.volume("TGT1").content is not None


def test_background_copy_progresses_to_100_and_autodeletes(array):
    group, maps = group_of_two(array, copyrate=50, autodelete=True)
    assert array.copy_speed(50) == 2 * MiB and array.copy_speed(41) == 2 * MiB
    assert array.copy_speed(150) == 2 * GiB and array.copy_speed(0) == 0
    prepare_and_start(array)
    array.tick(GiB / (2 * MiB) / 2)                                    # half of 512 lab seconds
    assert [m.progress for m in maps] == [50, 50] and group.status == "copying"
    assert array.volume("TGT1").used_bytes == GiB // 2
    array.tick(300)
    assert not array.fcmaps and group.status == "empty" and array.group("FLG") is group
    assert array.volume("TGT1").used_bytes == GiB and array.volume("TGT1").content is not None


def test_background_copy_without_autodelete_ends_idle(array):
    group, maps = group_of_two(array, copyrate=150)
    prepare_and_start(array)
    array.tick(1)
    assert group.status == "idle_or_copied" and [m.progress for m in maps] == [100, 100]


def test_rmfcconsistgrp_with_and_without_force(array):
    group, maps = group_of_two(array)
    with pytest.raises(SvcError) as exc:
        array.rmfcconsistgrp("FLG")
    assert code(exc) == "CMMVC6045E"
    prepare_and_start(array)
    array.rmfcconsistgrp("FLG", force=True)
    assert array.group("FLG") is None and [m.group for m in maps] == [None, None]
    assert [m.status for m in maps] == ["copying", "copying"]         # the mappings stay
    array.stopfcmap("fcmap0", force=True)
    assert maps[0].status == "stopped"
    auto = array.mkfcconsistgrp("AUTO", autodelete=True)
    m = array.mkfcmap("SRC2", "TGT1", consistgrp="AUTO")
    array.rmfcmap(m.name)
    assert array.group("AUTO") is None and auto.status == "empty"
    array.mkfcconsistgrp("PLAIN")
    array.rmfcconsistgrp("PLAIN")
    assert array.group("PLAIN") is None


def test_chfcmap(array):
    group, maps = group_of_two(array)
    array.chfcmap("fcmap0", copyrate=80)
    assert maps[0].copy_rate == 80
    array.chfcmap("fcmap0", consistgrp="0")
    assert maps[0].group is None and group.maps == [maps[1]]
    array.chfcmap("fcmap0", consistgrp="FLG")
    assert group.maps == [maps[1], maps[0]]
    with pytest.raises(SvcError) as exc:
        array.chfcmap("fcmap0", name="X", copyrate=1)
    assert code(exc) == "CMMVC5713E"
    array.chfcmap("fcmap0", name="RENAMED")
    assert array.fcmap("RENAMED") is maps[0]


def test_stop_works_from_suspended(array):
    group, maps = group_of_two(array)
    prepare_and_start(array)
    array._move(group, "suspended")            # lost access to the bitmap (an I/O group offline)
    with pytest.raises(SvcError) as exc:
        array.prestartfcconsistgrp("FLG")
    assert code(exc) == "CMMVC5903E"
    array.stopfcconsistgrp("FLG")
    assert group.status == "stopping"
    array.tick(array.stop_delay + 0.1)
    assert group.status == "stopped" and [m.status for m in maps] == ["stopped", "stopped"]
