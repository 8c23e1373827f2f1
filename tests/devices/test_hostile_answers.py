"""Hostile device answers, property-based: every driver fed garbled CLI text, truncated JSON,
unknown state words, wrong types and HTTP errors with vendor bodies either returns a sane
value or raises a DeviceError (a Flash4iError naming the device and the command); no
KeyError, IndexError, ValueError, AttributeError, TypeError or JSONDecodeError escapes.

The good answers are what the lab devices print (the SVC ones are recorded from the lab's
Storage Virtualize front at import, the others are written as in the drivers' own tests); each
example spoils the answer of one command (or request) and calls one driver method."""
from __future__ import annotations

import copy
import json
import re
import shlex
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Tuple

import paramiko
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flash4i_tui.devices.hmc import HmcDriver, LparInfo, RefCode, Vhost
from flash4i_tui.devices.ibmi import ClResult, IbmiDriver
from flash4i_tui.devices.ssh import CommandResult
from flash4i_tui.devices.storage import svc
from flash4i_tui.devices.storage.base import GROUP_STATES, GroupSpec, GroupState, HostMapping, VolumeInfo, VolumePair
from flash4i_tui.devices.storage.ds8000 import Ds8000Driver
from flash4i_tui.devices.storage.powermax import PowerMaxDriver
from flash4i_tui.devices.storage.rest import RestEndpoint, RestSession
from flash4i_tui.errors import DeviceError, StepTimeout

HOSTILE = settings(max_examples=60, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                          HealthCheck.filter_too_much])
PASSWORD_ENV = "FLASH4I_TEST_HOSTILE_PASSWORD"


# ==================================================================== strategies

# Values a device could print where a number, a state or a name belongs.
WEIRD_WORDS = st.sampled_from([
    "", " ", "-1", "²", "٣", "１２", "1.5", "1e3", "9" * 30, "0x10", " 1", "1 ", "NaN", "null", "None", "true",
    "frozen", "Online", "ONLINE", "copying ", "melted", "Not Activated ", "Migrating - Running", "???", "!", ",",
    '"', "'", "=", "\t", "\x00", "\udcff", "%%garbage%%", "CMMVC5786E", "HSCL8012", "CPF9801",
])
SOME_TEXT = st.text(max_size=200)
VENDOR_ERRORS = st.sampled_from([
    "CMMVC5786E The action failed because the cluster is not in a stable state.",
    "CMMVC7205E The command failed because it is not supported.",
    "HSCL8012 The partition named PROD was not found.",
    "HSCL3205 The managed system is not in a valid state.",
    "CPF9801: Object QGPL in library QSYS not found.",
    "SQL0204: QSYS2.HISTORY_LOG_INFO in QSYS2 type *N not found.",
    "rbash: svcinfo: command not found",
    "Permission denied (publickey).",
    "",
])


def _replace_span(good: str, t: Tuple[int, int, str]) -> str:
    a, b = sorted(t[:2])
    return good[:a] + t[2] + good[b:]


@st.composite
def _replace_field(draw, good: str, delimiters: str) -> str:
    """One value of one line (between delimiters) replaced with a weird word."""
    lines = good.split("\n")
    index = draw(st.integers(0, max(0, len(lines) - 1)))
    cells = re.split(f"([{re.escape(delimiters)}])", lines[index])
    values = list(range(0, len(cells), 2))
    cell = draw(st.sampled_from(values))
    cells[cell] = draw(WEIRD_WORDS | SOME_TEXT)
    lines[index] = "".join(cells)
    return "\n".join(lines)


def _drop_or_double_line(good: str, t: Tuple[int, bool]) -> str:
    lines = good.split("\n")
    i = t[0] % max(1, len(lines))
    if t[1]:
        lines.insert(i, lines[i] if lines else "")
    elif lines:
        del lines[i]
    return "\n".join(lines)


