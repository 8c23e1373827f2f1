"""The IPL of the simulated IBM i from its disk set (fake volumes and a fake LPAR)."""
from __future__ import annotations

import threading

import pytest

from flash4i_tui.lab import ibmi
from flash4i_tui.lab.ibmi import BootFailure, IplCancelled

from .ibmi_support import CLONE_VOLUMES, PROD_VOLUMES, FakeLpar, Lab, disk_image, sql, system, wait_for

AGENT = b'''
import json

def main(argv, host):
    status, out, err = host.sql("SELECT PARTITION_ID, HOST_NAME FROM QSYS2.SYSTEM_STATUS_INFO")
    row = json.loads(out)["records"][0]
    if argv[:1] == ["rename"] and row["HOST_NAME"] != "CLONE1":
        host.cl("CHGNETA SYSNAME(CLONE1)")
        host.cl("PWRDWNSYS OPTION(*IMMED) RESTART(*YES) CONFIRM(*NO)")
        return 0
    host.cl("SNDMSG MSG('agent ran on partition %s as %s') TOUSR(*SYSOPR)" % (row["PARTITION_ID"], row["HOST_NAME"]))
    host.write_file("/QOpenSys/flash4i/agent.out", host.job_name().encode())
    return 0
'''

STARTUP = """
PGM
  DCL VAR(&CMD) TYPE(*CHAR) LEN(200)
  CHGVAR VAR(&CMD) VALUE('/QOpenSys/pkgs/bin/python3.9 /QOpenSys/flash4i/agent.py {args}')
  QSH CMD(&CMD)
  MONMSG MSGID(QSH0000)
  CALL PGM(QSYS/QSTRUP)
ENDPGM
"""


@pytest.fixture
def lab():
    lab = Lab()
    yield lab
    lab.stop()


def install_agent(prod, args: str = "") -> None:
    """What the product's agent installation does on the source, in the lab's terms."""
    prod.state.ifs.make_dirs("/QOpenSys/flash4i")
    prod.state.ifs.write("/QOpenSys/flash4i/agent.py", AGENT)
    prod.state.ifs.write("/QOpenSys/flash4i/strup.clle", STARTUP.format(args=args).encode())
    for command in ("CRTLIB LIB(FLASH4I)", "CRTBNDCL PGM(FLASH4I/STRUP) SRCSTMF('/QOpenSys/flash4i/strup.clle')",
                    "CHGSYSVAL SYSVAL(QSTRUPPGM) VALUE('STRUP     FLASH4I')", "CHGIPLA STRTCP(*NO)"):
        out, err, status = system(prod, command)
        assert status == 0, (command, err)


def test_boot_from_a_complete_disk_set_takes_the_identity_of_the_lpar(lab):
    prod = lab.prod()
    lab.flash(PROD_VOLUMES, CLONE_VOLUMES)
    codes = []
    clone = lab.boot(CLONE_VOLUMES, FakeLpar("P10-PROD", "CLONE1", 5), instant=False, codes=codes)
    assert codes[0] == "C6003900" and codes[-1] == "00000000" and any(c.startswith("C900") for c in codes)
    assert lab.world.running[("P10-PROD", 5)] is clone and lab.world.running[("P10-PROD", 3)] is prod
    assert clone.label == "CLONE1 (P10-PROD id 5)"
    row = sql(clone, "SELECT HOST_NAME, PARTITION_ID, PARTITION_NAME, SERIAL_NUMBER FROM QSYS2.SYSTEM_STATUS_INFO")
    assert row == [{"HOST_NAME": "PROD", "PARTITION_ID": 5, "PARTITION_NAME": "CLONE1", "SERIAL_NUMBER": "78AB12C"}]
    assert clone.state is not prod.state and clone.state.ssh_host_key == prod.state.ssh_host_key
    scpf = sql(clone, "SELECT JOB_ENTERED_SYSTEM_TIME FROM TABLE(QSYS2.JOB_INFO(JOB_STATUS_FILTER => '*ACTIVE', "
                      "JOB_USER_FILTER => 'QSYS')) X WHERE JOB_NAME = '000000/QSYS/SCPF'")
    assert len(scpf) == 1


