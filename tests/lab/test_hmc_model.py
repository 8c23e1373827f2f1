"""The HMC model: partition states and reference codes, power operations, errors, VIOS mappings."""
from __future__ import annotations

import time

import pytest

from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.lab.hmc.errors import HsclError, IoscliError
from flash4i_tui.lab.hmc.model import (ERROR, NOT_ACTIVATED, RUNNING, STARTING, Lpar, Vios, build_hmcs)
from flash4i_tui.lab.world import World

from .hmc_support import FakeArray, install_fake_boot, make_world, topology, wait_for


@pytest.fixture
def boot(monkeypatch):
    return install_fake_boot(monkeypatch)


@pytest.fixture
def world(boot):
    world = make_world()
    yield world
    world.stop()


def codes(lpar: Lpar) -> list:
    return [entry.code for entry in lpar.refcodes]


def ipl_done(lpar: Lpar) -> bool:
    return lpar.state == RUNNING and lpar.refcode.code == "00000000" and lpar.runtime is not None


def uid(world: World, name: str) -> str:
    return world.arrays["FS9500"].volumes[name].uid


# ---------------------------------------------------------------- build


def test_build_registers_systems_and_boots_running_partitions(world, boot):
    msys = world.systems["P10-PROD"]
    assert world.hmcs["HMC1"].systems["P10-PROD"] is msys
    assert {l.name: l.state for l in msys.lpars.values()} == {
        "VIOS1": RUNNING, "PROD": RUNNING, "CLONE1": NOT_ACTIVATED, "CLONE2": NOT_ACTIVATED,
        "CLONE3": NOT_ACTIVATED}
    assert isinstance(msys.lpar(name="VIOS1"), Vios) and msys.lpar(name="VIOS1").lpar_env == "vioserver"
    # PROD booted instantly, through the IBM i contract, from its NPIV volumes
    [call] = boot.calls
    assert call["instant"] is True and call["lpar"] == "PROD" and call["id"] == 3
    assert call["serial"] == "78AB12C" and call["system"] == "P10-PROD"
    assert call["volumes"] == ["PROD_001", "PROD_002", "PROD_003", "PROD_004"]
    prod = msys.lpar(name="PROD")
    assert prod.refcode.code == "00000000" and prod.runtime is boot.runtimes[0]
    assert prod.curr_profile == "normal" and msys.lpar(name="CLONE1").refcode.code == "00000000"


def test_build_maps_the_vios_disks_listed_as_mapped(world):
    msys = world.systems["P10-PROD"]
    vios = msys.vios["VIOS1"]
    assert [d.volume_name for d in vios.hdisks.values()] == ["", "CLN2_001", "CLN2_002", "CLN2_003", "CLN2_004"]
    assert [(v.vhost, v.hdisk, v.lun) for v in vios.vtds.values()][:2] == [
        ("vhost1", "hdisk1", "0x8100000000000000"), ("vhost1", "hdisk2", "0x8200000000000000")]
    assert msys.vscsi_backing_uids(6) == [uid(world, f"CLN2_00{i}") for i in range(1, 5)]
    assert msys.vscsi_backing_uids(3) == []
    assert vios.hdisks["hdisk1"].unique_id.find(uid(world, "CLN2_001")) > 0


def test_build_rejects_unknown_keys_and_volumes():
    data = topology()
    data["hmcs"][0]["managed_systems"][0]["lpars"][0]["colour"] = "red"
    with pytest.raises(ValueError, match="colour"):
        build_hmcs(World(speed=1000), data["hmcs"])
    data = topology()
    data["hmcs"][0]["managed_systems"][0]["vios"][0]["mapped"] = {"vhost1": ["PROD_001"]}
    world = World(speed=1000)
    world.arrays["FS9500"] = FakeArray(data["storage"][0])
    with pytest.raises(ValueError, match="PROD_001"):
        build_hmcs(world, data["hmcs"])


# ---------------------------------------------------------------- activation


