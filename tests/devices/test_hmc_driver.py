"""The HMC driver against the lab HMC over SSH, its strict parsers, and its command lines."""
from __future__ import annotations

import re
import time
from typing import List

import pytest

from flash4i_tui.devices.hmc import (HmcDriver, LparInfo, RefCode, Vhost, Vtd, parse_attr_line, parse_csv_line,
                                     parse_lsmap)
from flash4i_tui.devices.ssh import CommandResult, SshSession
from flash4i_tui.errors import DeviceError, StepTimeout, ValidationError
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.lab.hmc.model import Lpar

from tests.lab.hmc_support import FakeBootFailure, install_fake_boot, make_world, start_hmc_front

SYS = "P10-PROD"


@pytest.fixture
def lab(monkeypatch, tmp_path):
    boot = install_fake_boot(monkeypatch)
    world = make_world()
    running = start_hmc_front(world, tmp_path)
    session = SshSession(running.endpoint())
    yield world, HmcDriver(session, "HMC1"), boot
    session.close()
    running.front.stop()
    world.stop()


# ---------------------------------------------------------------- against the lab (real sockets)


@pytest.mark.lab
def test_lpar_lpars_refcode(lab):
    _, hmc, _ = lab
    assert hmc.lpar(SYS, "PROD") == LparInfo("PROD", 3, "Running", "os400", "normal", "normal")
    assert hmc.lpar(SYS, "CLONE1") == LparInfo("CLONE1", 5, "Not Activated", "os400", "", "normal")
    assert [(i.name, i.id, i.env) for i in hmc.lpars(SYS)] == [
        ("VIOS1", 1, "vioserver"), ("PROD", 3, "os400"), ("CLONE1", 5, "os400"), ("CLONE2", 6, "os400"),
        ("CLONE3", 7, "os400")]
    ref = hmc.refcode(SYS, "PROD")
    assert ref.code == "00000000" and re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d", ref.time)
    with pytest.raises(DeviceError) as exc:
        hmc.lpar(SYS, "NOPE")
    assert exc.value.msg_id == "HSCL8012" and "lssyscfg" in exc.value.command
    with pytest.raises(DeviceError) as exc:
        hmc.lpars("P9-OTHER")
    assert exc.value.msg_id == "HSCL8012"


@pytest.mark.lab
def test_activate_and_wait_ipl(lab):
    world, hmc, boot = lab
    world.clock.speed = 2000.0             # an IPL of ~0.25 s: slow enough to watch it progress
    progress: List[tuple] = []
    hmc.activate(SYS, "CLONE1", "normal", keylock="norm", ipl_source="b")
    ref = hmc.wait_ipl(SYS, "CLONE1", timeout=10, poll=0.01, on_progress=lambda s, c: progress.append((s, c)))
    assert ref.code == "00000000"
    assert progress[-1] == ("Running", "00000000")
    assert any(code != "00000000" for _, code in progress)
    assert boot.calls[-1]["lpar"] == "CLONE1"
    with pytest.raises(DeviceError) as exc:
        hmc.activate(SYS, "CLONE1", "normal")
    assert exc.value.msg_id == "HSCL3681"


@pytest.mark.lab
def test_wait_ipl_follows_the_clone_restart(lab, monkeypatch):
    """Not Activated shows 00000000 too: wait_ipl must not stop there, nor fail on the restart."""
    world, hmc, boot = lab
    world.clock.speed = 2000.0
    monkeypatch.setattr(Lpar, "OS_ENDED_STEPS", (("D6000430", 200.0),))
    real = boot.__class__.__call__

    def restart_once(self, world_, ref, volumes, report, cancel, instant=False):
        if not any(c["lpar"] == ref.name for c in self.calls):
            self.calls.append({"lpar": ref.name})
            report("C6003900")
            ref.power_off(restart=True, immediate=True)     # the agent's PWRDWNSYS RESTART(*YES)
            raise FakeBootFailure("C6003900", "restarting")
        return real(self, world_, ref, volumes, report, cancel, instant)

    monkeypatch.setattr(boot.__class__, "__call__", restart_once)
    states: List[str] = []
    hmc.activate(SYS, "CLONE1", "normal")
    hmc.wait_ipl(SYS, "CLONE1", timeout=10, poll=0.005, on_progress=lambda s, c: states.append(s))
    assert "Shutting Down" in states and states[-1] == "Running"
    assert len([c for c in boot.calls if c["lpar"] == "CLONE1"]) == 2


