"""The Storage Virtualize SSH front over real sockets: paramiko (the product's client) and OpenSSH."""
from __future__ import annotations

import copy
import subprocess
import time
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import paramiko
import pytest

from flash4i_tui.devices.ssh import Endpoint, LogEvent, SshSession
from flash4i_tui.errors import DeviceUnreachable
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.lab.svc import SvcFront, build_arrays
from flash4i_tui.lab.world import World

pytestmark = pytest.mark.lab

GiB = 1024 ** 3

# A small array: two 1 GiB sources, two thin targets mapped to an NPIV clone, a spare and a
# smaller volume.
SMALL_ARRAY = {
    "name": "FS1", "type": "svc", "cluster": "FS1-CL", "users": ["flash4i"], "pools": ["Pool0"],
    "volumes": [{"name": "SRC_1", "size_gib": 1}, {"name": "SRC_2", "size_gib": 1},
                {"name": "TGT_1", "size_gib": 1, "thin": True}, {"name": "TGT_2", "size_gib": 1, "thin": True},
                {"name": "SPARE", "size_gib": 1, "thin": True}, {"name": "SMALL", "size_gib": 0.5, "thin": True}],
    "hosts": [{"name": "CLONE_FC", "npiv_lpar": {"system": "SYS", "lpar_id": 5},
               "wwpns": ["C050760A1B2C0030", "C050760A1B2C0031"], "volumes": ["TGT_1", "TGT_2"]}],
}


class SvcLab:
    """A world with one array from SMALL_ARRAY, its SSH front on 127.0.0.1:0, a client key and a
    known_hosts file in TMP."""

    def __init__(self, tmp: Path, speed: float = 200.0, storage: Optional[dict] = None):
        self.world = World(speed=speed)
        build_arrays(self.world, [copy.deepcopy(storage or SMALL_ARRAY)])
        self.array = next(iter(self.world.arrays.values()))
        host_key = paramiko.ECDSAKey.generate(bits=256)
        client_key = paramiko.ECDSAKey.generate(bits=256)
        self.key_file = tmp / "id_ecdsa"
        client_key.write_private_key_file(str(self.key_file))
        self.key_file.chmod(0o600)
        self.front = SvcFront(self.array, host_key, [client_key.get_base64()])
        self.world.start()
        self.port = self.front.start()
        self.known_hosts = tmp / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_key.get_name()} {host_key.get_base64()}\n")
        self.user = "flash4i"
        self.log: List[LogEvent] = []

    def endpoint(self, name: str = "FS1", key_file: Optional[Path] = None) -> Endpoint:
        return Endpoint(name=name, host="127.0.0.1", port=self.port, user=self.user,
                        auth={"key_file": str(key_file or self.key_file)}, known_hosts=str(self.known_hosts),
                        connect_timeout=5.0)

    def session(self) -> SshSession:
        return SshSession(self.endpoint(), log=self.log.append)

    def openssh(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ssh", "-F", "/dev/null", "-p", str(self.port), "-o", f"UserKnownHostsFile={self.known_hosts}",
             "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
             "-i", str(self.key_file), f"{self.user}@127.0.0.1", command],
            capture_output=True, text=True, timeout=30)

    def close(self) -> None:
        self.front.stop()
        self.world.stop()


@pytest.fixture
def lab(tmp_path):
    lab = SvcLab(tmp_path)
    yield lab
    lab.close()


@pytest.fixture
def cli(lab):
    session = lab.session()

    def run(command: str) -> Tuple[str, str, int]:
        result = session.run(command, timeout=10)
        return result.stdout, result.stderr, result.exit_status

    yield run
    session.close()


def ok(run, command: str) -> str:
    out, err, status = run(command)
    assert (err, status) == ("", 0), f"{command}: {err}"
    return out