def test_activation_timeline_ends_at_ipl_complete(world, boot):
    clone = world.systems["P10-PROD"].lpar(name="CLONE1")
    before = len(clone.refcodes)
    clone.activate("normal")
    assert clone.state == STARTING and clone.curr_profile == "normal"
    wait_for(lambda: ipl_done(clone), what="CLONE1 IPL")
    seen = codes(clone)[before:]
    assert seen[:4] == list(Lpar.FIRMWARE_STEPS[i][0] for i in range(4))
    assert seen[4:] == [c for c, _ in boot.LIC + boot.OS] + ["00000000"]
    assert boot.calls[-1]["volumes"] == ["CLN1_001", "CLN1_002", "CLN1_003", "CLN1_004"]
    assert boot.calls[-1]["instant"] is False
    stamps = [e.at for e in clone.refcodes[before:]]
    assert stamps == sorted(stamps)
    assert clone.history(2)[0].code == "00000000" and clone.history(2)[1].code == "C900297C"


def test_running_from_the_lic_phase_on(world, boot, monkeypatch):
    """Running alone is not IPL complete: the state turns Running when the LIC starts."""
    states = []
    monkeypatch.setattr(boot, "LIC", (("C6003900", 30.0),))
    real = boot.__class__.__call__

    def spy(self, world_, ref, volumes, report, cancel, instant=False):
        states.append(world_.systems["P10-PROD"].lpar(name=ref.name).state)
        return real(self, world_, ref, volumes, report, cancel, instant)

    monkeypatch.setattr(boot.__class__, "__call__", spy)
    clone = world.systems["P10-PROD"].lpar(name="CLONE1")
    clone.activate()
    wait_for(lambda: ipl_done(clone))
    assert states == [RUNNING]


def test_vscsi_client_boots_from_its_vios_disks(world, boot):
    clone = world.systems["P10-PROD"].lpar(name="CLONE2")
    clone.activate("normal")
    wait_for(lambda: ipl_done(clone))
    assert boot.calls[-1]["volumes"] == ["CLN2_001", "CLN2_002", "CLN2_003", "CLN2_004"]


def test_wrong_state_and_unknown_objects(world):
    msys = world.systems["P10-PROD"]
    with pytest.raises(HsclError) as exc:
        msys.lpar(name="PROD").activate("normal")
    assert exc.value.msg_id == "HSCL3681"
    with pytest.raises(HsclError) as exc:
        msys.lpar(name="NOSUCH")
    assert exc.value.msg_id == "HSCL8012" and "NOSUCH" in str(exc.value)
    with pytest.raises(HsclError) as exc:
        msys.lpar(name="CLONE1").activate("nosuch")
    assert exc.value.msg_id == "HSCL8012"
    with pytest.raises(HsclError) as exc:
        msys.lpar(name="CLONE1").shutdown(immediate=True)
    assert exc.value.msg_id == "HSCL1558"
    with pytest.raises(HsclError) as exc:
        world.hmcs["HMC1"].system("P9-OTHER")
    assert exc.value.msg_id == "HSCL8012"


def test_boot_failure_sets_its_refcode_and_state(world, boot):
    world.arrays["FS9500"].npiv_hosts[("P10-PROD", 5)] = []       # CLONE1 sees no disk
    clone = world.systems["P10-PROD"].lpar(name="CLONE1")
    clone.activate("normal")
    wait_for(lambda: clone.state == ERROR)
    assert clone.refcode.code == "B2003110" and clone.runtime is None
    assert any("no load source" in e.text for e in world.events)
    clone.shutdown(immediate=True)                    # Error is cleared by a shutdown
    wait_for(lambda: clone.state == NOT_ACTIVATED)


def test_a_failing_boot_module_leaves_error_not_starting(world, monkeypatch):
    def broken():
        raise ImportError("no IBM i model")
    monkeypatch.setattr(Lpar, "boot_loader", staticmethod(broken))
    clone = world.systems["P10-PROD"].lpar(name="CLONE1")
    clone.activate()
    wait_for(lambda: clone.state == ERROR)
    assert clone.refcode.code == Lpar.INTERNAL_FAILURE_REFCODE


