"""The SVC driver's parsers on the captured shapes (tests/data/captures/svc/), and the lab's
Storage Virtualize front printing the same shapes for the same commands, at each code level."""
from __future__ import annotations

import re

import pytest

from flash4i_tui.devices.storage.base import HostMapping
from flash4i_tui.devices.storage.svc import _FCMAP_COLUMNS, DELIM, SvcDriver, parse_concise, parse_detailed
from flash4i_tui.errors import DeviceError
from flash4i_tui.lab.svc import SvcFront, build_arrays
from flash4i_tui.lab.world import World

from ..lab.test_svc_cli import SMALL_ARRAY
from .captures_support import CaptureSession, answer, check_index, text

F = "svc"
LEVELS = ("8.4", "8.5", "8.6", "8.7")
CREATED = re.compile(r"\[([0-9]+)\],? successfully created")      # cinder's run_ssh_check_created


def test_the_index_states_source_and_level_of_every_capture():
    check_index(F)


def header(name: str) -> list:
    return text(F, name).splitlines()[0].split(DELIM)


def keys(name: str) -> list:
    return [line.partition(DELIM)[0] for line in text(F, name).splitlines() if line]


# -------------------------------------------------------------------- the parsers on the corpus

def test_concise_captures_parse_with_the_columns_the_driver_needs():
    rows = parse_concise(text(F, "lsfcmap-delim.txt"), "FS", "lsfcmap", _FCMAP_COLUMNS)
    assert [(r["name"], r["status"], r["progress"]) for r in rows] == [("fcmap0", "copying", "47"),
                                                                       ("fcmap1", "copying", "47")]
    for name in ("lsvdisk-concise-bytes-delim-8.4.txt", "lsvdisk-concise-bytes-delim-8.5.txt"):
        rows = parse_concise(text(F, name), "FS", "lsvdisk", ("name", "vdisk_UID", "capacity"))
        assert rows[1]["FC_id"] == "many" and rows[0]["capacity"] == "10737418240"
    for name in ("lshostvdiskmap-delim.txt", "lshostvdiskmap-delim-cinder.txt"):
        rows = parse_concise(text(F, name), "FS", "lshostvdiskmap", ("name", "SCSI_id", "vdisk_name"))
        assert [(r["vdisk_name"], r["SCSI_id"]) for r in rows] == [("IBMI_TGT_1", "0"), ("IBMI_TGT_2", "1")]


def test_nohdr_rows_do_not_parse_as_a_concise_view():
    # The driver never sends -nohdr: a header-less answer must not be read as one with a header.
    with pytest.raises(DeviceError):
        parse_concise(text(F, "lsfcmap-delim-nohdr.txt"), "FS", "lsfcmap", _FCMAP_COLUMNS)


def test_detailed_captures_parse_with_repeated_keys_and_sections():
    group = parse_detailed(text(F, "lsfcconsistgrp-detail-delim.txt"), "FS", "lsfcconsistgrp")
    assert group == [{"id": "4", "name": "FCCG_IBMI", "status": "copying", "autodelete": "off",
                      "start_time": "210112110946", "owner_id": "", "owner_name": "",
                      "FC_mapping_id": ["0", "1"], "FC_mapping_name": ["fcmap0", "fcmap1"]}]
    empty = parse_detailed(text(F, "lsfcconsistgrp-detail-empty-delim.txt"), "FS", "lsfcconsistgrp")
    assert empty[0]["status"] == "empty" and "FC_mapping_id" not in empty[0]
    fcmap = parse_detailed(text(F, "lsfcmap-detail-delim.txt"), "FS", "lsfcmap")
    assert len(fcmap) == 1 and len(fcmap[0]) == 31 and fcmap[0]["start_time"] == ""


def test_both_lsvdisk_detail_shapes_read_the_same():
    real = parse_detailed(text(F, "lsvdisk-detail-bytes-delim.txt"), "FS", "lsvdisk", section_key="copy_id")
    sim = parse_detailed(text(F, "lsvdisk-detail-bytes-delim-cinder.txt"), "FS", "lsvdisk", section_key="copy_id")
    assert real == sim and len(real) == 2 and real[1]["copy_id"] == "0" and real[0]["status"] == "online"


def test_the_created_messages_carry_their_id():
    assert CREATED.search(text(F, "mkfcconsistgrp.txt")).group(1) == "1"
    assert CREATED.search(text(F, "mkfcmap.txt")).group(1) == "0"


# -------------------------------------------------------------------- the driver on the corpus

def capture_driver(**answers) -> SvcDriver:
    session = CaptureSession({f"svcinfo {verb} " if not verb.startswith("svc") else verb: answer(F, name)
                              for verb, name in answers.items()})
    return SvcDriver(session, "FS9", poll_interval=0)        # type: ignore[arg-type]


@pytest.mark.parametrize("shape", ["lsvdisk-detail-bytes-delim.txt", "lsvdisk-detail-bytes-delim-cinder.txt"])
def test_volumes_read_the_captured_detail(shape):
    info = capture_driver(lsvdisk=shape).volumes(["IBMI_TGT_1"])["IBMI_TGT_1"]
    assert (info.id, info.uid, info.capacity_bytes, info.used_bytes, info.thin, info.status) == \
        ("502", "60050768108101C7C0000000000009D2", 10737418240, 3221225472, True, "online")


def test_a_missing_volume_is_cmmvc5754e_on_stderr_and_simply_absent():
    assert capture_driver(lsvdisk="error-cmmvc5754e.txt").volumes(["NO_SUCH_VOLUME"]) == {}


