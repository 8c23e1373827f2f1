"""The IBM i driver's parsers on the captured shapes (tests/data/captures/ibmi/): db2util -o json
as IBM's db2util writes it, and PASE `system` messages; the lab's IBM i printing the same shapes."""
from __future__ import annotations

import json

import pytest

from flash4i_tui.devices.ibmi import ClError, IbmiDriver, parse_messages
from flash4i_tui.devices.ssh import SshSession

from ..lab.ibmi_support import Served
from .captures_support import CaptureSession, answer, check_index, text

F = "ibmi"
DB2UTIL = "/QOpenSys/pkgs/bin/db2util "
SYSTEM = "/QOpenSys/usr/bin/system "


def test_the_index_states_source_and_level_of_every_capture():
    check_index(F)


def capture_driver(**answers: str) -> IbmiDriver:
    prefixes = {"db2util": DB2UTIL, "system": SYSTEM}
    return IbmiDriver(CaptureSession({prefixes[k]: answer(F, v) for k, v in answers.items()}),  # type: ignore[arg-type]
                      "PROD")


def test_db2util_json_with_numbers_nulls_and_escapes():
    driver = capture_driver(db2util="db2util-json.txt")
    rows = driver.sql("SELECT ORDINAL_POSITION, MESSAGE_TIMESTAMP FROM TABLE(QSYS2.HISTORY_LOG_INFO()) X")
    assert [r["ORDINAL_POSITION"] for r in rows] == [1, 2]            # INTEGER: unquoted
    assert rows[1]["MESSAGE_ID"] is None and rows[1]["SEVERITY"] is None
    assert rows[1]["MESSAGE_TEXT"] == 'Line one\nline "two"'
    message = driver._message(rows[1], from_job=True)
    assert (message["ordinal"], message["severity"], message["msg_id"]) == (2, 0, "")
    assert driver._message(rows[0], from_job=True)["from_job"] == "123456/QSYS/QSYSARB"


def test_db2util_json_empty_and_array_containers():
    assert capture_driver(db2util="db2util-json-empty.txt").sql("SELECT 1 FROM SYSIBM.SYSDUMMY1 WHERE 1 = 0") == []
    rows = capture_driver(db2util="db2util-json-array.txt").sql("SELECT HOST_NAME FROM QSYS2.SYSTEM_STATUS_INFO")
    assert rows == [{"HOST_NAME": "PROD1", "PARTITION_ID": 3, "PARTITION_NAME": "PROD1", "SERIAL_NUMBER": "78ABCDE"}]


def test_system_completion_on_stdout_and_escape_on_stderr():
    result = capture_driver(system="system-completion-stdout.txt").cl("CRTLIB LIB(FLASH4I)")
    assert [(m.msg_id, m.text) for m in result.messages] == [("CPC2102", "Library FLASH4I created.")]
    with pytest.raises(ClError) as exc:
        capture_driver(system="system-escape-stderr.txt").cl("CRTLIB LIB(FLASH4I)")
    assert exc.value.msg_id == "CPF2111" and "already exists" in exc.value.text


# -------------------------------------------------------------------- the lab prints the same shapes

@pytest.fixture
def session(tmp_path):
    served = Served(tmp_path)
    session = SshSession(served.endpoint())
    yield session
    session.close()
    served.stop()


@pytest.mark.lab
def test_lab_system_messages_have_the_captured_form(session):
    first = session.run(SYSTEM + "'CRTLIB LIB(FLASH4I)'", timeout=10)
    assert (first.exit_status, first.stdout) == (0, text(F, "system-completion-stdout.txt"))
    again = session.run(SYSTEM + "'CRTLIB LIB(FLASH4I)'", timeout=10)
    escape = text(F, "system-escape-stderr.txt").strip()
    assert again.exit_status == answer(F, "system-escape-stderr.txt")[2]
    assert parse_messages(again.stderr)[-1] == parse_messages(escape)[0]


@pytest.mark.lab
def test_lab_db2util_has_the_records_container_and_upper_case_columns(session):
    result = session.run(DB2UTIL + "'SELECT HOST_NAME, PARTITION_ID FROM QSYS2.SYSTEM_STATUS_INFO' -o json", 10)
    lab = json.loads(result.stdout)
    real = json.loads(text(F, "db2util-json-array.txt"))
    assert result.exit_status == 0 and set(lab) == {"records"} and len(lab["records"]) == 1
    assert set(lab["records"][0]) <= set(real[0])
    # The real db2util prints INTEGER columns unquoted (format_json.c); the lab prints every value
    # as text. The driver reads both (its _whole accepts a number or its text).
    assert isinstance(real[0]["PARTITION_ID"], int)