def make_group(run, maps: Sequence[Tuple[str, str]] = (("SRC_1", "TGT_1"), ("SRC_2", "TGT_2")),
               copyrate: int = 0) -> None:
    ok(run, "svctask mkfcconsistgrp -name FLG")
    for source, target in maps:
        ok(run, f"svctask mkfcmap -source {source} -target {target} -consistgrp FLG -copyrate {copyrate}")


def test_create_messages_and_silent_verbs(cli):
    assert ok(cli, "svctask mkfcconsistgrp -name FLG") == "FlashCopy Consistency Group, id [1], successfully created\n"
    assert ok(cli, "mkfcconsistgrp") == "FlashCopy Consistency Group, id [2], successfully created\n"
    assert ok(cli, "svctask mkfcmap -source SRC_1 -target TGT_1 -consistgrp FLG -copyrate 0") == \
        "FlashCopy Mapping, id [0], successfully created\n"
    assert ok(cli, "svctask prestartfcconsistgrp FLG") == ""
    assert ok(cli, "svctask rmfcconsistgrp fccstgrp2") == ""
    assert ok(cli, "svctask mkvdiskhostmap -host CLONE_FC SPARE") == \
        "Virtual Disk to Host map, id [2], successfully created\n"
    assert ok(cli, "svctask rmvdiskhostmap -host CLONE_FC SPARE") == ""


def test_concise_views_with_and_without_delim(cli, lab):
    make_group(cli)
    header = ("id!name!source_vdisk_id!source_vdisk_name!target_vdisk_id!target_vdisk_name!group_id!group_name!"
              "status!progress!copy_rate!clean_progress!incremental!partner_FC_id!partner_FC_name!restoring!"
              "start_time!rc_controlled")
    assert ok(cli, "svcinfo lsfcmap -delim !") == (
        header + "\n"
        "0!fcmap0!0!SRC_1!2!TGT_1!1!FLG!idle_or_copied!0!0!100!off!!!no!!no\n"
        "1!fcmap1!1!SRC_2!3!TGT_2!1!FLG!idle_or_copied!0!0!100!off!!!no!!no\n")
    assert ok(cli, "lshost") == (
        "id name     port_count iogrp_count status\n"
        "0  CLONE_FC 2          4           online\n")
    assert ok(cli, "lsfcconsistgrp") == (
        "id name status         start_time\n"
        "1  FLG  idle_or_copied \n")
    uid = lab.array.volume("TGT_2").uid
    assert ok(cli, "lshostvdiskmap -delim : -nohdr CLONE_FC") == (
        f"0:CLONE_FC:0:2:TGT_1:{lab.array.volume('TGT_1').uid}:0:io_grp0:private:::scsi\n"
        f"0:CLONE_FC:1:3:TGT_2:{uid}:0:io_grp0:private:::scsi\n")
    lines = ok(cli, "lsvdisk -bytes -delim !").splitlines()
    assert lines[0].split("!")[7] == "capacity" and lines[1].split("!")[7] == str(GiB)
    assert lines[3].split("!")[9:11] == ["0", "fcmap0"]            # FC_id / FC_name of TGT_1
    assert ok(cli, "lsvdisk -delim !").splitlines()[6].split("!")[7] == "512.00MB"


def test_empty_lists_print_nothing(cli):
    for command in ("lsfcmap", "svcinfo lsfcmap -delim !", "lsfcconsistgrp -nohdr", "lsfcmap -nohdr -delim !",
                    "lshostvdiskmap -filtervalue vdisk_name=NOPE"):
        assert cli(command) == ("", "", 0), command


def test_filtervalue_with_several_filters_and_a_wildcard(cli):
    make_group(cli, [("SRC_1", "TGT_1"), ("SRC_2", "TGT_2"), ("SRC_1", "SPARE")])
    out = ok(cli, "lsfcmap -delim ! -nohdr -filtervalue target_vdisk_name=TGT_*:source_vdisk_name=SRC_1")
    assert [line.split("!")[:2] for line in out.splitlines()] == [["0", "fcmap0"]]
    assert ok(cli, "lsfcmap -delim ! -filtervalue group_name=OTHER") == ""
    out, err, status = cli("lsfcmap -filtervalue colour=red")
    assert (out, status) == ("", 1) and err.startswith("CMMVC5767E")