def garbled_text(good: str, delimiters: str = "!,= ") -> st.SearchStrategy[str]:
    """GOOD spoiled: garbage, truncated, a span replaced, one field replaced, a line lost or doubled."""
    n = len(good)
    return st.one_of(
        SOME_TEXT,
        st.integers(0, n).map(lambda k: good[:k]),
        st.tuples(st.integers(0, n), st.integers(0, n), SOME_TEXT | WEIRD_WORDS).map(
            lambda t: _replace_span(good, t)),
        _replace_field(good, delimiters),
        _replace_field(good, delimiters).flatmap(lambda g: _replace_field(g, delimiters)),
        st.tuples(st.integers(0, 1000), st.booleans()).map(lambda t: _drop_or_double_line(good, t)),
    )


def ssh_answer(good: str, delimiters: str = "!,= ") -> st.SearchStrategy[Tuple[str, str, int]]:
    """(stdout, stderr, exit status): a spoiled answer with success, or a failure with a vendor text."""
    return st.one_of(
        garbled_text(good, delimiters).map(lambda out: (out, "", 0)),
        st.tuples(SOME_TEXT | st.just(""), VENDOR_ERRORS | SOME_TEXT,
                  st.sampled_from([1, 2, 127, 255, 3])),
    )


JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20) | WEIRD_WORDS)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def _slots(value: Any, out: List[Tuple[Any, Any]]) -> List[Tuple[Any, Any]]:
    """Every (container, key) of a JSON value, depth first."""
    if isinstance(value, dict):
        for key in list(value):
            out.append((value, key))
            _slots(value[key], out)
    elif isinstance(value, list):
        for i in range(len(value)):
            out.append((value, i))
            _slots(value[i], out)
    return out


@st.composite
def mutated_json(draw, good: Any) -> str:
    """GOOD with one to three values replaced (by any JSON or a weird word), removed, or retyped."""
    data = copy.deepcopy(good)
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(data, [])
        if not slots or draw(st.integers(0, 9)) == 0:
            data = draw(JSON_VALUES)
            continue
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["replace", "remove", "retype"]))
        if action == "remove":
            del container[key]
        elif action == "retype":
            old = container[key]
            container[key] = [old] if not isinstance(old, list) else {"0": old}
        else:
            container[key] = draw(JSON_VALUES)
    return json.dumps(data)


def json_text(good: Any) -> st.SearchStrategy[str]:
    """A hostile JSON answer: mutated, truncated, or not JSON at all."""
    text = json.dumps(good)
    return st.one_of(
        mutated_json(good),
        st.integers(0, len(text)).map(lambda k: text[:k]),
        SOME_TEXT,
        st.sampled_from(["", "null", "[]", "{}", "\"ok\"", "[" * 3000 + "]" * 3000, "{\"a\":" * 3000]),
    )


def expect_device_error(call: Callable[[], Any], also: Tuple[type, ...] = ()) -> Any:
    """CALL either returns (its value is returned) or raises a DeviceError with a message."""
    try:
        return call()
    except DeviceError as exc:
        assert exc.device and str(exc).strip(), exc
        return exc
    except also:
        return None
    # anything else (KeyError, ValueError, IndexError, AttributeError, TypeError, JSONDecodeError,
    # RecursionError ...) propagates and fails the property with its traceback


# ==================================================================== Storage Virtualize (SSH CLI)

GROUP = "G1"


def _svc_recordings() -> Dict[str, Tuple[str, str, int]]:
    """Answers of the lab's Storage Virtualize front (no socket) with a group of two mappings."""
    from flash4i_tui.lab.svc import SvcFront, build_arrays
    from flash4i_tui.lab.world import World

    from ..lab.test_svc_cli import SMALL_ARRAY
    world = World(speed=200.0)
    build_arrays(world, [copy.deepcopy(SMALL_ARRAY)])
    front = SvcFront(next(iter(world.arrays.values())), paramiko.ECDSAKey.generate(bits=256), [])
    for line in (svc.cmd_mkfcconsistgrp(GROUP), svc.cmd_mkfcmap("SRC_1", "TGT_1", GROUP, 0),
                 svc.cmd_mkfcmap("SRC_2", "TGT_2", GROUP, 0)):
        assert front.run_line(line)[2] == 0
    lines = [svc.cmd_lsvdisk(v) for v in ("SRC_1", "TGT_1", "TGT_2", "NOPE")] + \
        [svc.cmd_lshostvdiskmap(), svc.cmd_lsfcconsistgrp(GROUP), svc.cmd_lsfcmap(GROUP), svc.cmd_lsfcmap()]
    return {line: front.run_line(line) for line in lines}