@pytest.mark.lab
def test_wait_ipl_fails_fast_on_error(lab):
    world, hmc, _ = lab
    world.arrays["FS9500"].npiv_hosts[(SYS, 5)] = []
    hmc.activate(SYS, "CLONE1", "normal")
    started = time.monotonic()
    with pytest.raises(DeviceError) as exc:
        hmc.wait_ipl(SYS, "CLONE1", timeout=10, poll=0.01)
    assert time.monotonic() - started < 5
    assert exc.value.msg_id == "B2003110" and "Error" in str(exc.value)


@pytest.mark.lab
def test_shutdown_and_wait_state(lab):
    _, hmc, boot = lab
    hmc.shutdown(SYS, "PROD", immediate=True)
    info = hmc.wait_state(SYS, "PROD", {"Not Activated"}, timeout=10, poll=0.01)
    assert info.state == "Not Activated"
    assert boot.runtimes[0].halts[0][0] is True
    with pytest.raises(DeviceError) as exc:
        hmc.shutdown(SYS, "PROD", immediate=True)
    assert exc.value.msg_id == "HSCL1558"
    with pytest.raises(DeviceError) as exc:
        hmc.shutdown(SYS, "CLONE3", os_shutdown=True)
    assert exc.value.msg_id == "HSCL1558"


@pytest.mark.lab
def test_ipl_stall_times_out_within_its_bound(lab):
    world, hmc, _ = lab
    world.faults.replace(FaultRules.parse([{"ipl_stall": {"lpar": "CLONE1", "refcode": "C6004031"}}]))
    hmc.activate(SYS, "CLONE1", "normal")
    started = time.monotonic()
    with pytest.raises(StepTimeout) as exc:
        hmc.wait_ipl(SYS, "CLONE1", timeout=0.6, poll=0.05)
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 1.5
    assert "Running" in str(exc.value) and "C6004031" in str(exc.value)
    with pytest.raises(StepTimeout, match="C6004031"):
        hmc.wait_state(SYS, "CLONE1", {"Not Activated"}, timeout=0.2, poll=0.05)


@pytest.mark.lab
def test_vios_helpers(lab):
    world, hmc, _ = lab
    vhosts = hmc.vios_lsmap(SYS, "VIOS1")
    assert vhosts[0] == Vhost("vhost0", "U9105.42A.78AB12C-V1-C10", 3, ())
    assert vhosts[1].client_id == 6 and [v.backing for v in vhosts[1].vtds] == ["hdisk1", "hdisk2", "hdisk3", "hdisk4"]
    assert vhosts[1].vtds[0] == Vtd("vtscsi0", "Available", "0x8100000000000000", "hdisk1")
    uids = {name: v.uid for name, v in world.arrays["FS9500"].volumes.items()}
    disks = hmc.vios_disks(SYS, "VIOS1")
    assert sorted(disks) == ["hdisk0", "hdisk1", "hdisk2", "hdisk3", "hdisk4"]
    assert uids["CLN2_002"] in disks["hdisk2"] and uids["CLN2_001"] not in disks["hdisk2"]
    hmc.vios_rmdev(SYS, "VIOS1", "hdisk2")
    assert [v.backing for v in hmc.vios_lsmap(SYS, "VIOS1")[1].vtds] == ["hdisk1", "hdisk3", "hdisk4"]
    hmc.vios_cfgdev(SYS, "VIOS1")
    disks = hmc.vios_disks(SYS, "VIOS1")
    new = next(name for name, unique in disks.items() if uids["CLN2_002"] in unique)
    assert new == "hdisk5"
    assert hmc.vios_mkvdev(SYS, "VIOS1", new, "vhost1") == "vtscsi4"
    assert hmc.vios_mkvdev(SYS, "VIOS1", "hdisk0", "vhost0", "prod_lu0") == "prod_lu0"
    with pytest.raises(DeviceError, match="0514-062"):
        hmc.vios_rmdev(SYS, "VIOS1", "hdisk5", recursive=False)
    with pytest.raises(DeviceError, match="0514-519"):
        hmc.vios_rmdev(SYS, "VIOS1", "hdisk9")


@pytest.mark.lab
def test_device_failures_keep_their_message_id(lab):
    world, hmc, _ = lab
    world.faults.replace(FaultRules.parse([
        {"device": "hmc", "match": "^chsysstate", "action": "fail", "message": "HSCL3205 The managed system is busy"},
        {"device": "hmc:HMC1", "match": "^lsrefcode", "action": "fail", "message": "%%garbage%%", "exit_status": 3}]))
    with pytest.raises(DeviceError) as exc:
        hmc.activate(SYS, "CLONE1", "normal")
    assert exc.value.msg_id == "HSCL3205" and exc.value.device == "HMC1"
    with pytest.raises(DeviceError) as exc:
        hmc.refcode(SYS, "PROD")
    assert exc.value.msg_id is None and "%%garbage%%" in str(exc.value)