def test_disk_sets_that_cannot_ipl(lab):
    state = ibmi.build_state({"name": "X", "system_name": "X"})
    lpar = FakeLpar("P10-PROD", "CLONE2", 6)
    with pytest.raises(BootFailure) as caught:
        ibmi.boot(lab.world, lpar, [], instant=True)
    assert (caught.value.refcode, caught.value.state) == ibmi.Ipl.NO_LOAD_SOURCE
    with pytest.raises(BootFailure) as caught:
        ibmi.boot(lab.world, lpar, disk_image(state)[1:], instant=True)       # unit 1 missing
    assert caught.value.refcode == ibmi.Ipl.NO_LOAD_SOURCE[0]
    volumes = disk_image(state)
    with pytest.raises(BootFailure) as caught:
        ibmi.boot(lab.world, lpar, volumes[:3], instant=True)                  # a copy that missed a volume
    assert (caught.value.refcode, caught.value.state) == ibmi.Ipl.MISSING_UNITS
    assert "4 of 4" in caught.value.message
    other = disk_image(state.snapshot()[0])                                    # units of two different copies
    with pytest.raises(BootFailure) as caught:
        ibmi.boot(lab.world, lpar, volumes[:2] + other[2:], instant=True)
    assert caught.value.refcode == ibmi.Ipl.MIXED_UNITS[0]
    assert not lab.world.running
    lab.prod()
    with pytest.raises(BootFailure) as caught:                                 # production's own disks
        lab.boot(PROD_VOLUMES, lpar)
    assert caught.value.refcode == ibmi.Ipl.IN_USE[0]


@pytest.mark.parametrize("prepare, consistency, abnormal", [
    ([], "crash", ["CPI0990", "CPI0991", "CPI0992"]),
    (["CHGASPACT ASPDEV(*SYSBAS) OPTION(*FRCWRT)"], "flushed", ["CPI0995", "CPI0991", "CPI0992"]),
    (["CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(60) SSPTIMOACN(*CONT)"], "quiesced", []),
])
def test_the_consistency_of_a_copy_decides_the_ipl(lab, prepare, consistency, abnormal):
    prod = lab.prod()
    for command in prepare:
        assert system(prod, command)[2] == 0
    lab.flash(PROD_VOLUMES, CLONE_VOLUMES)
    system(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*RESUME)")
    assert lab.array.volume("CLN1_003").content.consistency == consistency
    copy_state = lab.array.volume("CLN1_001").content.state
    copy_state.ipl_attributes["STRTCP"] = "*NO"
    start = len(copy_state.qhst)
    codes = []
    clone = lab.boot(CLONE_VOLUMES, FakeLpar("P10-PROD", "CLONE1", 5), instant=False, codes=codes)
    ids = [m.msg_id for m in clone.state.qhst[start:] if m.msg_id.startswith("CPI099") and m.msg_id != "CPI0993"]
    assert ids == abnormal
    recovery = {"C6004130", "C9002B30"} & set(codes)
    assert bool(recovery) == bool(abnormal)
    assert clone.state.last_end == "crash"        # while running; a normal power down makes it clean


def test_a_clone_of_a_source_left_with_strtcp_yes_starts_productions_address(lab):
    prod = lab.prod()
    lab.flash(PROD_VOLUMES, CLONE_VOLUMES)
    clone = lab.boot(CLONE_VOLUMES, FakeLpar("P10-PROD", "CLONE1", 5))
    assert lab.world.network.owner("10.10.1.10") is prod
    kinds = [c.data["conflict"] for c in lab.world.conflicts]
    assert kinds == ["name", "address"]
    assert "CLONE1 (P10-PROD id 5)" in lab.world.conflicts[1].text
    assert any(m.msg_id == "TCP8A1F" for m in clone.state.qhst)
    rows = sql(clone, "SELECT INTERNET_ADDRESS, INTERFACE_STATUS FROM QSYS2.NETSTAT_INTERFACE_INFO "
                      "WHERE LINE_DESCRIPTION = 'ETHLINE'")
    assert rows == [{"INTERNET_ADDRESS": "10.10.1.10", "INTERFACE_STATUS": "FAILED"}]


