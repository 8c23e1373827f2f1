"""Hostile command-line arguments: every read-only or refusing command answers with a documented exit
code (argparse's usage errors are exit 2), never an internal error or a traceback, and the store stays
intact. Nothing here starts a run or reaches a device: environments are unknown, or --no-devices."""
from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from .hostile_support import assert_clean_answer, hostile_settings, integrity_ok, run_cli, store_snapshot, sample_store

NUMBERISH = ["0", "-1", "-0", "1", "nan", "NaN", "inf", "-inf", "+inf", "1e309", "1e-320", "0x10", "1_000", "٣",
             "١٢", "9" * 30, "-" + "9" * 30, "9" * 5000, "2e9", "3.5", " 5", "5 ", "", " ", "--", "-", "--x"]


def hostile_text():
    return st.one_of(
        st.text(max_size=40),
        st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12),   # surrogates too
        st.sampled_from(NUMBERISH + ["NIGHTLY", "nightly", "NIGHTLY\n", "NIGHTLY\x00", "*ALL", "x" * 100_000,
                                     "\udcff", "NIGHT\udcffLY", "\n", "\r\n", "\x1b[2J", "../../etc/passwd",
                                     "' OR 1=1 --", "%s%n", "{0}", "Europe/Berlin", "UTC", "Etc/GMT+99",
                                     "/etc/localtime", "../" * 20, "a" * 300]),
    )


@pytest.fixture
def store(tmp_path):
    """A SQLite store holding the sample configuration (no runs)."""
    return sample_store(tmp_path)


def _judge(capsys, store: str, argv, allowed=None) -> int:
    before = store_snapshot(store)
    code, out, err = run_cli(capsys, ["--db", store] + list(argv))
    assert_clean_answer(code, out, err, allowed=allowed, argparse_ok=True)
    integrity_ok(store)
    assert store_snapshot(store) == before, f"{argv!r} changed the store"
    return code


# Commands that read only, or refuse before any side effect, with one hostile argument each.
# ARG marks where the hostile text goes; environments other than the sample's are unknown.
ARG = object()
READ_ONLY = [
    ["env", "show", ARG], ["env", "show", ARG, "--json"], ["env", "list", "--json", ARG],
    ["history", "--env", ARG], ["history", "--limit", ARG], ["history", "--env", "NIGHTLY", "--limit", ARG, "--json"],
    ["status", ARG, "--no-devices"], ["status", "--no-devices", "--tz", ARG], ["status", "--no-devices", "--json",
                                                                               "--timeout", ARG],
    ["status", "NOPE", "--timeout", ARG],
    ["schedule", "list", "--count", ARG], ["schedule", "list", "--tz", ARG], ["schedule", "list", "--json", "--count", ARG],
    ["plan", ARG], ["plan", ARG, "--json"],
    ["resume", ARG], ["resume", "424242", "--timeout", ARG], ["cancel", ARG],
    ["config", "validate", ARG], ["config", ARG], ["env", ARG], [ARG],
    ["--db", ARG, "env", "list"],
]
# `check` is a monitoring plugin: its answers (and its usage errors) are Nagios lines on stdout, exit 0-3.
CHECK = [
    ["check", ARG, "--no-devices"], ["check", "NIGHTLY", "--no-devices", "--max-age", ARG],
    ["check", "NIGHTLY", "--no-devices", "--warn-age", ARG], ["check", "NIGHTLY", "--no-devices", "--warn-suspend", ARG],
    ["check", "NIGHTLY", "--no-devices", "--crit-suspend", ARG], ["check", "NIGHTLY", "--no-devices", "--timeout", ARG],
    ["check", "NIGHTLY", "--no-devices", "--format", ARG], ["check", "NOPE", "--timeout", ARG],
]


def _fill(template, value):
    return [value if part is ARG else part for part in template]


def _safe(template, value: str) -> bool:
    """Leave out what would reach a device or start something: a real environment by name where
    devices are asked, or where the command would act on it (plan reads only: it may)."""
    from flash4i_tui.store.queries import storable_text
    real = {"NIGHTLY", "SUNDAY21", "TESTCOPY", "RCVPNT"}
    if template[:2] == ["status", ARG]:
        return True                                       # --no-devices
    if template[0] == "--db":
        return value.startswith(("sqlite:", "postgres")) is False or ":memory:" in value
    if template == [ARG] or template[-1] is ARG and template[:1] == ["config"] and len(template) == 2:
        return value.strip() in ("", "-h", "--help") or not value.strip().isalpha()
    return not (storable_text(value) and value in real and template[0] in ("resume", "cancel"))