# ---------------------------------------------------------------- strict parsing (fake session)


class FakeSession:
    def __init__(self, answers):
        self.answers, self.commands = answers, []

    def run(self, command: str, timeout: float) -> CommandResult:
        self.commands.append(command)
        return CommandResult(command, self.answers.pop(0), "", 0, 0.0)


def driver(*answers: str):
    session = FakeSession(list(answers))
    return HmcDriver(session, "HMC1"), session


@pytest.mark.parametrize("call, answer, what", [
    (lambda h: h.lpars(SYS), "PROD,3,Running\n", "expected 6 values"),
    (lambda h: h.lpars(SYS), "PROD,three,Running,os400,normal,normal\n", "three"),
    (lambda h: h.lpar(SYS, "PROD"), "", "exactly one"),
    (lambda h: h.lpar(SYS, "PROD"), '"PROD,3,Running,os400,normal,normal\n', "quoting"),
    (lambda h: h.refcode(SYS, "PROD"), "lpar_name=PROD,refcode=00000000,colour=red\n", "unknown attributes"),
    (lambda h: h.refcode(SYS, "PROD"), "lpar_name=PROD,time_stamp=x\n", "missing attributes"),
    (lambda h: h.refcode(SYS, "PROD"), "lpar_name=PROD,refcode\n", "not attr=value"),
    (lambda h: h.refcode(SYS, "PROD"), "lpar_name=CLONE1,refcode=00000000\n", "not partition PROD"),
    (lambda h: h.refcode(SYS, "PROD"), "lpar_name=PROD,refcode=0\nlpar_name=PROD,refcode=1\n", "one line"),
    (lambda h: h.vios_lsmap(SYS, "VIOS1"), "something completely different\n", "unrecognised"),
    (lambda h: h.vios_lsmap(SYS, "VIOS1"), "SVSA  Physloc  Client Partition ID\n----\nvhost0 nowhere\n", "vhost row"),
    (lambda h: h.vios_mkvdev(SYS, "VIOS1", "hdisk5", "vhost1"), "vtscsi4 Defined\n", "Available"),
    (lambda h: h.vios_rmdev(SYS, "VIOS1", "hdisk5"), "hdisk4 deleted\n", "hdisk5 deleted"),
])
def test_unparseable_answers_are_device_errors(call, answer, what):
    hmc, session = driver(answer)
    with pytest.raises(DeviceError) as exc:
        call(hmc)
    assert what in str(exc.value) and exc.value.command == session.commands[-1]
    if answer.strip():                   # the error shows the offending text
        assert any(line.strip()[:12] in str(exc.value) for line in answer.splitlines() if line.strip())


def test_vios_disks_refuses_a_bad_attribute_answer():
    hmc, _ = driver("name   status   description\nhdisk1 Available MPIO\n", "unique_id 3321360050768\n")
    with pytest.raises(DeviceError, match="not an attribute value"):
        hmc.vios_disks(SYS, "VIOS1")


def test_default_format_parser_on_the_reference_capture():
    line = ('name=normal,lpar_name=nim1,lpar_id=5,lpar_env=aixlinux,all_resources=0,min_mem=2048,max_virtual_slots=10,'
            '"virtual_serial_adapters=0/server/1/any//any/1,1/server/1/any//any/1",'
            '"virtual_scsi_adapters=2/client/2/vios1/2/1,3/client/3/vios2/2/1",'
            '"virtual_eth_adapters=6/1/6//0/0,7/0/7//0/0",hca_adapters=none,boot_mode=norm,curr_profile=')
    attrs = parse_attr_line(line)
    assert attrs["virtual_scsi_adapters"] == "2/client/2/vios1/2/1,3/client/3/vios2/2/1"
    assert attrs["lpar_id"] == "5" and attrs["curr_profile"] == "" and attrs["boot_mode"] == "norm"
    assert parse_attr_line('"a=""x"",y",b=2') == {"a": '"x",y', "b": "2"}
    assert parse_csv_line('default,"10/server/3/PROD/2/1,11/server/6/CLONE2/2/1"', 2)[1].count(",") == 1
    for bad in ('a=1,a=2', 'a=1,"b=2', 'A B=1', '=1'):
        with pytest.raises(ValueError):
            parse_attr_line(bad)