def test_manual_keylock_waits_for_a_console(world):
    clone = world.systems["P10-PROD"].lpar(name="CLONE1")
    clone.activate("normal", keylock="manual")
    wait_for(lambda: clone.refcode.code == "A6005008")
    time.sleep(0.05)
    assert clone.state == RUNNING and clone.refcode.code == "A6005008" and clone.runtime is None
    clone.shutdown(immediate=True)
    wait_for(lambda: clone.state == NOT_ACTIVATED)


# ---------------------------------------------------------------- shutdown


def test_immediate_shutdown_halts_abnormally(world, boot):
    prod = world.systems["P10-PROD"].lpar(name="PROD")
    runtime = prod.runtime
    before = len(prod.refcodes)
    prod.shutdown(immediate=True)
    assert prod.runtime is None
    wait_for(lambda: prod.state == NOT_ACTIVATED)
    assert runtime.halts == [(True, "HMC immediate shutdown (panel function 8)")]
    assert codes(prod)[before:] == [c for c, _ in Lpar.IMMEDIATE_SHUTDOWN_STEPS] + ["00000000"]
    assert prod.state == NOT_ACTIVATED


def test_delayed_shutdown_ends_normally_and_can_be_escalated(world, boot, monkeypatch):
    monkeypatch.setattr(Lpar, "DELAYED_SHUTDOWN_STEPS", (("D9002010", 10 ** 6),))
    prod = world.systems["P10-PROD"].lpar(name="PROD")
    runtime = prod.runtime
    prod.shutdown()
    wait_for(lambda: prod.refcode.code == "D9002010")
    assert runtime.halts == [(False, "HMC delayed shutdown")]
    with pytest.raises(HsclError) as exc:                 # a second delayed shutdown: wrong state
        prod.shutdown()
    assert exc.value.msg_id == "HSCL05DF"
    with pytest.raises(HsclError) as exc:
        prod.activate()
    assert exc.value.msg_id == "HSCL05DF"
    prod.shutdown(immediate=True)                          # escalate: panel function 8
    wait_for(lambda: prod.state == NOT_ACTIVATED, timeout=2)


def test_os_shutdown_needs_rmc(world, boot):
    clone = world.systems["P10-PROD"].lpar(name="CLONE1")
    boot.LIC = (("C6003900", 10 ** 6),)
    clone.activate()
    wait_for(lambda: clone.refcode.code == "C6003900")
    with pytest.raises(HsclError) as exc:                  # IPL in progress: no RMC yet
        clone.shutdown(os_shutdown=True)
    assert exc.value.msg_id == "HSCL0DB4"
    prod = world.systems["P10-PROD"].lpar(name="PROD")
    runtime = prod.runtime
    prod.shutdown(os_shutdown=True, immediate=True)
    wait_for(lambda: prod.state == NOT_ACTIVATED)
    assert runtime.halts == [(False, "HMC operating system shutdown (immediate)")]


def test_shutdown_with_restart_ipls_again(world, boot):
    prod = world.systems["P10-PROD"].lpar(name="PROD")
    first = prod.runtime
    prod.shutdown(immediate=True, restart=True)
    wait_for(lambda: ipl_done(prod) and prod.runtime is not first)
    assert first.halts and boot.calls[-1]["instant"] is False and prod.curr_profile == "normal"


def test_os_power_off_with_restart_is_followed(world, boot):
    """PWRDWNSYS RESTART(*YES) from the IBM i: the HMC does not halt it again and IPLs it."""
    clone = world.systems["P10-PROD"].lpar(name="CLONE1")
    clone.activate()
    wait_for(lambda: ipl_done(clone))
    runtime = clone.runtime
    before = len(clone.refcodes)
    boot.calls[-1]["ref"].power_off(restart=True, immediate=True)
    wait_for(lambda: ipl_done(clone) and clone.runtime is not runtime)
    assert runtime.halts == []
    seen = codes(clone)[before:]
    assert seen[:3] == ["D6000430", "D600430B", "00000000"] and seen[3] == "C2001100"
    boot.calls[-2]["ref"].power_off(restart=False, immediate=True)     # a stale runtime changes nothing
    time.sleep(0.02)
    assert ipl_done(clone)


