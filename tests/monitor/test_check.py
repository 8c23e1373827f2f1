"""`flash4i check`: the status line, performance data and exit code of every state (runs in the
store, and lab devices over real sockets), and the PRTG JSON checked against its format."""
from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta

import pytest

from flash4i_tui.cli import main
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.monitor.check import Limits, check_environment, nagios_line
from flash4i_tui.store.db import utcnow

from .conftest import NOW, add_run

# Monitoring Plugins guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]
NUMBER = r"-?\d+(\.\d+)?"
PERF_ITEM = re.compile(rf"^'[^'=]+'={NUMBER}(s|ms|us|%|B|KB|MB|TB|c)?(;({NUMBER})?){{0,4}}$")
LINE = re.compile(r"^FLASH4I (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+( \| .+)?$")
EXIT_OF = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


def check_cli(capsys, url: str, *args: str):
    """Run `flash4i check` as Nagios would; return (exit code, the one output line)."""
    try:
        code = main(["--db", url, "check", *args])
    except SystemExit as exited:       # argument errors leave through argparse, with the plugin's code
        code = exited.code
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 1, out
    line = lines[0]
    assert LINE.match(line), line
    assert EXIT_OF[line.split()[1]] == code
    if " | " in line:
        for item in line.split(" | ", 1)[1].split():
            assert PERF_ITEM.match(item), item
    return code, line


def ago(**delta) -> datetime:
    return utcnow() - timedelta(**delta)


# ------------------------------------------------------------------ runs in the store