SVC_GOOD = _svc_recordings()
SVC_COMMANDS = sorted(SVC_GOOD)


class ScriptedSsh:
    """An SshSession stand-in: the answer of each command line from ANSWER(command)."""

    def __init__(self, answer: Callable[[str], Tuple[str, str, int]]):
        self.answer, self.sent, self.closed = answer, [], 0

    def run(self, command: str, timeout: float = 60.0) -> CommandResult:
        self.sent.append(command)
        out, err, status = self.answer(command)
        return CommandResult(command, out, err, status, 0.0)

    def close(self) -> None:
        self.closed += 1


SVC_CALLS: Dict[str, Callable[[svc.SvcDriver], Any]] = {
    "volumes": lambda d: d.volumes(["SRC_1", "TGT_1", "NOPE"]),
    "host_mappings": lambda d: d.host_mappings(["TGT_1", "TGT_2"]),
    "progress": lambda d: d.progress(GROUP),
    "group_state": lambda d: d.group_state(GROUP),
    "space_used": lambda d: d.space_used(["TGT_1", "TGT_2"]),
}


def _check_group(state: Any) -> None:
    if state is None:
        return
    assert isinstance(state, GroupState) and state.status in GROUP_STATES
    for m in state.mappings:
        assert isinstance(m.progress, int) and 0 <= m.progress <= 100 and m.status in GROUP_STATES


def _check_storage_result(result: Any) -> None:
    if isinstance(result, DeviceError) or result is None:
        return
    if isinstance(result, int):
        assert result >= 0
    elif isinstance(result, GroupState):
        _check_group(result)
    elif isinstance(result, dict):
        for value in result.values():
            if isinstance(value, VolumeInfo):
                assert isinstance(value.capacity_bytes, int) and value.capacity_bytes >= 0
                assert value.status in ("online", "offline", "degraded")
            else:
                assert all(isinstance(m, HostMapping) and isinstance(m.scsi_id, int) for m in value)


def test_svc_good_answers_are_understood():
    driver = svc.SvcDriver(ScriptedSsh(lambda c: SVC_GOOD[c]), "FS9", poll_interval=0)
    assert set(driver.volumes(["SRC_1", "TGT_1", "NOPE"])) == {"SRC_1", "TGT_1"}
    assert driver.progress(GROUP).status == "idle_or_copied"
    assert [m.scsi_id for m in driver.host_mappings(["TGT_1", "TGT_2"])["TGT_2"]] == [1]


@HOSTILE
@given(data=st.data(), spoiled=st.sampled_from(SVC_COMMANDS), call=st.sampled_from(sorted(SVC_CALLS)))
def test_svc_hostile_answers_are_device_errors(data, spoiled, call):
    bad = data.draw(ssh_answer(SVC_GOOD[spoiled][0] or SVC_GOOD[spoiled][1], "!"), label="answer")
    session = ScriptedSsh(lambda c: bad if c == spoiled else SVC_GOOD[c])
    result = expect_device_error(lambda: SVC_CALLS[call](svc.SvcDriver(session, "FS9", poll_interval=0)))
    _check_storage_result(result)


@HOSTILE
@given(text=garbled_text("id!name!status\n0!G1!copying\n", "!") | SOME_TEXT)
def test_svc_parsers_directly(text):
    expect_device_error(lambda: svc.parse_concise(text, "FS9", "cmd", ("id", "name")))
    expect_device_error(lambda: svc.parse_detailed(text, "FS9", "cmd"))


# ==================================================================== HMC (SSH CLI) and VIOS (viosvrcmd)