def test_os_refcode_failure_shows_error(world, boot):
    prod = world.systems["P10-PROD"].lpar(name="PROD")
    boot.calls[0]["ref"].set_refcode("B9003000")
    assert prod.state == ERROR and prod.refcode.code == "B9003000"


# ---------------------------------------------------------------- stall fault


def test_ipl_stall_holds_until_cleared(world, boot):
    world.faults.replace(FaultRules.parse([{"ipl_stall": {"lpar": "CLONE1", "refcode": "C6004031"}}]))
    clone = world.systems["P10-PROD"].lpar(name="CLONE1")
    clone.activate()
    wait_for(lambda: clone.refcode.code == "C6004031")
    time.sleep(0.1)                                        # thousands of lab seconds
    assert clone.refcode.code == "C6004031" and clone.state == RUNNING
    world.faults.clear()
    wait_for(lambda: ipl_done(clone))


def test_ipl_stall_ends_with_a_shutdown(world, boot):
    world.faults.replace(FaultRules.parse([{"ipl_stall": {"lpar": "CLONE1", "refcode": "C20011FF"}}]))
    clone = world.systems["P10-PROD"].lpar(name="CLONE1")
    clone.activate()
    wait_for(lambda: clone.refcode.code == "C20011FF")
    assert clone.state == STARTING
    clone.shutdown(immediate=True)
    wait_for(lambda: clone.state == NOT_ACTIVATED)
    time.sleep(0.02)
    assert clone.state == NOT_ACTIVATED and not any(c["lpar"] == "CLONE1" for c in boot.calls)


# ---------------------------------------------------------------- VIOS


def test_vios_rmdev_mkvdev_cfgdev(world):
    msys = world.systems["P10-PROD"]
    vios = msys.vios["VIOS1"]
    with pytest.raises(IoscliError, match="busy"):
        vios.rmdev("hdisk2")
    assert vios.rmdev("hdisk2", recursive=True) == ["vtscsi1", "hdisk2"]
    assert uid(world, "CLN2_002") not in msys.vscsi_backing_uids(6)
    assert len(msys.vscsi_backing_uids(6)) == 3
    vios.cfgdev()                                          # the volume is still mapped: a new hdisk
    assert vios.hdisks["hdisk5"].uid == uid(world, "CLN2_002")
    vtd = vios.mkvdev("hdisk5", "vhost1")
    assert (vtd.name, vtd.lun, vtd.status) == ("vtscsi4", "0x8200000000000000", "Available")
    assert sorted(msys.vscsi_backing_uids(6)) == sorted(uid(world, f"CLN2_00{i}") for i in range(1, 5))
    with pytest.raises(IoscliError, match="already being used"):
        vios.mkvdev("hdisk5", "vhost0")
    assert vios.mkvdev("hdisk0", "vhost0", "prod_lu0").name == "prod_lu0"
    with pytest.raises(IoscliError, match="0514-519"):
        vios.rmdev("hdisk9")


def test_vscsi_disks_vanish_when_the_array_unmaps_or_the_vios_stops(world):
    msys = world.systems["P10-PROD"]
    world.arrays["FS9500"].vios_hosts[("P10-PROD", "VIOS1")].remove("CLN2_004")
    assert uid(world, "CLN2_004") not in msys.vscsi_backing_uids(6)
    msys.vios["VIOS1"].shutdown(immediate=True)
    assert msys.vscsi_backing_uids(6) == []


def test_real_ibmi_boot_contract():
    """With the IBM i model present: a partition without disks cannot IPL (BootFailure)."""
    pytest.importorskip("flash4i_tui.lab.ibmi.boot")
    world = make_world()
    try:
        world.arrays["FS9500"].npiv_hosts[("P10-PROD", 5)] = []
        clone = world.systems["P10-PROD"].lpar(name="CLONE1")
        clone.activate("normal")
        wait_for(lambda: clone.state not in (STARTING, RUNNING) or clone.refcode.code[:1] in "AB", timeout=10)
        assert clone.runtime is None and clone.refcode.code != "00000000"
    finally:
        world.stop()
