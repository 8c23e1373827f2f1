"""SvcDriver: the storage conformance suite against the lab's Storage Virtualize front, plus
the SVC specifics (exact command lines, strict parsing, polling)."""
from __future__ import annotations

from typing import Callable, Dict, List

import pytest

from flash4i_tui.devices.ssh import CommandResult
from flash4i_tui.devices.storage import driver_for
from flash4i_tui.devices.storage.base import VolumePair
from flash4i_tui.devices.storage.svc import SvcDriver, parse_concise, parse_detailed
from flash4i_tui.errors import DeviceError, SafetyRefusal, StepTimeout, ValidationError
from flash4i_tui.lab.faults import FaultRules

from ..lab.test_svc_cli import SMALL_ARRAY, SvcLab
from .storage_conformance import GROUP, StorageCase, StorageConformance

GiB = 1024 ** 3
PAIRS = [VolumePair("SRC_1", "TGT_1"), VolumePair("SRC_2", "TGT_2")]


@pytest.fixture
def code_level():
    """The Storage Virtualize code level of the lab array (the conformance suite runs at two)."""
    return "8.6"


@pytest.fixture
def lab(tmp_path, code_level):
    lab = SvcLab(tmp_path, storage=dict(SMALL_ARRAY, code_level=code_level))
    yield lab
    lab.close()


def make_driver(lab: SvcLab) -> SvcDriver:
    return SvcDriver(lab.session(), "FS1", command_timeout=10, poll_interval=0.02, cleanup_timeout=10)


@pytest.fixture
def driver(lab):
    drv = make_driver(lab)
    yield drv
    drv.session.close()


def sent(lab: SvcLab) -> List[str]:
    return [event.command for event in lab.log]


@pytest.mark.lab
class TestSvcConformance(StorageConformance):
    @pytest.fixture(params=["8.4", "8.7"])
    def code_level(self, request):
        return request.param

    @pytest.fixture
    def case(self, lab):
        return StorageCase(
            pairs=list(PAIRS), capacity=GiB, spare="SPARE", host="CLONE_FC", mapped={"TGT_1": 0, "TGT_2": 1},
            missing="NO_SUCH_VOLUME", write=lambda name, nbytes: lab.array.volume(name).write(nbytes),
            commands=lambda: sent(lab), is_change=lambda line: line.startswith("svctask "),
            full_copy_rate=100)           # 64 MiB per lab second: 1 GiB in 16 lab s = 80 ms at speed 200


# -------------------------------------------------------------------- command lines

@pytest.mark.lab
def test_ensure_group_sends_exactly_these_commands(driver, lab):
    driver.ensure_group(GROUP, PAIRS, 0)
    assert [c for c in sent(lab) if c.startswith("svctask")] == [
        "svctask mkfcconsistgrp -name CFTGROUP",
        "svctask mkfcmap -source SRC_1 -target TGT_1 -consistgrp CFTGROUP -copyrate 0",
        "svctask mkfcmap -source SRC_2 -target TGT_2 -consistgrp CFTGROUP -copyrate 0"]
    driver.ensure_group(GROUP, PAIRS, 50)
    assert [c for c in sent(lab) if c.startswith("svctask")][3:] == [
        "svctask chfcmap -copyrate 50 fcmap0", "svctask chfcmap -copyrate 50 fcmap1"]
    assert driver.describe_commands(GROUP, PAIRS, 0) == [
        "svctask stopfcconsistgrp CFTGROUP",
        "svctask mkfcconsistgrp -name CFTGROUP",
        "svctask mkfcmap -source SRC_1 -target TGT_1 -consistgrp CFTGROUP -copyrate 0",
        "svctask mkfcmap -source SRC_2 -target TGT_2 -consistgrp CFTGROUP -copyrate 0",
        "svctask prestartfcconsistgrp CFTGROUP",
        "svctask startfcconsistgrp CFTGROUP"]


@pytest.mark.lab
def test_every_listing_uses_delim_and_capacities_use_bytes(driver, lab):
    driver.volumes(["SRC_1", "NOPE"])
    driver.host_mappings(["TGT_1"])
    driver.group_state(GROUP)
    driver.ensure_group(GROUP, PAIRS, 0)
    listings = [c for c in sent(lab) if c.startswith("svcinfo")]
    assert listings and all(" -delim ! " in c + " " for c in listings)
    assert all("-bytes" in c for c in listings if c.startswith("svcinfo lsvdisk"))
    assert "svcinfo lsfcmap -delim ! -filtervalue group_name=CFTGROUP" in listings