SYS = "P10-PROD"
HMC_GOOD = {
    "lssyscfg": "PROD,3,Running,os400,normal,normal\n",
    "lsrefcode": 'lpar_name=PROD,lpar_id=3,time_stamp=12/01/2025 10:00:00,refcode=00000000,word2=03D00000,'
                 '"fru_call_out_loc_codes=U78DA.ND0.WZS0001,P1"\n',
    "lsmap": ("SVSA                 Physloc                           Client Partition ID\n"
              "-------------        --------------------------------- ------------------\n"
              "vhost0               U9080.M9S.7800001-V1-C11          0x00000006\n\n"
              "VTD                   vtscsi0\nStatus                Available\nLUN                   0x8100000000000000\n"
              "Backing device        hdisk4\nPhysloc\n"),
    "lsdev": "name             status      description\nhdisk0           Available   SAS Disk Drive\n"
             "hdisk4           Available   MPIO IBM 2145 FC Disk\n",
    "lsdev-attr": "value\n\n3321360050768CB4CA6C3C00000000000000204214503IBMfcp\n",
    "rmdev": "vtscsi0 deleted\nhdisk4 deleted\n",
    "mkvdev": "vtscsi1 Available\n",
}


def hmc_key(command: str) -> str:
    words = shlex.split(command)
    if words[0] != "viosvrcmd":
        return words[0]
    inner = words[words.index("-c") + 1].split()
    return "lsdev-attr" if inner[0] == "lsdev" and "-attr" in inner else inner[0]


HMC_CALLS: Dict[str, Callable[[HmcDriver], Any]] = {
    "lpars": lambda h: h.lpars(SYS),
    "lpar": lambda h: h.lpar(SYS, "PROD"),
    "refcode": lambda h: h.refcode(SYS, "PROD"),
    "wait_ipl": lambda h: h.wait_ipl(SYS, "PROD", timeout=0, poll=0),
    "wait_state": lambda h: h.wait_state(SYS, "PROD", {"Running"}, timeout=0, poll=0),
    "vios_lsmap": lambda h: h.vios_lsmap(SYS, "VIOS1"),
    "vios_disks": lambda h: h.vios_disks(SYS, "VIOS1"),
    "vios_rmdev": lambda h: h.vios_rmdev(SYS, "VIOS1", "hdisk4"),
    "vios_mkvdev": lambda h: h.vios_mkvdev(SYS, "VIOS1", "hdisk5", "vhost0"),
}


def test_hmc_good_answers_are_understood():
    hmc = HmcDriver(ScriptedSsh(lambda c: (HMC_GOOD[hmc_key(c)], "", 0)), "HMC1")
    assert hmc.lpar(SYS, "PROD") == LparInfo("PROD", 3, "Running", "os400", "normal", "normal")
    assert hmc.refcode(SYS, "PROD") == RefCode("00000000", "12/01/2025 10:00:00")
    assert hmc.wait_ipl(SYS, "PROD", timeout=0, poll=0).code == "00000000"
    assert [v.vtds[0].backing for v in hmc.vios_lsmap(SYS, "VIOS1")] == ["hdisk4"]
    assert set(hmc.vios_disks(SYS, "VIOS1")) == {"hdisk0", "hdisk4"}
    assert hmc.vios_mkvdev(SYS, "VIOS1", "hdisk5", "vhost0") == "vtscsi1"


@HOSTILE
@given(data=st.data(), spoiled=st.sampled_from(sorted(HMC_GOOD)), call=st.sampled_from(sorted(HMC_CALLS)))
def test_hmc_hostile_answers_are_device_errors(data, spoiled, call):
    bad = data.draw(ssh_answer(HMC_GOOD[spoiled], ",= "), label="answer")
    hmc = HmcDriver(ScriptedSsh(lambda c: bad if hmc_key(c) == spoiled else (HMC_GOOD[hmc_key(c)], "", 0)), "HMC1")
    # an unknown partition state is waited on like any other until the bound: a StepTimeout
    result = expect_device_error(lambda: HMC_CALLS[call](hmc), also=(StepTimeout,))
    if isinstance(result, list):
        assert all(isinstance(x, (LparInfo, Vhost)) for x in result)
    elif isinstance(result, LparInfo):
        assert isinstance(result.id, int)
    elif isinstance(result, dict):
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())


# ==================================================================== IBM i (system, db2util)

def records(*rows: dict) -> Any:
    return {"records": list(rows)}