def test_the_startup_program_runs_the_agent_from_the_ifs(lab):
    prod = lab.prod()
    install_agent(prod)
    lab.flash(PROD_VOLUMES, CLONE_VOLUMES)
    clone = lab.boot(CLONE_VOLUMES, FakeLpar("P10-PROD", "CLONE1", 5))
    wait_for(lambda: "QBATCH" in clone.subsystems)
    messages = [m.text for m in clone.state.message_queues["QSYSOPR"]]
    assert messages == ["agent ran on partition 5 as PROD"]
    job_name = clone.state.ifs.read("/QOpenSys/flash4i/agent.out").decode()
    assert job_name.endswith("/QPGMR/QSTRUPJD")
    assert job_name in clone.state.ended_jobs
    assert not clone.tcp_active and not lab.world.conflicts          # STRTCP(*NO): no address taken
    assert "QSH0005: Command ended normally with exit status 0." in \
        [f"{m.msg_id}: {m.text}" for m in clone.state.ended_jobs[job_name].joblog]


def test_pwrdwnsys_restart_from_the_agent_powers_off_and_the_new_name_applies_at_the_next_ipl(lab):
    prod = lab.prod()
    install_agent(prod, "rename")
    lab.flash(PROD_VOLUMES, CLONE_VOLUMES)
    lpar = FakeLpar("P10-PROD", "CLONE1", 5)
    clone = lab.boot(CLONE_VOLUMES, lpar)
    assert lpar.powered_off.wait(5)
    assert lpar.power_offs == [(True, True)]
    assert clone.phase == "down" and ("P10-PROD", 5) not in lab.world.running
    state = lab.array.volume("CLN1_001").content.state
    assert state.last_end == "clean" and state.network.pending_sysname == "CLONE1"
    assert any(m.msg_id == "CPI0990" for m in state.qhst)         # the first IPL (of a crash copy) was abnormal
    before = len(state.qhst)
    again = lab.boot(CLONE_VOLUMES, lpar)                          # the HMC restarts the partition
    wait_for(lambda: "QBATCH" in again.subsystems)
    assert again.state.sysname == "CLONE1" and again.state.network.pending_sysname is None
    assert not any(m.msg_id == "CPI0990" for m in again.state.qhst[before:])   # normal after a clean end
    assert "agent ran on partition 5 as CLONE1" in [m.text for m in again.state.message_queues["QSYSOPR"]]


def test_cancel_during_ipl_and_hmc_shutdowns(lab):
    prod = lab.prod()
    lab.flash(PROD_VOLUMES, CLONE_VOLUMES)
    cancel = threading.Event()
    lpar = FakeLpar("P10-PROD", "CLONE1", 5)
    codes = []

    def report(code):
        codes.append(code)
        if code == "C9002910":
            cancel.set()

    with pytest.raises(IplCancelled) as caught:
        ibmi.boot(lab.world, lpar, lab.volumes(CLONE_VOLUMES), report=report, cancel=cancel)
    assert caught.value.state == "Not Activated" and "00000000" not in codes
    assert ("P10-PROD", 5) not in lab.world.running
    assert lab.array.volume("CLN1_001").content.state.last_end == "crash"
    prod.halt(True, "chsysstate --immed")
    assert prod.phase == "down" and prod.state.last_end == "crash"
    assert lab.world.network.owner("10.10.1.10") is None
    lpar3 = FakeLpar("P10-PROD", "PROD", 3)
    again = lab.boot(PROD_VOLUMES, lpar3)
    assert any(m.msg_id == "CPI0990" for m in again.state.qhst)
    again.crash("disk unit overwritten")
    wait_for(lambda: lpar3.refcodes == [again.CRASH_REFCODE])
    assert again.state.last_end == "crash" and again.state.runtime is None