STORE_CASES = {
    "no run yet": ([], [], 1, "FLASH4I WARNING - NIGHTLY: no run yet"),
    "success": ([("SUCCEEDED", dict(ended=dict(hours=2)))], [], 0,
                "FLASH4I OK - NIGHTLY: last run {0} SUCCEEDED 2.0 h ago | 'suspend'=0.42s;5;30 'duration'=812s "
                "'space_used'=123456789B 'age'=720"),
    "failed": ([("SUCCEEDED", dict(ended=dict(hours=30))),
                ("FAILED", dict(ended=dict(minutes=10), message="QUIESCE: PROD: CPF9801 no object\ntrace"))], [], 2,
               "FLASH4I CRITICAL - NIGHTLY: last run {1} FAILED 10 min ago: QUIESCE: PROD: CPF9801 no object | "),
    "resume failed": ([("SUCCEEDED", dict(ended=dict(hours=20))),
                       ("FAILED", dict(ended=dict(minutes=3), phase="FLASHED", message="RESUME: PROD: PRODUCTION MAY",
                                       steps=[("QUIESCE", "OK", dict(minutes=4), 600.0),
                                              ("RESUME", "FAILED", dict(minutes=4), 300.0)]))], [], 2,
                      "FLASH4I CRITICAL - NIGHTLY: PRODUCTION MAY STILL BE SUSPENDED after run {1}: on the console "
                      "of PROD type CHGASPACT ASPDEV(*SYSBAS) OPTION(*RESUME), or run: flash4i resume {1}; last run {1} FAILED 3 min ago"),
    "worker died inside the window": ([("FAILED", dict(ended=dict(minutes=3), phase="SUSPENDING",
                                                       message="the worker died"))], [], 2,
                                      "FLASH4I CRITICAL - NIGHTLY: PRODUCTION MAY STILL BE SUSPENDED after run {0}"),
    "failed after the resume": ([("FAILED", dict(ended=dict(minutes=3), phase="RESUMED", message="MAP_VIOS: x",
                                                 steps=[("RESUME", "OK", dict(minutes=4), 300.0)]))], [], 2,
                                "FLASH4I CRITICAL - NIGHTLY: last run {0} FAILED 3 min ago: MAP_VIOS: x |"),
    "cancelled": ([("CANCELLED", dict(ended=dict(minutes=5), suspended=None))], [], 1,
                  "FLASH4I WARNING - NIGHTLY: last run {0} was CANCELLED 5 min ago"),
    "too old for a warning": ([("SUCCEEDED", dict(ended=dict(hours=30)))], ["--warn-age", "24", "--max-age", "48"], 1,
                              "FLASH4I WARNING - NIGHTLY: last success (run {0}) is 30.0 h old (--warn-age 24 h)"),
    "too old": ([("SUCCEEDED", dict(ended=dict(hours=50)))], ["--warn-age", "24", "--max-age", "48"], 2,
                "FLASH4I CRITICAL - NIGHTLY: last success (run {0}) is 2.1 days old (--max-age 48 h)"),
    "never succeeded": ([("CANCELLED", dict(ended=dict(hours=1)))], ["--max-age", "26"], 2,
                        "FLASH4I CRITICAL - NIGHTLY: no successful run yet; last run {0} was CANCELLED"),
    "suspend warning": ([("SUCCEEDED", dict(ended=dict(hours=1), suspended=7.5))], [], 1,
                        "FLASH4I WARNING - NIGHTLY: production was suspended 7.5s in run {0} (warning above 5s)"),
    "suspend critical": ([("SUCCEEDED", dict(ended=dict(hours=1), suspended=45.0))], [], 2,
                         "FLASH4I CRITICAL - NIGHTLY: production was suspended 45s in run {0} (critical above 30s)"),
    "suspend within custom limits": ([("SUCCEEDED", dict(ended=dict(hours=1), suspended=7.5))],
                                     ["--warn-suspend", "10", "--crit-suspend", "60"], 0,
                                     "FLASH4I OK - NIGHTLY: last run {0} SUCCEEDED 60 min ago | 'suspend'=7.5s;10;60"),
    "stuck in a step": ([("SUCCEEDED", dict(ended=dict(hours=20))),
                         ("RUNNING", dict(heartbeat=dict(seconds=2), current_step="FLASH",
                                          steps=[("CHECK", "OK", dict(hours=2, minutes=10), 300.0),
                                                 ("FLASH", "RUNNING", dict(hours=2), 120.0)]))], [], 2,
                        "FLASH4I CRITICAL - NIGHTLY: run {1} stuck in step FLASH for 2.0 h (bound 2 min)"),
    "worker gone": ([("SUCCEEDED", dict(ended=dict(hours=20))),
                     ("RUNNING", dict(heartbeat=dict(minutes=5), current_step="FUNCTION",
                                      steps=[("FUNCTION", "RUNNING", dict(minutes=20), 7200.0)]))], [], 2,
                    "FLASH4I CRITICAL - NIGHTLY: run {1} has no live worker (no heartbeat for 5 min)"),
    "running": ([("SUCCEEDED", dict(ended=dict(hours=20))),
                 ("RUNNING", dict(heartbeat=dict(seconds=2), current_step="FUNCTION",
                                  steps=[("FUNCTION", "RUNNING", dict(minutes=20), 7200.0)]))], [], 0,
                "FLASH4I OK - NIGHTLY: last run {0} SUCCEEDED 20.0 h ago; run {1} running in step FUNCTION |"),
    "clone not proven": ([("SUCCEEDED", dict(ended=dict(hours=2), proven=False))], [], 1,
                         "FLASH4I WARNING - NIGHTLY: last run {0} SUCCEEDED 2.0 h ago, but its clone is NOT proven"),
    "clone proven": ([("SUCCEEDED", dict(ended=dict(hours=2), proven=True))], [], 0,
                     "FLASH4I OK - NIGHTLY: last run {0} SUCCEEDED 2.0 h ago |"),
    "queued without a worker": ([("SUCCEEDED", dict(ended=dict(hours=20))),
                                 ("QUEUED", dict(requested=dict(minutes=20)))], [], 1,
                                "FLASH4I WARNING - NIGHTLY: run {1} queued for 20 min: no worker has taken it"),
}


def _when(value):
    return ago(**value) if isinstance(value, dict) else value


def make_runs(specs):
    runs = []
    for state, fields in specs:
        fields = dict(fields)
        for key in ("ended", "heartbeat", "requested"):
            if key in fields:
                fields[key] = _when(fields[key])
        if "steps" in fields:
            fields["steps"] = [(n, s, _when(t), b) for n, s, t, b in fields["steps"]]
        runs.append(add_run("NIGHTLY", state, **fields))
    return runs


@pytest.mark.parametrize("case", list(STORE_CASES))
def test_each_state_from_the_store(sample, sqlite_url, capsys, case):
    specs, args, expected_code, expected_start = STORE_CASES[case]
    runs = make_runs(specs)
    code, line = check_cli(capsys, sqlite_url, "NIGHTLY", "--no-devices", *args)
    assert code == expected_code
    assert line.startswith(expected_start.format(*[r.id for r in runs])), line