IBMI_GOOD: Dict[str, Any] = {
    "system": "CPC2102: Library DRVLIB created.\n",
    "SYSTEM_STATUS_INFO": records({"HOST_NAME": "PROD.EXAMPLE.COM", "PARTITION_ID": 3, "PARTITION_NAME": "PROD",
                                   "SERIAL_NUMBER": "7800001"}),
    "QUTCOFFSET": records({"CURRENT_CHARACTER_VALUE": "+01:00"}),
    "HISTORY_LOG_INFO": records({"ORDINAL_POSITION": 1, "MESSAGE_TIMESTAMP": "2026-01-01-10.00.00.000000",
                                 "MESSAGE_ID": "CPF1124", "MESSAGE_TYPE": "INFORMATIONAL", "SEVERITY": 0,
                                 "FROM_USER": "QSYS", "FROM_JOB": "123456/QSYS/QSYSARB",
                                 "MESSAGE_TEXT": "Job started."}),
    "JOBLOG_INFO": records({"ORDINAL_POSITION": 1, "MESSAGE_TIMESTAMP": "2026-01-01 10:00:00.000000",
                            "MESSAGE_ID": None, "MESSAGE_TYPE": "REQUEST", "SEVERITY": 0, "FROM_USER": "FLASH4I",
                            "MESSAGE_TEXT": "CALL PGM(FLASH4I/AGENT)"}),
}


def ibmi_key(command: str) -> str:
    return next((k for k in IBMI_GOOD if k != "system" and k in command), "system")


def ibmi_good(command: str) -> Tuple[str, str, int]:
    key = ibmi_key(command)
    good = IBMI_GOOD[key]
    return (good if isinstance(good, str) else json.dumps(good)), "", 0


START = datetime(2026, 1, 1, 9, tzinfo=timezone.utc)
IBMI_CALLS: Dict[str, Callable[[IbmiDriver], Any]] = {
    "cl": lambda i: i.cl("CRTLIB LIB(DRVLIB)"),
    "resume": lambda i: i.resume(),
    "system_info": lambda i: i.system_info(),
    "utc_offset": lambda i: i.utc_offset(),
    "history_log": lambda i: i.history_log(START, START + timedelta(hours=2)),
    "joblog": lambda i: i.joblog("123456/FLASH4I/AGENT"),
}


def test_ibmi_good_answers_are_understood():
    ibmi = IbmiDriver(ScriptedSsh(ibmi_good), "PROD")
    assert ibmi.system_info()["partition_id"] == 3
    assert ibmi.utc_offset() == timedelta(hours=1)
    assert ibmi.history_log(START, START)[0]["timestamp"] == datetime(2026, 1, 1, 9, tzinfo=timezone.utc)
    assert ibmi.joblog("123456/FLASH4I/AGENT")[0]["msg_id"] == ""
    assert ibmi.cl("CRTLIB LIB(DRVLIB)").messages[0].msg_id == "CPC2102"


def ibmi_answer(key: str) -> st.SearchStrategy[Tuple[str, str, int]]:
    good = IBMI_GOOD[key]
    if isinstance(good, str):            # CL through `system`: text, its exit status decides
        return st.one_of(
            garbled_text(good, ": ").map(lambda out: (out, "", 0)),
            st.tuples(SOME_TEXT, garbled_text("CPD0043: Keyword NOPE not valid.\nCPF0006: Errors occurred in "
                                              "command.\n", ": ") | VENDOR_ERRORS,
                      st.sampled_from([255, 1, 2, 126, -1])))
    return st.one_of(
        json_text(good).map(lambda out: (out, "", 0)),
        st.tuples(SOME_TEXT, VENDOR_ERRORS | SOME_TEXT, st.sampled_from([1, 2, 127, -1])))


@HOSTILE
@given(data=st.data(), spoiled=st.sampled_from(sorted(IBMI_GOOD)), call=st.sampled_from(sorted(IBMI_CALLS)))
def test_ibmi_hostile_answers_are_device_errors(data, spoiled, call):
    bad = data.draw(ibmi_answer(spoiled), label="answer")
    session = ScriptedSsh(lambda c: bad if ibmi_key(c) == spoiled else ibmi_good(c))
    result = expect_device_error(lambda: IBMI_CALLS[call](IbmiDriver(session, "PROD")))
    if isinstance(result, list):
        for message in result:
            assert isinstance(message["ordinal"], int) and isinstance(message["severity"], int)
            assert message["timestamp"] is None or message["timestamp"].tzinfo is not None
    elif isinstance(result, ClResult):
        assert all(m.msg_id for m in result.messages)