def test_lsmap_parser_on_the_reference_capture():
    text = ("SVSA                 Physloc                           Client Partition ID\n"
            "-------------        --------------------------------- ------------------\n"
            "vhost0               U787A.001.0397658-V1-C3           0x00000003\n\n"
            "VTD                   c3_vtscsi1\nStatus                Available\nLUN                   0x8100000000000000\n"
            "Backing device        hdisk2\nPhysloc\n\n"
            "VTD                   c3_vtscsi2\nStatus                Available\nLUN                   0x8200000000000000\n"
            "Backing device        hdisk3\nPhysloc\n"
            "SVSA                 Physloc                           Client Partition ID\n"
            "-------------        --------------------------------- ------------------\n"
            "vhost1               U787A.001.0397658-V1-C4           0x0000000a\n")
    vhosts = parse_lsmap(text, lambda what, line: ValueError(what))
    assert vhosts == [Vhost("vhost0", "U787A.001.0397658-V1-C3", 3, (
        Vtd("c3_vtscsi1", "Available", "0x8100000000000000", "hdisk2"),
        Vtd("c3_vtscsi2", "Available", "0x8200000000000000", "hdisk3"))),
        Vhost("vhost1", "U787A.001.0397658-V1-C4", 10, ())]


# ---------------------------------------------------------------- names and command lines


@pytest.mark.parametrize("evil", ["; rm -rf /", "') DLTLIB LIB(QGPL)"])
def test_names_are_validated_before_anything_is_sent(evil):
    hmc, session = driver()
    calls = [
        lambda: hmc.lpar(SYS, evil), lambda: hmc.lpar(evil, "PROD"), lambda: hmc.refcode(SYS, evil),
        lambda: hmc.activate(SYS, "CLONE1", evil), lambda: hmc.activate(SYS, evil, "normal"),
        lambda: hmc.shutdown(SYS, evil), lambda: hmc.wait_ipl(SYS, evil, 1, 0.1),
        lambda: hmc.vios_lsmap(SYS, evil), lambda: hmc.vios_rmdev(SYS, "VIOS1", evil),
        lambda: hmc.vios_mkvdev(SYS, "VIOS1", "hdisk1", evil), lambda: hmc.vios_mkvdev(SYS, "VIOS1", evil, "vhost1"),
        lambda: hmc.vios_mkvdev(SYS, "VIOS1", "hdisk1", "vhost1", evil),
    ]
    for call in calls:
        with pytest.raises(ValidationError):
            call()
    with pytest.raises(ValidationError):
        hmc.activate(SYS, "CLONE1", "normal", keylock="norm; reboot")
    with pytest.raises(ValidationError):
        hmc.activate(SYS, "CLONE1", "normal", ipl_source="e")
    assert session.commands == []


def test_described_command_lines():
    assert HmcDriver.describe_activate(SYS, "CLONE1", "normal", ipl_source="b") == \
        "chsysstate -m P10-PROD -r lpar -o on -n CLONE1 -f normal -k norm -i b"
    assert HmcDriver.describe_shutdown(SYS, "CLONE1") == "chsysstate -m P10-PROD -r lpar -o shutdown -n CLONE1 --immed"
    assert HmcDriver.describe_shutdown(SYS, "CLONE1", immediate=False, os_shutdown=True, restart=True) == \
        "chsysstate -m P10-PROD -r lpar -o osshutdown -n CLONE1 --restart"
    assert HmcDriver.describe_commands("wait", SYS, "CLONE1") == [
        "lssyscfg -r lpar -m P10-PROD --filter lpar_names=CLONE1 -F name,lpar_id,state,lpar_env,curr_profile,"
        "default_profile", "lsrefcode -r lpar -m P10-PROD --filter lpar_names=CLONE1"]
    assert HmcDriver.describe_commands("map_vios", SYS, "CLONE2", vios="VIOS1", hdisks=["hdisk5"], vhost="vhost1") == [
        "viosvrcmd -m P10-PROD -p VIOS1 -c cfgdev",
        "viosvrcmd -m P10-PROD -p VIOS1 -c 'mkvdev -vdev hdisk5 -vadapter vhost1'"]
    assert HmcDriver.describe_commands("unmap_vios", SYS, "CLONE2", vios="VIOS1", hdisks=["hdisk5"]) == [
        "viosvrcmd -m P10-PROD -p VIOS1 -c 'rmdev -dev hdisk5 -recursive'"]
    with pytest.raises(ValidationError):
        HmcDriver.describe_commands("reboot", SYS, "CLONE2")
    assert RefCode("00000000", None).time is None
