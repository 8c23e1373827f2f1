"""The SSH/SFTP front of the simulated IBM i over real sockets (paramiko and OpenSSH `ssh`)."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess

import paramiko
import pytest

from .ibmi_support import CLONE_VOLUMES, PROD_VOLUMES, FakeLpar, Served, system, wait_for

pytestmark = pytest.mark.lab


@pytest.fixture
def served(tmp_path):
    served = Served(tmp_path)
    yield served
    served.stop()


def connect(served, port=None) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(served.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect("127.0.0.1", port=port or served.port, username="FLASH4I", key_filename=str(served.key_file),
                   look_for_keys=False, allow_agent=False, timeout=5, banner_timeout=5, auth_timeout=5)
    return client


def run(client: paramiko.SSHClient, command: str) -> tuple:
    _, out, err = client.exec_command(command, timeout=10)
    status = out.channel.recv_exit_status()
    return out.read().decode(), err.read().decode(), status


def test_system_exit_status_and_message_format(served):
    client = connect(served)
    try:
        out, err, status = run(client, "LC_ALL=EN_US.UTF-8 PASE_FORK_JOBNAME=FLTEST "
                                       "/QOpenSys/usr/bin/system 'CRTLIB LIB(ILEDITOR) TEXT(''editor'')'")
        assert (out, err, status) == ("CPC2102: Library ILEDITOR created.\n", "", 0)
        out, err, status = run(client, "/QOpenSys/usr/bin/system \"CRTLIB LIB(ILEDITOR)\"")
        assert (out, err, status) == ("", "CPF2111: Library ILEDITOR already exists.\n", 255)
        out, err, status = run(client, "system -n 'CHKOBJ OBJ(QSYS/QCPTOIMPF) OBJTYPE(*DTAARA)'")
        assert (err, status) == ("Object QCPTOIMPF in library QSYS not found.\n", 255)
        assert run(client, "/QOpenSys/usr/bin/frobnicate -x") == ("", "sh: /QOpenSys/usr/bin/frobnicate: not found\n", 127)
        assert run(client, "uname")[0] == "OS400\n"
        assert run(client, "system 'CRTLIB LIB(A)'; rm -rf /")[2] == 2
    finally:
        client.close()
    named = [j for j in served.prod.state.ended_jobs if j.endswith("/FLASH4I/FLTEST")]
    assert len(named) == 1 and served.prod.state.ended_jobs[named[0]].subsystem == "QUSRWRK"


def test_db2util_json_and_sql_errors(served):
    client = connect(served)
    try:
        out, err, status = run(client, "/QOpenSys/pkgs/bin/db2util 'SELECT PARTITION_ID, HOST_NAME FROM "
                                       "QSYS2.SYSTEM_STATUS_INFO WHERE HOST_NAME = ?' -o json -p PROD")
        assert status == 0, err
        # numbers unquoted, as db2util's format_json.c writes them (tests/data/captures/ibmi)
        assert json.loads(out) == {"records": [{"PARTITION_ID": 3, "HOST_NAME": "PROD"}]}
        assert out == '{"records":[{"PARTITION_ID":3,"HOST_NAME":"PROD"}]}\n'
        out, err, status = run(client, "/QOpenSys/pkgs/bin/db2util 'SELECT * FROM QSYS2.NO_SUCH_VIEW' -o json")
        assert status != 0 and out == "" and err.startswith("SQL0204") and "SQLSTATE=42704" in err
        out, err, status = run(client, "/QOpenSys/pkgs/bin/db2util 'SELECT FROM WHERE' -o json")
        assert status != 0 and err.startswith("SQL0104") and "42601" in err
        out, err, status = run(client, "/QOpenSys/pkgs/bin/db2util 'SELECT NOPE FROM QSYS2.SYSTEM_STATUS_INFO' -o json")
        assert status != 0 and err.startswith("SQL0206")
    finally:
        client.close()


def test_sftp_put_get_and_save_files(served):
    client = connect(served)
    try:
        sftp = client.open_sftp()
        sftp.mkdir("/QOpenSys/flash4i")
        with sftp.open("/QOpenSys/flash4i/order.json.tmp", "wb") as handle:
            handle.write(b'{"run": 1}')
        sftp.chmod("/QOpenSys/flash4i/order.json.tmp", 0o600)
        sftp.posix_rename("/QOpenSys/flash4i/order.json.tmp", "/QOpenSys/flash4i/order.json")
        assert sftp.listdir("/QOpenSys/flash4i") == ["order.json"]
        assert sftp.stat("/QOpenSys/flash4i/order.json").st_mode & 0o777 == 0o600
        with sftp.open("/QOpenSys/flash4i/order.json", "rb") as handle:
            assert handle.read() == b'{"run": 1}'
        assert served.prod.state.ifs.read("/QOpenSys/flash4i/order.json") == b'{"run": 1}'
        with pytest.raises(IOError):
            sftp.open("/QOpenSys/flash4i/missing", "rb")
        with sftp.open("relative.txt", "w") as handle:          # relative to the home directory
            handle.write(b"home")
        assert served.prod.state.ifs.read("/home/FLASH4I/relative.txt") == b"home"
        # a save file is a file under /QSYS.LIB once it exists
        system(served.prod, "CRTSAVF FILE(QGPL/XFER)")
        with sftp.open("/QSYS.LIB/QGPL.LIB/XFER.FILE", "wb") as handle:
            handle.write(b"saved bytes")
        assert served.prod.state.library("QGPL").get("XFER", "*SAVF").data == b"saved bytes"
        with pytest.raises(IOError):
            sftp.open("/QSYS.LIB/QGPL.LIB/NOSAVF.FILE", "wb")
        sftp.remove("/QOpenSys/flash4i/order.json")
        assert sftp.listdir("/QOpenSys/flash4i") == []
    finally:
        client.close()


def test_a_connection_is_refused_when_nobody_has_the_address_with_ssh(served):
    lonely = served.serve("10.10.1.99", served.client)
    with pytest.raises((paramiko.SSHException, EOFError, ConnectionResetError, socket.error)):
        connect(served, lonely.port)
    system(served.prod, "ENDTCPSVR SERVER(*SSHD)")
    with pytest.raises((paramiko.SSHException, EOFError, ConnectionResetError, socket.error)):
        connect(served)
    system(served.prod, "STRTCPSVR SERVER(*SSHD)")
    connect(served).close()


def test_the_host_key_is_the_systems_own_and_a_clone_presents_productions(served, tmp_path):
    client = connect(served)
    key = client.get_transport().get_remote_server_key()
    client.close()
    assert key.get_base64() == paramiko.ECDSAKey.from_private_key(
        __import__("io").StringIO(served.prod.state.ssh_host_key)).get_base64()
    # the clone takes the address once production is gone: same host key (a copy of production's disks)
    lab = served.lab
    lab.flash(PROD_VOLUMES, CLONE_VOLUMES)
    served.prod.halt(False, "test")
    clone = lab.boot(CLONE_VOLUMES, FakeLpar("P10-PROD", "CLONE1", 5))
    assert lab.world.network.owner("10.10.1.10") is clone
    client = connect(served)
    out, _, _ = run(client, "db2util 'SELECT PARTITION_ID FROM QSYS2.SYSTEM_STATUS_INFO'")
    client.close()
    assert json.loads(out)["records"] == [{"PARTITION_ID": 5}]


def test_the_session_that_ran_pwrdwnsys_is_dropped(served):
    client = connect(served)
    _, out, _ = client.exec_command("system 'PWRDWNSYS OPTION(*IMMED) RESTART(*NO) CONFIRM(*NO)'", timeout=10)
    out.channel.settimeout(10)
    assert out.read() == b""
    wait_for(lambda: not client.get_transport().is_active())
    wait_for(lambda: served.prod.phase == "down" and served.prod.state.runtime is None)
    client.close()


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client not installed")
def test_openssh_client(served):
    base = ["ssh", "-p", str(served.port), "-o", f"UserKnownHostsFile={served.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-i", str(served.key_file), "FLASH4I@127.0.0.1"]
    done = subprocess.run(base + ["/QOpenSys/usr/bin/system 'CRTLIB LIB(OPENSSH)'"], capture_output=True,
                          text=True, timeout=30)
    assert (done.returncode, done.stdout) == (0, "CPC2102: Library OPENSSH created.\n"), done.stderr
    done = subprocess.run(base + ["/QOpenSys/usr/bin/system 'CRTLIB LIB(OPENSSH)'"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 255 and "CPF2111: Library OPENSSH already exists." in done.stderr
    done = subprocess.run(base + ["/QOpenSys/pkgs/bin/db2util 'SELECT HOST_NAME FROM QSYS2.SYSTEM_STATUS_INFO' -o json"],
                          capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout) == (0, '{"records":[{"HOST_NAME":"PROD"}]}\n'), done.stderr