# ==================================================================== REST: DS8000 and PowerMax

class FakeHttp:
    """What RestSession asks of requests.Session: real `requests.Response` objects from ANSWER,
    so the session's own decoding (text, JSON) runs on the hostile bytes."""

    def __init__(self, answer: Callable[[str, str], Tuple[int, bytes]]):
        self.answer = answer

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        status, body = self.answer(method, "/" + path)
        response = requests.Response()
        response.status_code, response._content, response.url = status, body, url
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def rest_session(answer: Callable[[str, str], Tuple[int, bytes]]) -> RestSession:
    session = RestSession(RestEndpoint("FAKE", "https://127.0.0.1:1", "flash4i", PASSWORD_ENV))
    session._http = FakeHttp(answer)       # type: ignore[assignment]
    return session


def rest_answer(good: Any) -> st.SearchStrategy[Tuple[int, bytes]]:
    """A hostile REST answer: a spoiled body with 200, or an HTTP error with a vendor body."""
    vendor = st.sampled_from([
        b"<html><body><h1>500 Internal Server Error</h1></body></html>", b"", b"Bad Gateway",
        json.dumps({"server": {"status": "failed", "code": "BE7A0001", "message": "Internal error"}}).encode(),
        json.dumps({"server": {"status": "failed", "code": "BE7A001B", "message": "token expired"}}).encode(),
        json.dumps({"message": "A problem occurred: java.lang.NullPointerException"}).encode(),
        json.dumps({"message": ""}).encode(), b"{\"message\": ", b"\xff\xfe\x00garbage",
    ])
    return st.one_of(
        json_text(good).map(lambda text: (200, text.encode("utf-8", "surrogatepass"))),
        st.tuples(st.sampled_from([200, 201, 202, 204, 400, 401, 403, 404, 409, 500, 502, 503]),
                  vendor | st.binary(max_size=100) | json_text(good).map(lambda t: t.encode("utf-8", "surrogatepass"))),
    )


NO_ROUTE = "(no such route)"      # a path built from a hostile id: the device has nothing there


def route_of(routes: Dict[str, Any], method: str, path: str) -> str:
    line = f"{method} {path}"
    return next((key for key in routes if re.search(key, line)), NO_ROUTE)


def not_found() -> Tuple[int, bytes]:
    return 404, json.dumps({"message": "Cannot find the resource"}).encode()


# ------------------------------------------------------------------ DS8000

OK = {"status": "ok", "code": "", "message": "Operation done successfully."}


def ds_volume(vid: str) -> dict:
    return {"server": OK, "data": {"volumes": [{"id": vid, "state": "normal", "cap": "1073741824",
                                                "real_cap": "1073741824", "tp": "none", "wwn": "6005076303FF" + vid}]}}


DS_ROUTES: Dict[str, Any] = {
    r"^POST /api/v1/tokens$": {"server": OK, "token": {"token": "t0k", "expired_time": "",
                                                       "max_idle_interval": "1800000"}},
    r"^GET /api/v1/volumes/(?P<id>\w+)$": ds_volume,
    r"^GET /api/v1/hosts/[^/]+/mappings$": {"server": OK, "data": {"mappings": [
        {"lunid": "00", "volume": {"id": "2000"}}, {"lunid": "01", "volume": {"id": "2001"}}]}},
    r"^GET /api/v1/hosts$": {"server": OK, "data": {"hosts": [{"name": "CLONE_FC"}]}},
    r"^GET /api/v1/cs/flashcopies$": {"server": OK, "data": {"flashcopy": [
        {"id": "1000:2000", "source_volume": {"id": "1000"}, "target_volume": {"id": "2000"},
         "out_of_sync_tracks": "16384", "state": "valid", "backgroundcopy": "disabled",
         "date_created": "2026-01-01T00:00:00+0000"}]}},
    r"^DELETE ": {"server": OK},
    r"^POST /api/v1/cs/flashcopies": {"server": OK},
}