def test_performance_data_exactly(sample):
    run = add_run("NIGHTLY", "SUCCEEDED", ended=NOW - timedelta(hours=3), duration=812.25, suspended=0.42,
                  space=5 * 1024 ** 3)
    result = check_environment("NIGHTLY", Limits(warn_age_hours=25, max_age_hours=26.5), devices=False, now=NOW)
    assert nagios_line(result) == (
        f"FLASH4I OK - NIGHTLY: last run {run.id} SUCCEEDED 3.0 h ago | 'suspend'=0.42s;5;30 'duration'=812.25s "
        "'space_used'=5368709120B 'age'=10800s;90000;95400")
    assert result.state == 0


def test_the_worst_state_wins_and_every_problem_is_named(sample):
    add_run("NIGHTLY", "SUCCEEDED", ended=NOW - timedelta(hours=40), suspended=0.3)
    failed = add_run("NIGHTLY", "FAILED", ended=NOW - timedelta(hours=1), suspended=12.0, message="FLASH: refused")
    result = check_environment("NIGHTLY", Limits(warn_age_hours=24), devices=False, now=NOW)
    line = nagios_line(result)
    assert result.state == 2
    assert line.startswith(f"FLASH4I CRITICAL - NIGHTLY: last run {failed.id} FAILED 60 min ago: FLASH: refused; ")
    assert "last success (run 1) is 40.0 h old (--warn-age 24 h)" in line
    assert f"production was suspended 12s in run {failed.id} (warning above 5s)" in line


def test_unknown_environment_and_bad_arguments_are_unknown(sample, sqlite_url, capsys):
    assert check_cli(capsys, sqlite_url, "NOPE") == (3, "FLASH4I UNKNOWN - environment NOPE not found")
    code, line = check_cli(capsys, sqlite_url, "NIGHTLY", "--max-age", "soon")
    assert (code, line) == (3, "FLASH4I UNKNOWN - invalid arguments: argument --max-age: invalid float value: 'soon'")
    code, line = check_cli(capsys, sqlite_url, "NIGHTLY", "--warn-age", "10", "--max-age", "5")
    assert (code, line) == (3, "FLASH4I UNKNOWN - invalid arguments: --warn-age must not be above --max-age")
    code, line = check_cli(capsys, sqlite_url, "NIGHTLY", "--crit-suspend", "-1")
    assert code == 3 and "--crit-suspend must be a number >= 0" in line
    code, line = check_cli(capsys, sqlite_url)
    assert code == 3 and "the following arguments are required: env" in line
    code, line = check_cli(capsys, "mysql://nowhere/db", "NIGHTLY")
    assert code == 3 and "unsupported store URL" in line


# ------------------------------------------------------------------ against the lab devices

@pytest.mark.lab
def test_healthy_with_devices(lab, sqlite_url, capsys):
    run = add_run("NIGHTLY", "SUCCEEDED", ended=ago(hours=1))
    lab.flash(copyrate=50, lab_seconds=10240)
    code, line = check_cli(capsys, sqlite_url, "NIGHTLY", "--max-age", "26", "--timeout", "5")
    assert code == 0
    assert line.startswith(f"FLASH4I OK - NIGHTLY: last run {run.id} SUCCEEDED 60 min ago; clone CLONE1 Not Activated |")
    assert line.endswith(";;93600 'copy_progress'=25%;;;0;100")


@pytest.mark.lab
def test_clone_partition_in_error_is_critical(lab, sqlite_url, capsys):
    add_run("NIGHTLY", "SUCCEEDED", ended=ago(hours=1))
    lab.break_clone()
    code, line = check_cli(capsys, sqlite_url, "NIGHTLY", "--timeout", "5")
    assert code == 2
    assert line.startswith("FLASH4I CRITICAL - NIGHTLY: clone partition CLONE1 is in Error, reference code B2003110;")