@hostile_settings(100)
@given(template=st.sampled_from(READ_ONLY), value=hostile_text())
@example(template=["history", "--limit"] + [ARG], value="9" * 30)
@example(template=["history", "--limit", ARG], value="-5")
@example(template=["resume", ARG], value="9" * 30)
@example(template=["resume", ARG], value="-1")
@example(template=["resume", ARG], value="999")
@example(template=["resume", "424242", "--timeout", ARG], value="nan")
@example(template=["cancel", ARG], value="9" * 30)
@example(template=["cancel", ARG], value="5")
@example(template=["env", "show", ARG], value="\udcff")
@example(template=["env", "show", ARG], value="NIGHTLY\n")
@example(template=["history", "--env", ARG], value="NIGHT\udcffLY")
@example(template=["schedule", "list", "--count", ARG], value="9" * 12)
@example(template=["status", "--no-devices", "--tz", ARG], value="\x00")
@example(template=["status", "NOPE", "--timeout", ARG], value="nan")
@example(template=["config", "validate", ARG], value="\x00")
@example(template=["plan", ARG], value="NIGHTLY\x00")
def test_read_only_commands(capsys, store, template, value):
    if not _safe(template, value):
        return
    if template[0] == "--db" and value.strip():
        code, out, err = run_cli(capsys, _fill(template, value))
        assert_clean_answer(code, out, err, argparse_ok=True)
        integrity_ok(store)
        return
    code = _judge(capsys, store, _fill(template, value))
    if template[:1] == ["resume"] and template[1] is not ARG:
        assert code in (2, 3)          # run 424242 does not exist; a bad timeout is bad input
    if template[:2] == ["resume", ARG] and code != 2:
        assert code == 3, "an unknown run is not found"


@hostile_settings(60)
@given(template=st.sampled_from(CHECK), value=hostile_text())
@example(template=["check", "NIGHTLY", "--no-devices", "--max-age", ARG], value="nan")
@example(template=["check", ARG, "--no-devices"], value="\udcff")
@example(template=["check", "NOPE", "--timeout", ARG], value="inf")
def test_check_plugin(capsys, store, template, value):
    before = store_snapshot(store)
    code, out, err = run_cli(capsys, ["--db", store] + _fill(template, value))
    assert code in (0, 1, 2, 3), (code, out, err)
    assert "internal error" not in out + err and "Traceback" not in out + err, out + err
    assert out.startswith("FLASH4I ") and len(out.strip().splitlines()) == 1, out
    integrity_ok(store)
    assert store_snapshot(store) == before


@hostile_settings(40)
@given(run=hostile_text(), timeout=st.one_of(st.none(), hostile_text()))
@example(run="1", timeout=None)
@example(run="1", timeout="inf")
def test_resume_unknown_run(capsys, tmp_path, run, timeout):
    """`flash4i resume RUN` on a store without runs: exit 3 (not found) or 2 (not a run number)."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    argv = ["--db", url, "resume", run] + ([] if timeout is None else ["--timeout", timeout])
    code, out, err = run_cli(capsys, argv)
    assert_clean_answer(code, out, err, allowed={2, 3}, argparse_ok=True)
    if code == 3:
        assert err.startswith("flash4i: ") and len(err.splitlines()) == 1, err


@hostile_settings(40)
@given(env=hostile_text(), user=st.one_of(st.none(), hostile_text()), timeout=st.one_of(st.none(), hostile_text()))
@example(env="NOPE", user=None, timeout="nan")
@example(env="\udcff", user=None, timeout=None)
def test_start_of_unknown_environment(capsys, store, env, user, timeout):
    """`start` with an environment that does not exist is refused before anything is queued."""
    if env in ("NIGHTLY", "SUNDAY21", "TESTCOPY", "RCVPNT"):
        return
    argv = ["start", env, "--no-worker"] + ([] if user is None else ["--user", user]) \
        + ([] if timeout is None else ["--timeout", timeout])
    code = _judge(capsys, store, argv)
    assert code in (2, 3)


@pytest.mark.parametrize("flag", ["--timeout", "--limit", "--count"])
def test_argparse_error_is_usage_exit_2(capsys, store, flag):
    argv = {"--timeout": ["resume", "1", "--timeout", "nan"], "--limit": ["history", "--limit", "9" * 30],
            "--count": ["schedule", "list", "--count", "0"]}[flag]
    code, out, err = run_cli(capsys, ["--db", store] + argv)
    assert code == 2 and "error: argument" in err and "Traceback" not in err