def ds_good(method: str, path: str) -> Tuple[int, bytes]:
    route = route_of(DS_ROUTES, method, path)
    if route == NO_ROUTE:
        return not_found()
    good = DS_ROUTES[route]
    if callable(good):
        good = good(re.search(route, f"{method} {path}").group("id"))
    return 200, json.dumps(good).encode()


DS_PAIRS = (VolumePair("1000", "2000"), VolumePair("1001", "2001"))
DS_CALLS: Dict[str, Callable[[Ds8000Driver], Any]] = {
    "volumes": lambda d: d.volumes(["1000", "2000"]),
    "host_mappings": lambda d: d.host_mappings(["2000", "2001"]),
    "progress": lambda d: d.progress(GROUP),
    "group_state": lambda d: d.group_state(GROUP),
    "space_used": lambda d: d.space_used(["2000"]),
    "prepare": lambda d: d.prepare(GROUP, timeout=0),
    "stop": lambda d: d.stop(GROUP),
}


def ds_driver(answer: Callable[[str, str], Tuple[int, bytes]]) -> Ds8000Driver:
    return Ds8000Driver(rest_session(answer), "DS9", {GROUP: GroupSpec(DS_PAIRS, 0)})


def test_ds8000_good_answers_are_understood(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "secret")
    driver = ds_driver(ds_good)
    assert set(driver.volumes(["1000", "2000"])) == {"1000", "2000"}
    assert driver.host_mappings(["2001"])["2001"][0].scsi_id == 1
    assert driver.progress(GROUP).status == "stopped"          # one pair of two has a relationship


@HOSTILE
@given(data=st.data(), spoiled=st.sampled_from(sorted(DS_ROUTES)), call=st.sampled_from(sorted(DS_CALLS)))
def test_ds8000_hostile_answers_are_device_errors(monkeypatch, data, spoiled, call):
    monkeypatch.setenv(PASSWORD_ENV, "secret")
    good = DS_ROUTES[spoiled]
    bad = data.draw(rest_answer(good("1000") if callable(good) else good), label="answer")
    driver = ds_driver(lambda m, p: bad if route_of(DS_ROUTES, m, p) == spoiled else ds_good(m, p))
    # prepare and stop refuse target sizes that differ as a SafetyRefusal
    from flash4i_tui.errors import SafetyRefusal
    _check_storage_result(expect_device_error(lambda: DS_CALLS[call](driver), also=(SafetyRefusal,)))


# ------------------------------------------------------------------ PowerMax

SID = "000197900123"
PM = f"/univmax/restapi/100/sloprovisioning/symmetrix/{SID}"
PMR = f"/univmax/restapi/100/replication/symmetrix/{SID}/storagegroup"


def pm_volume(dev: str) -> dict:
    return {"volumeId": dev, "cap_cyl": 547, "allocated_percent": 40, "wwn": "60000970000197900123533030" + dev[-2:],
            "status": "Ready", "storageGroupId": ["G1_TGT"] if dev.startswith("003") else ["G1_SRC"]}


def pm_sg_volumes(sg: str) -> dict:
    devices = ["00201"] if sg.endswith("_SRC") else ["00301"]
    return {"count": len(devices), "resultList": {"result": [{"volumeId": d} for d in devices]}}


