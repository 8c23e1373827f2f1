"""The HMC command line over real SSH (paramiko and OpenSSH), in the formats of the reference captures."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from flash4i_tui.devices.ssh import SshSession
from flash4i_tui.lab.faults import FaultRules

from .hmc_support import install_fake_boot, make_world, start_hmc_front, wait_for

pytestmark = pytest.mark.lab

SYS = "P10-PROD"


@pytest.fixture
def lab(monkeypatch, tmp_path):
    install_fake_boot(monkeypatch)
    world = make_world()
    running = start_hmc_front(world, tmp_path)
    session = SshSession(running.endpoint())
    yield world, running, session
    session.close()
    running.front.stop()
    world.stop()


def run(session: SshSession, command: str):
    return session.run(command, timeout=10)


def ok(session: SshSession, command: str) -> str:
    result = run(session, command)
    assert (result.exit_status, result.stderr) == (0, ""), (command, result)
    return result.stdout


def test_openssh_client_gets_the_real_format(lab):
    if shutil.which("ssh") is None:
        pytest.skip("OpenSSH client not installed")
    _, running, _ = lab
    out = subprocess.run(
        ["ssh", "-p", str(running.port), "-o", f"UserKnownHostsFile={running.known_hosts}",
         "-i", str(running.key_file), "hscroot@127.0.0.1", f"lssyscfg -r lpar -m {SYS} -F name,state"],
        capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ("VIOS1,Running\nPROD,Running\nCLONE1,Not Activated\nCLONE2,Not Activated\n"
                          "CLONE3,Not Activated\n")
    strict = subprocess.run(
        ["ssh", "-p", str(running.port), "-o", f"UserKnownHostsFile={running.known_hosts}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-i", str(running.key_file),
         "hscroot@127.0.0.1", f"chsysstate -m {SYS} -r lpar -o on -n PROD -f normal"],
        capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert strict.returncode == 1 and strict.stdout.startswith("HSCL3681 ")


def test_lssyscfg_default_format_and_quoting(lab):
    _, _, session = lab
    lines = ok(session, f"lssyscfg -r lpar -m {SYS}").splitlines()
    assert len(lines) == 5
    assert lines[1].startswith("name=PROD,lpar_id=3,lpar_env=os400,state=Running,resource_config=1,os_version=")
    assert ",logical_serial_num=78AB12C3,default_profile=normal,curr_profile=normal,work_group_id=none," in lines[1]
    assert lines[1].endswith(",rmc_state=active,rmc_ipaddr=,sync_curr_profile=1")
    assert ",lpar_keylock=norm,ipl_source=b,auto_start=0," in lines[1]
    assert "state=Not Activated" in lines[2] and ",curr_profile=," in lines[2]
    prof = ok(session, f"lssyscfg -r prof -m {SYS} --filter lpar_names=VIOS1")
    assert prof.startswith("name=default,lpar_name=VIOS1,lpar_id=1,lpar_env=vioserver,all_resources=0,")
    assert ',"virtual_serial_adapters=0/server/1/any//any/1,1/server/1/any//any/1",' in prof
    assert ',"virtual_scsi_adapters=10/server/3/PROD/2/1,11/server/6/CLONE2/2/1",' in prof
    assert ",boot_mode=norm," in prof
    client = ok(session, f"lssyscfg -r prof -m {SYS} --filter lpar_names=CLONE2")
    assert ",virtual_scsi_adapters=2/client/1/VIOS1/11/1," in client


def test_lssyscfg_F_filter_header(lab):
    _, _, session = lab
    assert ok(session, f"lssyscfg -r lpar -m {SYS} --filter lpar_names=CLONE1 -F name,lpar_id,state,rmc_state "
                       "--header") == "name,lpar_id,state,rmc_state\nCLONE1,5,Not Activated,inactive\n"
    assert ok(session, f'lssyscfg -r lpar -m {SYS} --filter "lpar_ids=3,7" -F name,lpar_id') == "PROD,3\nCLONE3,7\n"
    assert ok(session, f"lssyscfg -r prof -m {SYS} --filter lpar_names=VIOS1 -F name,virtual_scsi_adapters") == \
        'default,"10/server/3/PROD/2/1,11/server/6/CLONE2/2/1"\n'
    assert ok(session, f"lssyscfg -r sys -m {SYS} -F type_model") == "9105-42A\n"
    assert ok(session, "lssyscfg -r sys -F name,serial_num,state") == f"{SYS},78AB12C,Operating\n"


def test_lshmc_version(lab):
    _, _, session = lab
    assert ok(session, "lshmc -V") == "Version: 10\nRelease: 3\nService Pack: 1060\nBuild level: 2408210051\n"


def test_chsysstate_and_lsrefcode(lab):
    world, _, session = lab
    assert ok(session, f"lsrefcode -r lpar -m {SYS} --filter lpar_names=PROD -F lpar_name,refcode") == \
        "PROD,00000000\n"
    line = ok(session, f"lsrefcode -r lpar -m {SYS} --filter lpar_names=CLONE1")
    assert line.startswith("lpar_name=CLONE1,lpar_id=5,time_stamp=") and ",refcode=00000000,word2=" in line
    assert line.rstrip("\n").endswith(",fru_call_out_loc_codes=")
    assert ok(session, f"chsysstate -m {SYS} -r lpar -o on -n CLONE1 -f normal -k norm -i b") == ""
    clone = world.systems[SYS].lpar(name="CLONE1")
    wait_for(lambda: clone.state == "Running" and clone.refcode.code == "00000000")
    history = ok(session, f"lsrefcode -r lpar -m {SYS} --filter lpar_ids=5 -n 3 -F refcode,lpar_id --header")
    assert history == "refcode,lpar_id\n00000000,5\nC900297C,5\nC9002967,5\n"
    assert ok(session, f"chsysstate -m {SYS} -r lpar -o shutdown --id 5 --immed") == ""
    wait_for(lambda: clone.state == "Not Activated")
    assert ok(session, f"lssyscfg -r lpar -m {SYS} --filter lpar_names=CLONE1 -F state,curr_profile") == \
        "Not Activated,normal\n"


def test_hscl_errors_on_stdout_with_exit_status(lab):
    _, _, session = lab
    cases = [
        (f"chsysstate -m {SYS} -r lpar -o on -n PROD -f normal", "HSCL3681"),
        (f"chsysstate -m {SYS} -r lpar -o shutdown -n CLONE1 --immed", "HSCL1558"),
        (f"chsysstate -m {SYS} -r lpar -o osshutdown -n CLONE3", "HSCL1558"),
        (f"lssyscfg -r lpar -m {SYS} --filter lpar_names=NOPE -F name", "HSCL8012"),
        (f"lssyscfg -r lpar -m P9-NONE", "HSCL8012"),
        (f"chsysstate -m {SYS} -r lpar -o on -n CLONE1 -f nosuch", "HSCL8012"),
        (f"viosvrcmd -m {SYS} -p PROD -c 'lsmap -all'", "HSCL8012"),
    ]
    for command, msg_id in cases:
        result = run(session, command)
        assert result.exit_status == 1 and result.stderr == "", command
        assert result.stdout.startswith(msg_id + " ") and result.stdout.endswith("\n"), (command, result.stdout)
    usage = run(session, f"chsysstate -m {SYS} -r lpar -o on -n CLONE1 -k sideways")
    assert usage.exit_status == 1 and "Usage: chsysstate" in usage.stdout
    usage = run(session, "lssyscfg -r lpar -m")
    assert usage.exit_status == 1 and "requires a value" in usage.stdout
    assert run(session, "rm -rf /").exit_status == 127
    refused = run(session, f"lssyscfg -r sys; rm -rf /")
    assert refused.exit_status != 0 and "operators" in refused.stderr


def test_a_user_unknown_to_the_hmc_has_no_authority(lab):
    _, running, _ = lab
    running.front.authorized["intruder"] = running.front.authorized["hscroot"]
    with SshSession(running.endpoint(user="intruder")) as intruder:
        result = run(intruder, "lshmc -V")
    assert result.exit_status == 1 and result.stdout.startswith("HSCL350B The user does not have the appropriate")


def test_injected_failure_prints_on_stdout(lab):
    world, _, session = lab
    world.faults.replace(FaultRules.parse([{"device": "hmc", "match": "^chsysstate", "action": "fail",
                                            "message": "HSCL3205 busy, retry"}]))
    result = run(session, f"chsysstate -m {SYS} -r lpar -o on -n CLONE1 -f normal")
    assert (result.exit_status, result.stdout, result.stderr) == (1, "HSCL3205 busy, retry\n", "")


LSMAP_VHOST1_HEAD = [
    "SVSA                 Physloc                           Client Partition ID",
    "-------------        --------------------------------- ------------------",
    "vhost1               U9105.42A.78AB12C-V1-C11          0x00000006",
    "",
    "VTD                   vtscsi0",
    "Status                Available",
    "LUN                   0x8100000000000000",
    "Backing device        hdisk1",
    "Physloc",
    "",
    "VTD                   vtscsi1",
]


def test_viosvrcmd_lsmap_layout_and_device_commands(lab, tmp_path):
    world, _, session = lab
    lines = ok(session, f'viosvrcmd -m {SYS} -p VIOS1 -c "lsmap -all"').splitlines()
    assert lines[:5] == LSMAP_VHOST1_HEAD[:2] + [
        "vhost0               U9105.42A.78AB12C-V1-C10          0x00000003", "", "NO VIRTUAL TARGET DEVICE FOUND"]
    assert lines[5:16] == LSMAP_VHOST1_HEAD
    assert lines[-5:] == ["VTD                   vtscsi3", "Status                Available",
                          "LUN                   0x8400000000000000", "Backing device        hdisk4", "Physloc"]
    assert ok(session, f"viosvrcmd -m {SYS} --id 1 -c 'lsmap -all -field svsa backing vtd -fmt :'") == \
        "vhost0\nvhost1:hdisk1:vtscsi0:hdisk2:vtscsi1:hdisk3:vtscsi2:hdisk4:vtscsi3\n"
    busy = run(session, f"viosvrcmd -m {SYS} -p VIOS1 -c 'rmdev -dev hdisk3'")
    assert busy.exit_status == 1 and "0514-062" in busy.stdout and "busy" in busy.stdout
    assert ok(session, f"viosvrcmd -m {SYS} -p VIOS1 -c 'rmdev -dev hdisk3 -recursive'") == \
        "vtscsi2 deleted\nhdisk3 deleted\n"
    assert ok(session, f"viosvrcmd -m {SYS} -p VIOS1 -c cfgdev") == ""
    disks = ok(session, f"viosvrcmd -m {SYS} -p VIOS1 -c 'lsdev -type disk'").splitlines()
    assert disks[0].split() == ["name", "status", "description"] and disks[-1].startswith("hdisk5           Available")
    uid = world.arrays["FS9500"].volumes["CLN2_003"].uid
    value = ok(session, f"viosvrcmd -m {SYS} -p VIOS1 -c 'lsdev -dev hdisk5 -attr unique_id'")
    assert value.startswith("value\n\n") and uid in value
    assert ok(session, f"viosvrcmd -m {SYS} -p VIOS1 -c 'mkvdev -vdev hdisk5 -vadapter vhost1'") == \
        "vtscsi4 Available\n"
    assert ok(session, f"viosvrcmd -m {SYS} -p VIOS1 -c 'mkvdev -vdev hdisk0 -vadapter vhost0 -dev c3_lu0'") == \
        "c3_lu0 Available\n"
    unknown = run(session, f"viosvrcmd -m {SYS} -p VIOS1 -c 'oem_setup_env'")
    assert unknown.exit_status == 1 and "not a valid command" in unknown.stdout
