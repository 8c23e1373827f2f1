"""The IBM i driver against the lab's IBM i front, over real SSH."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from flash4i_tui.devices import ibmi as driver_module
from flash4i_tui.devices.ibmi import ClError, IbmiDriver
from flash4i_tui.devices.ssh import SshSession
from flash4i_tui.errors import DeviceError, DeviceUnreachable, ValidationError
from flash4i_tui.lab.faults import FaultRules

from ..lab.ibmi_support import Served, wait_for

pytestmark = pytest.mark.lab


@pytest.fixture
def served(tmp_path):
    served = Served(tmp_path)
    yield served
    served.stop()


@pytest.fixture
def sent():
    return []


@pytest.fixture
def driver(served, sent):
    session = SshSession(served.endpoint(), log=sent.append)
    yield IbmiDriver(session, "PROD")
    session.close()


def test_command_builders_print_the_exact_cl_without_a_device():
    assert driver_module.describe_commands(120, "*END") == [
        "CHGASPACT ASPDEV(*SYSBAS) OPTION(*FRCWRT)",
        "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(120) SSPTIMOACN(*END)",
        "CHGASPACT ASPDEV(*SYSBAS) OPTION(*RESUME)"]
    assert driver_module.suspend_command(30, "*CONT", "IASP1") == \
        "CHGASPACT ASPDEV(IASP1) OPTION(*SUSPEND) SSPTIMO(30) SSPTIMOACN(*CONT)"
    assert driver_module.system_line("CRTLIB LIB(X) TEXT('it''s')") == \
        "/QOpenSys/usr/bin/system 'CRTLIB LIB(X) TEXT('\"'\"'it'\"'\"''\"'\"'s'\"'\"')'"


def test_cl_success_and_escape_messages(driver, served):
    result = driver.cl("CRTLIB LIB(DRVLIB)")
    assert result.messages == (driver_module.Message("CPC2102", "Library DRVLIB created."),)
    with pytest.raises(ClError) as caught:
        driver.cl("CRTLIB LIB(DRVLIB)")
    assert caught.value.msg_id == "CPF2111" and caught.value.device == "PROD"
    assert caught.value.messages == (driver_module.Message("CPF2111", "Library DRVLIB already exists."),)
    with pytest.raises(ClError) as caught:
        driver.cl("CRTLIB LIB(X) NOPE(1)")
    assert caught.value.msg_id == "CPF0006" and [m.msg_id for m in caught.value.messages] == ["CPD0043", "CPF0006"]
    # quotes, $ and backquotes reach IBM i intact: the shell line is quoted, never interpreted
    driver.cl("SNDMSG MSG('It''s a \"test\" $HOME `uname` ;|&') TOUSR(*SYSOPR)")
    assert served.prod.state.message_queues["QSYSOPR"][-1].text == "It's a \"test\" $HOME `uname` ;|&"


def test_exit_status_of_system_itself_decides(driver, served):
    served.lab.world.faults.replace(FaultRules.parse([
        {"device": "ibmi:PROD", "match": "CRTLIB", "action": "fail", "exit_status": 1, "message": "boom"},
        {"device": "ibmi:10.10.1.10", "match": "SYSTEM_STATUS_INFO", "action": "fail", "exit_status": 0,
         "message": "not json"}]))
    with pytest.raises(DeviceError) as caught:
        driver.cl("CRTLIB LIB(FAULTY)")
    assert not isinstance(caught.value, ClError) and "exit status 1" in str(caught.value)
    with pytest.raises(DeviceError) as caught:
        driver.system_info()
    assert "SYSTEM_STATUS_INFO" in str(caught.value) and "not JSON" in str(caught.value)


def test_sql_and_system_info(driver):
    assert driver.system_info() == {"partition_id": 3, "partition_name": "PROD", "host_name": "PROD",
                                    "serial_number": "78AB12C"}
    rows = driver.sql("SELECT SCHEDULED_JOB_NAME FROM QSYS2.SCHEDULED_JOB_INFO WHERE FREQUENCY = ? ORDER BY 1",
                      ["*WEEKLY"])
    assert rows == [{"SCHEDULED_JOB_NAME": "DAYEND"}]
    with pytest.raises(DeviceError) as caught:
        driver.sql("SELECT * FROM QSYS2.NOT_A_VIEW")
    assert caught.value.msg_id == "SQL0204" and "QSYS2.NOT_A_VIEW" in caught.value.command


def test_suspend_resume_and_history_log(driver, served):
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    driver.force_write()
    driver.suspend(30, "*CONT")
    assert served.prod.asp.suspended
    driver.resume()
    assert not served.prod.asp.suspended
    with pytest.raises(ClError) as caught:
        driver.resume()
    assert caught.value.msg_id == "CPFB71A"
    end = datetime.now(timezone.utc) + timedelta(seconds=1)
    log = driver.history_log(start, end)
    ids = [m["msg_id"] for m in log]
    assert "CPIB71D" in ids and "CPIB71E" in ids and ids.index("CPIB71D") < ids.index("CPIB71E")
    assert all(start <= m["timestamp"] <= end for m in log)
    assert [m["ordinal"] for m in log] == sorted(m["ordinal"] for m in log)
    assert driver.history_log(end + timedelta(hours=1), end + timedelta(hours=2)) == []


def test_joblog_of_a_submitted_job(driver, served):
    result = driver.cl("SBMJOB CMD(CRTLIB LIB(SUBMITTED)) JOB(DRVJOB)")
    job = result.messages[0].text.split()[1]
    wait_for(lambda: job in served.prod.state.ended_jobs)
    log = driver.joblog(job)
    assert log[0]["type"] == "REQUEST" and log[0]["text"] == "CRTLIB LIB(SUBMITTED)"
    assert (log[-1]["msg_id"], log[-1]["text"]) == ("CPC2102", "Library SUBMITTED created.")


def test_files_over_sftp(driver, served):
    assert driver.read_file("/QOpenSys/flash4i/orders/5.json") is None
    driver.make_dirs("/QOpenSys/flash4i/orders")
    driver.make_dirs("/QOpenSys/flash4i/orders")                   # idempotent
    driver.write_file("/QOpenSys/flash4i/orders/5.json", b'{"clone": 5}', mode=0o600)
    driver.write_file("/QOpenSys/flash4i/orders/5.json", b'{"clone": 5, "run": 2}', mode=0o600)
    assert driver.read_file("/QOpenSys/flash4i/orders/5.json") == b'{"clone": 5, "run": 2}'
    node = served.prod.state.ifs.node("/QOpenSys/flash4i/orders/5.json")
    assert node.mode == 0o600
    assert served.prod.state.ifs.list_dir("/QOpenSys/flash4i/orders") == ["5.json"]


def test_make_dirs_takes_a_folder_another_run_made_meanwhile(driver, served, monkeypatch):
    """Two runs of one source write their orders at once: the second's mkdir fails on the folder
    the first made after the second looked. Found by 8 runs at once (bench_concurrency)."""
    import paramiko
    stat = paramiko.SFTPClient.stat
    looked = []

    def first_look_misses(self, path):
        if path == "/QOpenSys/flash4i" and not looked:
            looked.append(path)
            served.prod.state.ifs.make_dirs(path)       # the other run, between the look and mkdir
            raise IOError(2, "No such file")
        return stat(self, path)
    monkeypatch.setattr(paramiko.SFTPClient, "stat", first_look_misses)
    driver.make_dirs("/QOpenSys/flash4i/orders")
    assert looked and served.prod.state.ifs.list_dir("/QOpenSys/flash4i") == ["orders"]


@pytest.mark.parametrize("call", [
    lambda d: d.suspend(30, "*END; rm -rf /"),
    lambda d: d.suspend(30, "*END) DLTLIB LIB(QGPL"),
    lambda d: d.suspend(0, "*END"),
    lambda d: d.force_write("QGPL') DLTLIB LIB(QGPL)"),
    lambda d: d.resume("*SYSBAS\nDLTLIB LIB(QGPL)"),
    lambda d: d.joblog("123456/QSYS/X'); DLTLIB LIB(QGPL)"),
    lambda d: d.cl("SNDMSG MSG('a\nDLTLIB LIB(QGPL)') TOUSR(*SYSOPR)"),
    lambda d: d.sql("SELECT * FROM QSYS2.SYSTEM_STATUS_INFO WHERE HOST_NAME = ?", ["PROD\nrm -rf /"]),
    lambda d: d.write_file("/tmp/x; rm -rf /", b""),
    lambda d: d.read_file("/QOpenSys/../etc/passwd"),
    lambda d: d.make_dirs("relative/path"),
    lambda d: d.history_log(datetime(2025, 1, 1), datetime(2025, 1, 2)),
])
def test_injection_is_refused_before_anything_is_sent(driver, sent, served, call):
    with pytest.raises(ValidationError):
        call(driver)
    assert sent == []
    assert "QGPL" in served.prod.state.libraries


def test_pwrdwnsys_drops_the_session(driver, served):
    with pytest.raises(DeviceUnreachable):
        driver.cl("PWRDWNSYS OPTION(*IMMED) RESTART(*NO) CONFIRM(*NO)", timeout=10)
    wait_for(lambda: served.prod.phase == "down")


def test_run_script_uses_the_configured_python(driver, served):
    served.prod.state.ifs.write("/tmp/check.py", b"def main(argv, host):\n    print('ok', argv)\n    return 3\n")
    result = driver.run_script("/tmp/check.py", ["--check", "it's"])
    assert (result.stdout, result.exit_status) == ("ok ['--check', \"it's\"]\n", 3)
    with pytest.raises(ValidationError):
        driver.run_script("/tmp/check.py", ["a\nb"])