PM_ROUTES: Dict[str, Any] = {
    rf"^GET {PM}/volume/(?P<id>\w+)$": pm_volume,
    rf"^GET {PM}/volume\?storageGroupId=(?P<id>\w+)$": pm_sg_volumes,
    rf"^GET {PM}/storagegroup/\w+$": {"storageGroupId": "G1_SRC", "num_of_masking_views": 0},
    rf"^GET {PM}/maskingview$": {"maskingViewId": ["CLONE_MV"]},
    rf"^GET {PM}/maskingview/CLONE_MV$": {"maskingViewId": "CLONE_MV", "hostId": "CLONE_IG",
                                          "storageGroupId": "CLONE_SG"},
    rf"^GET {PM}/maskingview/CLONE_MV/connections$": {"maskingViewConnection": [
        {"volumeId": "00301", "host_lun_address": "0001", "initiatorId": "c050760a1b2c0030"}]},
    rf"^GET {PMR}/G1_SRC/snapshot$": {"name": ["G1"]},
    rf"^GET {PMR}/G1_SRC/snapshot/G1/snapid$": {"snapids": [7]},
    rf"^GET {PMR}/G1_SRC/snapshot/G1/snapid/7$": {
        "name": "G1", "snapid": 7, "state": ["Established"], "timestamp": "10:58:56 Tue, 09 Jul 2024 +0000",
        "timestamp_utc": 1720522736000, "linked": True, "non_shared_tracks": 12,
        "linked_storage_group": [{"name": "G1_TGT", "source_volume_name": "00201", "linked_volume_name": "00301",
                                  "percentageCopied": 40}]},
    r"^GET /univmax/restapi/100/system/job/\w+$": {"jobId": "J1", "status": "SUCCEEDED", "result": ""},
    r"^GET /univmax/restapi/version$": {"version": "V10.0.0.1", "api_version": "100",
                                        "supported_api_versions": ["100"]},
    r"^GET /univmax/restapi/100/sloprovisioning/symmetrix$": {"symmetrixId": [SID]},
}


def pm_good(method: str, path: str) -> Tuple[int, bytes]:
    route = route_of(PM_ROUTES, method, path)
    if route == NO_ROUTE:
        return not_found()
    good = PM_ROUTES[route]
    if callable(good):
        good = good(re.search(route, f"{method} {path}").group("id"))
    return 200, json.dumps(good).encode()


PM_CALLS: Dict[str, Callable[[PowerMaxDriver], Any]] = {
    "volumes": lambda d: d.volumes(["00201", "00301"]),
    "host_mappings": lambda d: d.host_mappings(["00301"]),
    "group_state": lambda d: d.group_state(GROUP),
    "progress": lambda d: d.progress(GROUP),
    "space_used": lambda d: d.space_used(["00301"]),
    "job": lambda d: d._job(d._array_api.snapshots("G1_SRC"), _accepted(d)),
}


def _accepted(driver: PowerMaxDriver) -> Any:
    """The 202 answer of an ASYNCHRONOUS request, as the session returns it (its job is then polled)."""
    from flash4i_tui.devices.storage.rest import Request
    return driver.session.send(Request("GET", "/univmax/restapi/100/system/job/J1"))


def pm_driver(answer: Callable[[str, str], Tuple[int, bytes]], configured: bool) -> PowerMaxDriver:
    options = dict(symmetrix_id=SID, api_version="100") if configured else {}
    return PowerMaxDriver(rest_session(answer), "PM9", {GROUP: GroupSpec((VolumePair("00201", "00301"),), 0)},
                          poll_interval=0, job_timeout=0, **options)


def test_powermax_good_answers_are_understood(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "secret")
    for configured in (True, False):
        driver = pm_driver(pm_good, configured)
        assert driver.volumes(["00201"])["00201"].capacity_bytes == 547 * 15 * 128 * 1024
        assert driver.host_mappings(["00301"])["00301"][0].scsi_id == 1
        assert driver.progress(GROUP).mappings[0].progress == 40
        assert driver.space_used(["00301"]) > 0


@HOSTILE
@given(data=st.data(), spoiled=st.sampled_from(sorted(PM_ROUTES)), call=st.sampled_from(sorted(PM_CALLS)),
       configured=st.booleans())
def test_powermax_hostile_answers_are_device_errors(monkeypatch, data, spoiled, call, configured):
    monkeypatch.setenv(PASSWORD_ENV, "secret")
    good = PM_ROUTES[spoiled]
    bad = data.draw(rest_answer(good("00201") if callable(good) else good), label="answer")
    if call == "job" and data.draw(st.booleans(), label="accepted"):
        # the job id itself comes from the device: an ASYNCHRONOUS request answered 202
        accepted = data.draw(rest_answer({"jobId": "J1"}), label="202 answer")
        bad, spoiled = (202, accepted[1]), r"^GET /univmax/restapi/100/system/job/\w+$"
    driver = pm_driver(lambda m, p: bad if route_of(PM_ROUTES, m, p) == spoiled else pm_good(m, p), configured)
    _check_storage_result(expect_device_error(lambda: PM_CALLS[call](driver), also=(StepTimeout,)))