@pytest.mark.lab
def test_names_are_validated_before_anything_is_sent(driver, lab):
    for call in (lambda: driver.start("A;B"), lambda: driver.prepare("TOO_LONG_GROUP_NAME", 1),
                 lambda: driver.ensure_group(GROUP, [VolumePair("SRC_1", "$(reboot)")], 0),
                 lambda: driver.ensure_group(GROUP, PAIRS, 151),
                 lambda: driver.ensure_group(GROUP, [VolumePair("SRC_1", "TGT_1"), VolumePair("TGT_1", "TGT_2")], 0),
                 lambda: driver.map_volume("SPARE", "CLONE_FC", -1)):
        with pytest.raises(ValidationError):
            call()
    assert sent(lab) == []


# -------------------------------------------------------------------- ensure_group cleanup and refusals

@pytest.mark.lab
def test_ensure_group_stops_and_removes_a_stand_alone_old_mapping(driver, lab):
    lab.array.mkfcmap("SRC_2", "TGT_1", copyrate=0)
    lab.array.startfcmap("fcmap0", prep=True)
    state = driver.ensure_group(GROUP, PAIRS, 0)
    assert {(m.source, m.target) for m in state.mappings} == {("SRC_1", "TGT_1"), ("SRC_2", "TGT_2")}
    changes = [c for c in sent(lab) if c.startswith("svctask")]
    assert changes[:2] == ["svctask stopfcmap fcmap0", "svctask rmfcmap -force fcmap0"]
    assert [m.source.name for m in lab.array.fcmaps.values() if m.target.name == "TGT_1"] == ["SRC_1"]


@pytest.mark.lab
def test_ensure_group_refuses_an_old_group_that_also_holds_other_targets(driver, lab):
    lab.array.mkfcconsistgrp("OTHER")
    lab.array.mkfcmap("SRC_1", "TGT_1", consistgrp="OTHER")
    lab.array.mkfcmap("SRC_1", "SPARE", consistgrp="OTHER")
    with pytest.raises(SafetyRefusal, match="SPARE"):
        driver.ensure_group(GROUP, PAIRS, 0)
    assert [c for c in sent(lab) if c.startswith("svctask")] == []


# -------------------------------------------------------------------- polling

@pytest.mark.lab
def test_prepare_is_bounded(driver, lab):
    lab.array.prepare_delay = 10 ** 9
    driver.ensure_group(GROUP, PAIRS, 0)
    with pytest.raises(StepTimeout, match="CFTGROUP.*preparing"):
        driver.prepare(GROUP, timeout=0.3)


@pytest.mark.lab
def test_stop_waits_through_stopping(driver, lab):
    lab.array.stop_delay = 40.0                    # 0.2 s at speed 200
    driver.ensure_group(GROUP, PAIRS, 0)
    driver.prepare(GROUP, timeout=5)
    driver.start(GROUP)
    assert driver.stop(GROUP, timeout=5).status == "stopped"
    statuses = [e.stdout.splitlines()[2] for e in lab.log
                if e.command.startswith("svcinfo lsfcconsistgrp") and e.exit_status == 0]
    assert "status!stopping" in statuses
    lab.array.prestartfcconsistgrp(GROUP)
    lab.array.tick(10)
    lab.array.startfcconsistgrp(GROUP)
    with pytest.raises(StepTimeout):
        driver.stop(GROUP, timeout=0.05)


class FakeSession:
    """Answers scripted per command verb; records what it was sent."""

    def __init__(self, answers: Dict[str, Callable[[str], str]]):
        self.answers, self.sent = answers, []

    def run(self, command: str, timeout: float) -> CommandResult:
        self.sent.append(command)
        verb = command.split()[1]
        return CommandResult(command, self.answers[verb](command), "", 0, 0.0)


def group_answer(statuses: List[str]) -> Callable[[str], str]:
    def answer(command: str) -> str:
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        return f"id!1\nname!G1\nstatus!{status}\nautodelete!off\nstart_time!\nowner_id!\nowner_name!\n"
    return answer


def test_prepare_reissues_the_prestart_after_a_failed_flush():
    session = FakeSession({"lsfcconsistgrp": group_answer(["idle_or_copied", "preparing", "stopped", "preparing",
                                                           "prepared"]),
                           "lsfcmap": lambda c: "", "prestartfcconsistgrp": lambda c: ""})
    state = SvcDriver(session, "FS9", poll_interval=0).prepare("G1", timeout=5)
    assert state.status == "prepared"
    assert [c for c in session.sent if "prestart" in c] == ["svctask prestartfcconsistgrp G1"] * 2


def test_prepare_refuses_an_unexpected_status():
    session = FakeSession({"lsfcconsistgrp": group_answer(["suspended"]), "lsfcmap": lambda c: ""})
    with pytest.raises(DeviceError, match="unexpected consistency group status suspended"):
        SvcDriver(session, "FS9", poll_interval=0).prepare("G1", timeout=5)