@pytest.mark.lab
def test_unreachable_devices_are_unknown(lab, sqlite_url, capsys):
    add_run("NIGHTLY", "SUCCEEDED", ended=ago(hours=1))
    lab.world.faults.replace(FaultRules.parse([{"device": "hmc", "match": "lssyscfg", "action": "drop"}]))
    code, line = check_cli(capsys, sqlite_url, "NIGHTLY", "--timeout", "2")
    assert code == 3 and line.startswith("FLASH4I UNKNOWN - NIGHTLY: HMC HMC1 unreachable: HMC1: connection lost")
    lab.world.faults.replace(FaultRules.parse([]))
    lab.svc.stop()
    code, line = check_cli(capsys, sqlite_url, "NIGHTLY", "--timeout", "2")
    assert code == 3 and line.startswith("FLASH4I UNKNOWN - NIGHTLY: storage FS9500 unreachable: FS9500: ")
    assert "clone CLONE1 Not Activated" in line
    # a known CRITICAL is not hidden behind a device that cannot be asked
    add_run("NIGHTLY", "FAILED", ended=ago(minutes=3), message="FLASH: CMMVC5903E")
    code, line = check_cli(capsys, sqlite_url, "NIGHTLY", "--timeout", "2")
    assert code == 2 and "storage FS9500 unreachable" in line


# ------------------------------------------------------------------ PRTG

PRTG_UNITS = {"BytesBandwidth", "BytesMemory", "BytesDisk", "Temperature", "Percent", "TimeResponse", "TimeSeconds",
              "Custom", "Count", "CPU", "BytesFile", "SpeedDisk", "SpeedNet", "TimeHours"}
PRTG_SIZES = {"One", "Kilo", "Mega", "Giga", "Tera", "Byte", "KiloByte", "MegaByte", "GigaByte", "TeraByte",
              "Bit", "KiloBit", "MegaBit", "GigaBit", "TeraBit"}
CHANNEL_KEYS = {"channel", "value", "unit", "customunit", "speedsize", "volumesize", "speedtime", "mode", "float",
                "decimalmode", "warning", "showchart", "showtable", "limitmaxerror", "limitmaxwarning",
                "limitminwarning", "limitminerror", "limiterrormsg", "limitwarningmsg", "limitmode", "valuelookup",
                "notifychanged"}
LIMITS = {"limitmaxerror", "limitmaxwarning", "limitminwarning", "limitminerror"}


def validate_prtg(doc: object) -> dict:
    """The EXE/Script Advanced JSON: {"prtg": {"result": [channels], "text": ...}} or
    {"prtg": {"error": 1, "text": ...}}. Returns the channels by name."""
    assert isinstance(doc, dict) and set(doc) == {"prtg"}
    body = doc["prtg"]
    assert set(body) <= {"result", "text", "error"}
    if "text" in body:
        assert isinstance(body["text"], str) and 0 < len(body["text"]) <= 2000
    if "error" in body:
        assert body["error"] == 1 and "text" in body and "result" not in body
        return {}
    channels = body["result"]
    assert isinstance(channels, list) and channels
    names = [c["channel"] for c in channels]
    assert len(set(names)) == len(names), names
    for c in channels:
        assert set(c) <= CHANNEL_KEYS, set(c) - CHANNEL_KEYS
        assert isinstance(c["channel"], str) and c["channel"].strip()
        assert c["unit"] in PRTG_UNITS
        value = c["value"]
        assert isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(value, float):
            assert c.get("float") == 1, c              # PRTG reads an integer unless told otherwise
        assert c.get("float", 0) in (0, 1) and c.get("warning", 0) in (0, 1)
        if "customunit" in c:
            assert c["unit"] == "Custom" and isinstance(c["customunit"], str)
        if "volumesize" in c:
            assert c["volumesize"] in PRTG_SIZES
        if "decimalmode" in c:
            assert c["decimalmode"] in ("Auto", "All")
        if LIMITS & set(c):
            assert c.get("limitmode") == 1
            assert all(isinstance(c[k], (int, float)) for k in LIMITS & set(c))
    return {c["channel"]: c for c in channels}


def prtg_cli(capsys, url: str, *args: str):
    code = main(["--db", url, "check", *args, "--format", "prtg"])
    return code, json.loads(capsys.readouterr().out)