@pytest.mark.parametrize("shape", ["lshostvdiskmap-delim.txt", "lshostvdiskmap-delim-cinder.txt"])
def test_host_mappings_read_both_column_sets(shape):
    result = capture_driver(lshostvdiskmap=shape).host_mappings(["IBMI_TGT_1", "IBMI_TGT_2", "OTHER"])
    assert result == {"IBMI_TGT_1": [HostMapping("IBMI_TGT_1", "IBMI_CLONE", 0)],
                      "IBMI_TGT_2": [HostMapping("IBMI_TGT_2", "IBMI_CLONE", 1)], "OTHER": []}


def test_group_state_reads_the_captured_group_and_mappings():
    state = capture_driver(lsfcconsistgrp="lsfcconsistgrp-detail-delim.txt",
                           lsfcmap="lsfcmap-delim.txt").group_state("FCCG_IBMI")
    assert state is not None and state.status == "copying" and state.start_time == "210112110946"
    assert [(m.name, m.source, m.target, m.progress, m.copy_rate) for m in state.mappings] == [
        ("fcmap0", "IBMI_SRC_1", "IBMI_TGT_1", 47, 0), ("fcmap1", "IBMI_SRC_2", "IBMI_TGT_2", 47, 0)]


def test_a_refused_transition_carries_its_message_id():
    driver = capture_driver(**{"svctask startfcconsistgrp": "error-cmmvc5903e.txt"})
    with pytest.raises(DeviceError) as exc:
        driver.start("FCCG_IBMI")
    assert exc.value.msg_id == "CMMVC5903E" and "another state" in exc.value.text


# -------------------------------------------------------------------- the lab prints the same shapes

@pytest.fixture(params=LEVELS)
def front(request):
    world = World(speed=1000)
    build_arrays(world, [dict(SMALL_ARRAY, code_level=request.param)])
    array = next(iter(world.arrays.values()))
    front = SvcFront(array, host_key=None, client_keys=[])       # run_line needs no socket
    for line in ("svctask mkfcconsistgrp -name FLG", "svctask mkfcmap -source SRC_1 -target TGT_1 -consistgrp FLG",
                 "svctask mkfcmap -source SRC_2 -target TGT_2 -consistgrp FLG"):
        assert front.run_line(line)[2] == 0
    front.level = request.param
    return front


def lab_ok(front, line: str) -> str:
    out, err, status = front.run_line(line)
    assert (err, status) == ("", 0), err
    return out


def test_lab_lsvdisk_concise_has_the_columns_of_its_level(front):
    expected = "lsvdisk-concise-bytes-delim-8.4.txt" if front.level == "8.4" else "lsvdisk-concise-bytes-delim-8.5.txt"
    assert lab_ok(front, "svcinfo lsvdisk -bytes -delim !").splitlines()[0].split("!") == header(expected)
    assert front.array.code_level.startswith(front.level + ".")
    assert f"code_level!{front.array.code_level}" in lab_ok(front, "svcinfo lssystem -delim !").splitlines()


def test_lab_lists_print_the_captured_headers(front):
    assert lab_ok(front, "svcinfo lsfcmap -delim !").splitlines()[0].split("!") == header("lsfcmap-delim.txt")
    assert lab_ok(front, "svcinfo lshostvdiskmap -delim !").splitlines()[0].split("!") == \
        header("lshostvdiskmap-delim.txt")
    rows = lab_ok(front, "svcinfo lsfcmap -delim ! -nohdr").splitlines()
    assert len(rows) == 2 and all(len(r.split("!")) == len(header("lsfcmap-delim.txt")) for r in rows)


def test_lab_detailed_views_print_the_captured_keys_in_order(front):
    assert keys_of(lab_ok(front, "svcinfo lsfcmap -delim ! fcmap0")) == keys("lsfcmap-detail-delim.txt")
    assert keys_of(lab_ok(front, "svcinfo lsfcconsistgrp -delim ! FLG")) == keys("lsfcconsistgrp-detail-delim.txt")
    lab_sections = lab_ok(front, "svcinfo lsvdisk -bytes -delim ! TGT_1").split("\n\n")
    captured = text(F, "lsvdisk-detail-bytes-delim.txt").split("\n\n")
    assert [keys_of(s) for s in lab_sections] == [keys_of(s) for s in captured]


def keys_of(body: str) -> list:
    return [line.partition(DELIM)[0] for line in body.splitlines() if line]


def test_lab_errors_are_the_captured_texts_on_stderr(front):
    for line, name in (("svcinfo lsvdisk -bytes -delim ! NO_SUCH_VOLUME", "error-cmmvc5754e.txt"),
                       ("svctask stopfcconsistgrp NOSUCHGROUP", "error-cmmvc5753e.txt"),
                       ("svctask startfcconsistgrp FLG", "error-cmmvc5903e.txt"),
                       ("svcinfo lsfcmap -colour red", "error-cmmvc5709e.txt")):
        assert front.run_line(line) == answer(F, name), line


def test_lab_created_messages_match_the_captures(front):
    out = lab_ok(front, "svctask mkfcconsistgrp -name FCCG_IBMI")
    assert CREATED.sub("[N], successfully created", out) == \
        CREATED.sub("[N], successfully created", text(F, "mkfcconsistgrp.txt"))
    out = lab_ok(front, "svctask mkfcmap -source SRC_1 -target SPARE -consistgrp FCCG_IBMI -copyrate 0")
    assert CREATED.sub("", out) == CREATED.sub("", text(F, "mkfcmap.txt"))