def test_detailed_group_repeats_the_mapping_keys(cli):
    make_group(cli)
    assert ok(cli, "lsfcconsistgrp -delim ! FLG") == (
        "id!1\nname!FLG\nstatus!idle_or_copied\nautodelete!off\nstart_time!\nowner_id!\nowner_name!\n"
        "FC_mapping_id!0\nFC_mapping_name!fcmap0\nFC_mapping_id!1\nFC_mapping_name!fcmap1\n")
    assert ok(cli, "lsfcconsistgrp 1").splitlines()[:3] == ["id 1", "name FLG", "status idle_or_copied"]
    assert ok(cli, "lsfcconsistgrp -nohdr -delim ! FLG").splitlines()[-2:] == ["1", "fcmap1"]
    out, err, status = cli("lsfcconsistgrp -filtervalue name=FLG FLG")
    assert (out, status) == ("", 1) and err.startswith("CMMVC5713E")


def test_detailed_volume_has_a_copy_block(cli, lab):
    lab.array.volume("TGT_1").used_bytes = 5 * 1024 ** 2
    lines = ok(cli, "lsvdisk -bytes -delim ! TGT_1").split("\n")
    blank = lines.index("")
    top, block = lines[:blank], lines[blank + 1:-1]
    assert top[:2] == ["id!2", "name!TGT_1"] and "capacity!1073741824" in top and "se_copy_count!1" in top
    real = 5 * 1024 ** 2 + int(GiB * 0.02)
    assert block == ["copy_id!0", "status!online", "primary!yes", "mdisk_grp_id!0", "mdisk_grp_name!Pool0",
                     "type!striped", "used_capacity!5242880", f"real_capacity!{real}",
                     f"free_capacity!{real - 5242880}", "easy_tier!on", "compressed_copy!no", "autoexpand!on",
                     "warning!80", "grainsize!256"]
    human = ok(cli, "lsvdisk TGT_1")
    assert "capacity 1.00GB\n" in human and "used_capacity 5.00MB\n" in human and "\n\ncopy_id 0\n" in human


def test_detailed_mapping_and_progress(cli):
    make_group(cli)
    out = ok(cli, "lsfcmap -delim ! fcmap1")
    assert out.startswith("id!1\nname!fcmap1\nsource_vdisk_id!1\nsource_vdisk_name!SRC_2\n")
    assert "\nstart_time!\ndependent_mappings!0\nautodelete!off\n" in out and out.endswith("owner_name!\n")
    assert ok(cli, "lsfcmapprogress -delim ! fcmap1") == "id!progress\n1!0\n"


@pytest.mark.parametrize("command, message", [
    ("lsfcmap -bogus", "CMMVC5709E [-bogus] is not a supported parameter."),
    ("svctask mkfcmap -source SRC_1", "CMMVC5707E Required parameters are missing."),
    ("lsfcmap -delim", "CMMVC5707E Required parameters are missing."),
    ("svctask startfcconsistgrp", "CMMVC5701E No object ID was specified."),
    ("svctask mkfcmap -source SRC_1 -target SMALL", "CMMVC5924E The FlashCopy mapping was not created because "
                                                    "the source and target virtual disks (VDisks) are different "
                                                    "sizes."),
    ("svctask mkfcmap -source SRC_1 -target SRC_1", "CMMVC6303E The create failed because the source and target "
                                                    "VDisks are the same."),
    ("svctask startfcconsistgrp NOGROUP", "CMMVC5753E The specified object does not exist or is not a suitable "
                                          "candidate."),
    ("svcinfo lsfcconsistgrp -delim ! NOGROUP", "CMMVC5754E The specified object does not exist, or the name "
                                                "supplied does not meet the naming rules."),
    ("svcinfo lsvdisk -delim !! SRC_1", "CMMVC5767E One or more of the parameters specified are invalid."),
    ("svctask mkfcconsistgrp -name FLASH_GROUP_16CH", "CMMVC6527E The name that you have entered is not valid. "
                                                      "The name can contain letters, numbers, spaces, periods, "
                                                      "dashes, and underscores. The name must begin with a letter "
                                                      "or an underscore. The name must not begin or end with a "
                                                      "space."),
])
def test_errors_go_to_stderr_with_exit_status_1(cli, command, message):
    assert cli(command) == ("", message + "\n", 1)