# -------------------------------------------------------------------- strict parsing

LSFCMAP_HEADER = ("id!name!source_vdisk_id!source_vdisk_name!target_vdisk_id!target_vdisk_name!group_id!"
                  "group_name!status!progress!copy_rate!clean_progress!incremental!partner_FC_id!partner_FC_name!"
                  "restoring!start_time!rc_controlled")
GOOD_ROW = "0!fcmap0!0!S!1!T!1!G1!copying!0!0!100!off!!!no!261125013603!no"


@pytest.mark.parametrize("verb, answer, call, problem", [
    ("lsfcmap", LSFCMAP_HEADER + "\n" + GOOD_ROW + "!extra", lambda d: d.progress("G1"), "header/row mismatch"),
    ("lsfcmap", LSFCMAP_HEADER.replace("!progress", "") + "\n0!fcmap0", lambda d: d.progress("G1"),
     "missing column progress"),
    ("lsfcmap", LSFCMAP_HEADER + "\n" + GOOD_ROW.replace("copying", "frozen"), lambda d: d.progress("G1"),
     "unknown status"),
    ("lsfcmap", LSFCMAP_HEADER + "\n" + GOOD_ROW.replace("!0!0!100", "!x!0!100"), lambda d: d.progress("G1"),
     "progress is not a number"),
    ("lsvdisk", "id!0\nname!V1\ncapacity 1024\n", lambda d: d.volumes(["V1"]), "unparseable line"),
    ("lsvdisk", "id!0\nname!V1\nstatus!online\ncapacity!1.00GB\nvdisk_UID!" + "A" * 32 + "\nse_copy_count!0\n\n"
                "copy_id!0\nprimary!yes\nused_capacity!1073741824\n", lambda d: d.volumes(["V1"]),
     "capacity is not a number"),
    ("lsvdisk", "", lambda d: d.space_used(["V1"]), "empty detailed view"),
    ("lshostvdiskmap", "id!name!vdisk_id!vdisk_name\n0!H!1!V1", lambda d: d.host_mappings(["V1"]),
     "missing column SCSI_id"),
])
def test_malformed_answers_raise_device_errors_naming_the_command(verb, answer, call, problem):
    answers = {"lsfcconsistgrp": group_answer(["copying"]), "lsfcmap": lambda c: "", "lsvdisk": lambda c: "",
               "lshostvdiskmap": lambda c: ""}
    answers[verb] = lambda command: answer
    session = FakeSession(answers)
    with pytest.raises(DeviceError) as exc:
        call(SvcDriver(session, "FS9", poll_interval=0))
    assert problem in str(exc.value) and exc.value.device == "FS9"
    assert exc.value.command.startswith(f"svcinfo {verb} ") and exc.value.command in session.sent


def test_the_parsers_directly():
    assert parse_concise("", "D", "cmd") == []
    assert parse_concise("a!b\n1!2\n", "D", "cmd", ("a",)) == [{"a": "1", "b": "2"}]
    sections = parse_detailed("id!1\nFC_mapping_id!0\nFC_mapping_id!1\n\ncopy_id!0\n", "D", "cmd")
    assert sections == [{"id": "1", "FC_mapping_id": ["0", "1"]}, {"copy_id": "0"}]
    with pytest.raises(DeviceError, match="malformed header"):
        parse_concise("a!a\n1!2\n", "D", "cmd")


@pytest.mark.lab
def test_device_errors_keep_the_message_id_over_the_wire(driver, lab):
    lab.world.faults.replace(FaultRules.parse([{"device": "svc", "match": "lsfcconsistgrp", "action": "fail",
                                                "message": "CMMVC5786E The action failed because the cluster is "
                                                           "not in a stable state."}]))
    with pytest.raises(DeviceError) as exc:
        driver.group_state(GROUP)                  # not a "does not exist": no None here
    assert exc.value.msg_id == "CMMVC5786E" and exc.value.command == "svcinfo lsfcconsistgrp -delim ! CFTGROUP"
    assert "not in a stable state" in exc.value.text


@pytest.mark.lab
def test_driver_for_picks_the_family_and_its_tuning(lab):
    drv = driver_for("svc", lab.session(), "FS1", {"poll_interval": 0.5, "prepare_timeout": 300, "pool": None})
    assert isinstance(drv, SvcDriver) and (drv.name, drv.poll_interval, drv.command_timeout) == ("FS1", 0.5, 60.0)
    with pytest.raises(ValidationError, match="xiv"):
        driver_for("xiv", lab.session(), "XIV1")
