"""`flash4i trust`: a real handshake with a lab SSH front, the fingerprint shown, the key added to
known_hosts only when the operator confirms it, and never when the key has changed."""
from __future__ import annotations

import io
import stat

import pytest

from flash4i_tui import cli
from flash4i_tui.devices.hostkeys import fingerprint
from flash4i_tui.devices.ssh import Endpoint, SshSession
from flash4i_tui.lab.sshd import load_or_create_key
from flash4i_tui.store import models as m
from flash4i_tui.store import open_store

from .test_ssh import front  # noqa: F401  (the fixture: a lab SSH front with its known_hosts)

pytestmark = pytest.mark.lab


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    db = open_store(url)
    yield url
    db.close()


def trust(store_url, *args):
    return cli.main(["--db", store_url, "trust", *args])


def _session(front, tmp_path, known_hosts):
    return SshSession(Endpoint("DEV1", "127.0.0.1", front.port, "hscroot", {"key_file": str(tmp_path / "client_key")},
                               str(known_hosts), connect_timeout=5))


def test_a_confirmed_fingerprint_is_added_and_the_device_then_connects(front, tmp_path, store, capsys):
    known = tmp_path / "ssh" / "new_known_hosts"          # neither the file nor its folder exist yet
    with pytest.raises(Exception, match="does not exist"):
        _session(front, tmp_path, known).run("x", timeout=5)
    shown = fingerprint(front.host_key)
    assert trust(store, f"127.0.0.1:{front.port}", "--known-hosts", str(known), "--fingerprint", shown) == 0
    out = capsys.readouterr().out
    assert shown in out and "added to" in out
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    assert known.read_text() == f"[127.0.0.1]:{front.port} {front.host_key.get_name()} {front.host_key.get_base64()}\n"
    assert _session(front, tmp_path, known).run("hello", timeout=5).stdout == "hscroot ran hello\n"
    # a second time: already trusted, nothing written
    assert trust(store, f"127.0.0.1:{front.port}", "--known-hosts", str(known)) == 0
    assert "already trusted" in capsys.readouterr().out
    assert len(known.read_text().splitlines()) == 1


def test_without_a_terminal_or_a_fingerprint_nothing_is_accepted(front, tmp_path, store, capsys, monkeypatch):
    known = tmp_path / "kh"
    known.write_text("# operators' file\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))        # not a tty: its "y" is not a confirmation
    assert trust(store, f"127.0.0.1:{front.port}", "--known-hosts", str(known)) == 4
    assert "never accepted" in capsys.readouterr().err
    assert trust(store, f"127.0.0.1:{front.port}", "--known-hosts", str(known), "--fingerprint", "SHA256:wrong") == 4
    assert "not the one presented" in capsys.readouterr().err
    assert known.read_text() == "# operators' file\n"


class Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("answer, code", [("y\n", 0), ("n\n", 4), ("\n", 4)])
def test_on_a_terminal_the_operator_answers(front, tmp_path, store, capsys, monkeypatch, answer, code):
    known = tmp_path / "kh"
    monkeypatch.setattr("sys.stdin", Tty(answer))
    assert trust(store, f"127.0.0.1:{front.port}", "--known-hosts", str(known)) == code
    out = capsys.readouterr().out
    assert fingerprint(front.host_key) in out and "[y/N]" in out
    assert known.exists() == (code == 0)


def test_a_changed_key_is_refused_and_nothing_is_written(front, tmp_path, store, capsys):
    other = load_or_create_key(tmp_path / "other_key")
    known = tmp_path / "kh"
    before = f"[127.0.0.1]:{front.port} {other.get_name()} {other.get_base64()}\n"
    known.write_text(before)
    code = trust(store, f"127.0.0.1:{front.port}", "--known-hosts", str(known),
                 "--fingerprint", fingerprint(front.host_key))
    err = capsys.readouterr().err
    assert code == 4 and "HOST KEY HAS CHANGED" in err and fingerprint(other) in err
    assert known.read_text() == before


def test_a_device_of_the_store_uses_its_configured_known_hosts(front, tmp_path, store, capsys):
    known = tmp_path / "hmc_known_hosts"
    m.Hmc.create(name="HMC1", host="127.0.0.1", port=front.port, user="hscroot",
                 auth={"key_file": str(tmp_path / "client_key")}, known_hosts=str(known))
    m.StorageSystem.create(name="DS9", type="ds8000", host="127.0.0.1", port=8452, user="admin",
                           auth={"password_env": "X"})
    assert trust(store, "HMC1", "--fingerprint", fingerprint(front.host_key)) == 0
    assert f"added to {known}" in capsys.readouterr().out
    assert trust(store, "DS9") == 2                 # HTTPS: its certificate, not a host key
    assert "ca_file" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["no such host!", "127.0.0.1:99999", "127.0.0.1:x", "[::1", "\x00"])
def test_bad_targets_are_one_clear_error(store, capsys, target):
    assert trust(store, target) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flash4i: ")


def test_a_device_that_does_not_answer_is_unreachable(store, capsys):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert trust(store, f"127.0.0.1:{port}", "--timeout", "2") == 1
    assert "cannot reach" in capsys.readouterr().err
