"""The SSH client every driver uses: strict host keys, key / ssh-agent / password_env
authentication, one transport for many commands, bounded commands, redacted logs."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from flash4i_tui.devices.ssh import Endpoint, SshSession
from flash4i_tui.errors import DeviceUnreachable, HostKeyError, StepTimeout
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.lab.sshd import SshFront, load_or_create_key
from flash4i_tui.lab.world import World

pytestmark = pytest.mark.lab
PASSWORD = "s3cret-Pa55"


class EchoFront(SshFront):
    label = "echo"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connections = 0

    def accept(self, conn):
        self.connections += 1
        return self.host_key

    def execute(self, command, conn):
        if command.startswith("fail"):
            return "", f"ERR1234E failed: {command}\n", 1
        return f"{conn.user} ran {command}\n", "", 0


@pytest.fixture
def front(tmp_path):
    world = World(speed=100)
    host_key = load_or_create_key(tmp_path / "host_key")
    client = load_or_create_key(tmp_path / "client_key")
    f = EchoFront(world, host_key, {"hscroot": {client.get_base64()}}, passwords={"admin": PASSWORD})
    f.start()
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{f.port} {host_key.get_name()} {host_key.get_base64()}\n")
    yield f
    f.stop()


def endpoint(front, tmp_path, user="hscroot", **auth) -> Endpoint:
    return Endpoint("DEV1", "127.0.0.1", front.port, user, auth or {"key_file": str(tmp_path / "client_key")},
                    str(tmp_path / "known_hosts"), connect_timeout=5)


def test_one_transport_for_many_commands_and_a_log_per_command(front, tmp_path):
    events = []
    with SshSession(endpoint(front, tmp_path), log=events.append) as session:
        for i in range(5):
            assert session.run(f"lssyscfg {i}", timeout=5).stdout == f"hscroot ran lssyscfg {i}\n"
        failed = session.run("fail now", timeout=5)
    assert failed.exit_status == 1 and failed.stderr.startswith("ERR1234E")
    assert front.connections == 1
    assert [e.command for e in events] == [f"lssyscfg {i}" for i in range(5)] + ["fail now"]
    assert events[-1].exit_status == 1 and "ERR1234E" in events[-1].stderr


def test_password_env_and_redaction(front, tmp_path, monkeypatch):
    events = []
    monkeypatch.setenv("DEV1_PASSWORD", PASSWORD)
    session = SshSession(endpoint(front, tmp_path, user="admin", password_env="DEV1_PASSWORD"), log=events.append)
    result = session.run(f"echo {PASSWORD}", timeout=5)
    assert result.stdout == f"admin ran echo {PASSWORD}\n"         # the caller gets the real answer
    assert PASSWORD not in events[0].command + events[0].stdout     # the log never holds the secret
    assert "***" in events[0].stdout
    session.close()
    monkeypatch.delenv("DEV1_PASSWORD")
    with pytest.raises(DeviceUnreachable, match="DEV1_PASSWORD"):
        SshSession(endpoint(front, tmp_path, user="admin", password_env="DEV1_PASSWORD")).run("x", timeout=5)


@pytest.mark.skipif(not shutil.which("ssh-agent") or not shutil.which("ssh-add"), reason="OpenSSH agent missing")
def test_ssh_agent(front, tmp_path, monkeypatch):
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        env = dict(os.environ, SSH_AUTH_SOCK=str(sock))
        subprocess.run(["ssh-add", str(tmp_path / "client_key")], env=env, check=True, capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        with SshSession(endpoint(front, tmp_path, agent=True)) as session:
            assert session.run("whoami", timeout=5).stdout == "hscroot ran whoami\n"
    finally:
        agent.kill()


def test_unknown_and_changed_host_keys_are_refused(front, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError, match="not in"):
        SshSession(Endpoint("DEV1", "127.0.0.1", front.port, "hscroot", {"key_file": str(tmp_path / "client_key")},
                            str(empty))).run("x", timeout=5)
    other = load_or_create_key(tmp_path / "other_key")
    changed = tmp_path / "changed_known_hosts"
    changed.write_text(f"[127.0.0.1]:{front.port} {other.get_name()} {other.get_base64()}\n")
    with pytest.raises(HostKeyError, match="does not match"):
        SshSession(Endpoint("DEV1", "127.0.0.1", front.port, "hscroot", {"key_file": str(tmp_path / "client_key")},
                            str(changed))).run("x", timeout=5)
    with pytest.raises(HostKeyError, match="does not exist"):
        SshSession(Endpoint("DEV1", "127.0.0.1", front.port, "hscroot", {"key_file": str(tmp_path / "client_key")},
                            str(tmp_path / "missing"))).run("x", timeout=5)


def test_a_hanging_command_is_bounded_and_a_dropped_one_is_unreachable(front, tmp_path):
    front.world.faults.replace(FaultRules.parse([{"device": "echo", "match": "^hang", "action": "hang"},
                                                 {"device": "echo", "match": "^drop", "action": "drop"}]))
    session = SshSession(endpoint(front, tmp_path))
    t0 = time.monotonic()
    with pytest.raises(StepTimeout, match="did not end within 1s"):
        session.run("hang here", timeout=1)
    assert time.monotonic() - t0 < 5
    with pytest.raises(DeviceUnreachable, match="connection lost"):
        session.run("drop it", timeout=5)
    assert session.run("after", timeout=5).ok          # the next command reconnects
    session.close()


def test_step_limit_bounds_every_command(front, tmp_path):
    front.world.faults.replace(FaultRules.parse([{"device": "echo", "match": "^hang", "action": "hang"}]))
    session = SshSession(endpoint(front, tmp_path), limit=lambda: 0.5)
    t0 = time.monotonic()
    with pytest.raises(StepTimeout):
        session.run("hang", timeout=60)
    assert time.monotonic() - t0 < 5
    session.close()


def test_unreachable_device(tmp_path):
    (tmp_path / "known_hosts").write_text("")
    with pytest.raises(DeviceUnreachable, match="cannot reach 127.0.0.1:1"):
        SshSession(Endpoint("DEV1", "127.0.0.1", 1, "x", {"agent": True}, str(tmp_path / "known_hosts"),
                            connect_timeout=2)).run("x", timeout=2)