def test_illegal_transition_and_duplicate_over_the_wire(cli):
    make_group(cli)
    assert cli("svctask startfcconsistgrp FLG") == (
        "", "CMMVC5903E The FlashCopy mapping was not changed because the mapping or consistency group is "
            "another state.\n", 1)
    assert cli("svctask mkfcconsistgrp -name FLG") == (
        "", "CMMVC6035E The action failed as the object already exists.\n", 1)


def test_prefixes_and_unknown_commands(cli):
    make_group(cli)
    assert ok(cli, "svcinfo lsfcmap -delim !") == ok(cli, "lsfcmap -delim !")
    assert ok(cli, "svctask chfcmap -copyrate 30 fcmap0") == ""
    assert ok(cli, "lsfcmap -delim ! -nohdr fcmap0").split("\n")[10] == "30"
    assert cli("svcinfo mkfcconsistgrp -name X") == ("", "rbash: svcinfo mkfcconsistgrp: command not found\n", 127)
    assert cli("rm -rf /") == ("", "rbash: rm: command not found\n", 127)
    out, err, status = cli("lsfcmap 'unterminated")
    assert status != 0 and out == ""


def test_prepare_finishes_in_lab_time_and_start_captures(cli, lab):
    make_group(cli)
    ok(cli, "svctask prestartfcconsistgrp FLG")
    status, deadline = "", time.monotonic() + 5
    while status != "prepared" and time.monotonic() < deadline:
        status = ok(cli, "lsfcconsistgrp -delim ! FLG").splitlines()[2].split("!")[1]
        time.sleep(0.02)
    assert status == "prepared"
    assert ok(cli, "svctask startfcconsistgrp FLG") == ""
    row = ok(cli, "lsfcmap -delim ! -nohdr -filtervalue name=fcmap0").rstrip("\n").split("!")
    assert row[8] == "copying" and len(row[16]) == 12 and row[16].isdigit()


def test_fault_rules_apply_to_the_array(cli, lab):
    lab.world.faults.replace(FaultRules.parse([
        {"device": "svc:FS1", "match": "startfcconsistgrp", "action": "fail",
         "message": "CMMVC5903E injected", "times": 1}]))
    assert cli("svctask startfcconsistgrp FLG") == ("", "CMMVC5903E injected\n", 1)
    assert cli("svctask startfcconsistgrp FLG")[1].startswith("CMMVC5753E")


def test_unknown_client_key_is_refused(lab, tmp_path):
    stranger = paramiko.ECDSAKey.generate(bits=256)
    path = tmp_path / "stranger"
    stranger.write_private_key_file(str(path))
    with pytest.raises(DeviceUnreachable):
        SshSession(lab.endpoint(key_file=path)).run("lssystem", timeout=5)


def test_the_openssh_client(lab):
    done = lab.openssh("svcinfo lshost -delim !")
    assert (done.returncode, done.stdout) == (0, "id!name!port_count!iogrp_count!status\n0!CLONE_FC!2!4!online\n")
    done = lab.openssh("svctask mkfcmap -source SRC_1 -target SMALL")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("CMMVC5924E The FlashCopy mapping was not created")
    done = lab.openssh("lssystem -delim !")
    assert done.returncode == 0 and done.stdout.splitlines()[1] == "name!FS1-CL"