def test_prtg_channels(sample, sqlite_url, capsys):
    add_run("NIGHTLY", "SUCCEEDED", ended=ago(hours=2), duration=812.6, suspended=0.42, space=5 * 1024 ** 3)
    code, doc = prtg_cli(capsys, sqlite_url, "NIGHTLY", "--no-devices", "--max-age", "26")
    channels = validate_prtg(doc)
    assert code == 0
    assert list(channels) == ["Status", "Suspended window", "Duration", "Space used", "Age of last success"]
    assert channels["Status"]["value"] == 0 and "warning" not in channels["Status"]
    assert (channels["Suspended window"]["value"], channels["Suspended window"]["customunit"]) == (0.42, "s")
    assert (channels["Suspended window"]["limitmaxwarning"], channels["Suspended window"]["limitmaxerror"]) == (5, 30)
    assert (channels["Duration"]["value"], channels["Duration"]["unit"]) == (813, "TimeSeconds")
    assert (channels["Space used"]["value"], channels["Space used"]["unit"]) == (5 * 1024 ** 3, "BytesDisk")
    assert channels["Age of last success"]["limitmaxerror"] == 26 * 3600
    assert 7190 <= channels["Age of last success"]["value"] <= 7300
    assert doc["prtg"]["text"].startswith("OK: NIGHTLY: last run 1 SUCCEEDED")


def test_prtg_states_and_errors(sample, sqlite_url, capsys, monkeypatch):
    code, doc = prtg_cli(capsys, sqlite_url, "NIGHTLY", "--no-devices")
    channels = validate_prtg(doc)
    assert code == 0 and channels["Status"]["value"] == 1 and channels["Status"]["warning"] == 1
    assert doc["prtg"]["text"] == "WARNING: NIGHTLY: no run yet"
    add_run("NIGHTLY", "FAILED", ended=ago(minutes=1), message="x" * 5000)
    code, doc = prtg_cli(capsys, sqlite_url, "NIGHTLY", "--no-devices")
    channels = validate_prtg(doc)
    assert channels["Status"]["value"] == 2 and channels["Status"]["limitmaxerror"] == 1
    # the check cannot run: PRTG's error form, and still exit 0 (PRTG reads the JSON)
    code, doc = prtg_cli(capsys, sqlite_url, "NOPE")
    validate_prtg(doc)
    assert code == 0 and doc == {"prtg": {"error": 1, "text": "flash4i check: environment NOPE not found"}}
    argv = ["flash4i", "--db", sqlite_url, "check", "NIGHTLY", "--timeout", "x", "--format", "prtg"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main(argv[1:])
    doc = json.loads(capsys.readouterr().out)
    validate_prtg(doc)
    assert exited.value.code == 0 and "invalid arguments" in doc["prtg"]["text"]


@pytest.mark.lab
def test_prtg_with_lab_devices(lab, sqlite_url, capsys):
    add_run("NIGHTLY", "SUCCEEDED", ended=ago(hours=1))
    lab.flash(copyrate=50, lab_seconds=10240)
    code, doc = prtg_cli(capsys, sqlite_url, "NIGHTLY", "--timeout", "5")
    channels = validate_prtg(doc)
    assert (channels["Background copy"]["value"], channels["Background copy"]["unit"]) == (25, "Percent")
    lab.hmc.stop()
    code, doc = prtg_cli(capsys, sqlite_url, "NIGHTLY", "--timeout", "2")
    channels = validate_prtg(doc)
    assert code == 0 and channels["Status"]["value"] == 3 and "HMC HMC1 unreachable" in doc["prtg"]["text"]


def test_the_validator_rejects_what_prtg_rejects():
    good = {"prtg": {"result": [{"channel": "A", "value": 1, "unit": "Count"}], "text": "t"}}
    validate_prtg(good)
    bad = [
        {"prtg": {"result": []}},
        {"prtg": {"result": [{"channel": "A", "value": 1.5, "unit": "Count"}]}},            # float without float=1
        {"prtg": {"result": [{"channel": "A", "value": 1, "unit": "Seconds"}]}},            # no such unit
        {"prtg": {"result": [{"channel": "A", "value": 1, "unit": "Count"},
                             {"channel": "A", "value": 2, "unit": "Count"}]}},              # same name twice
        {"prtg": {"error": 1}},                                                             # error without text
        {"prtg": {"result": [{"channel": "A", "value": 1, "unit": "Count", "limitmaxerror": 3}]}},
    ]
    for doc in bad:
        with pytest.raises(AssertionError):
            validate_prtg(doc)
