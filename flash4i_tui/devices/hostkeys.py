"""SSH host keys: the key a device presents, and the known_hosts file that decides whether flash4i
talks to it. Nothing here accepts a key by itself: `flash4i trust` shows the fingerprint and adds
the key only when the operator confirms it (ssh.py refuses any key that is not in the file)."""
from __future__ import annotations

import base64
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import paramiko

from ..errors import DeviceUnreachable, HostKeyError

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


def known_hosts_path(configured: Optional[str]) -> Path:
    """The known_hosts file of a device: its configured one, else the user's (as OpenSSH)."""
    return Path(configured or DEFAULT_KNOWN_HOSTS).expanduser()


def host_entry(host: str, port: int) -> str:
    """The name a host has in known_hosts: `host` on port 22, `[host]:port` elsewhere."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    """The SHA256 fingerprint as OpenSSH prints it (ssh-keygen -l)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _known(path: Path, host: str, port: int) -> paramiko.hostkeys.HostKeyEntry:
    keys = paramiko.HostKeys()
    if path.exists():
        try:
            keys.load(str(path))
        except (paramiko.hostkeys.InvalidHostKey, OSError, ValueError, UnicodeDecodeError) as exc:
            raise HostKeyError(host, "trust", f"cannot read known_hosts {path}: {exc}") from None
    return keys.lookup(host_entry(host, port)) or {}


def presented_key(host: str, port: int, timeout: float, prefer: List[str] = ()) -> paramiko.PKey:
    """The host key HOST:PORT presents in a real SSH handshake (no authentication is attempted).
    PREFER puts key types first, as SSHClient does for the types known_hosts has for the host."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise DeviceUnreachable(host, "trust", f"cannot reach {host}:{port}: {exc.strerror or exc}") from None
    transport = paramiko.Transport(sock)
    try:
        if prefer:
            options = transport.get_security_options()
            options.key_types = list(prefer) + [t for t in options.key_types if t not in prefer]
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise DeviceUnreachable(host, "trust", f"SSH handshake with {host}:{port} failed: "
                                               f"{exc or type(exc).__name__}") from None
    finally:
        transport.close()


@dataclass
class Verdict:
    """How known_hosts judges the key a host presents."""

    key: paramiko.PKey
    known: Optional[paramiko.PKey]        # the key known_hosts has for the host (of the same type)

    @property
    def trusted(self) -> bool:
        return self.known is not None and self.known == self.key

    @property
    def changed(self) -> bool:
        return self.known is not None and self.known != self.key


def judge_host(host: str, port: int, known_hosts: Path, timeout: float = 15.0) -> Verdict:
    """Handshake with HOST:PORT and compare its key with KNOWN_HOSTS."""
    known = _known(known_hosts, host, port)
    key = presented_key(host, port, timeout, prefer=list(known.keys()))
    if known and key.get_name() not in known:
        # the host no longer offers the type we know it by: as suspicious as another key
        return Verdict(key, next(iter(known.values())))
    return Verdict(key, known.get(key.get_name()))


def add_known_host(path: Path, host: str, port: int, key: paramiko.PKey) -> str:
    """Append one line for HOST:PORT to PATH (created 0600, its folder 0700); the line."""
    line = f"{host_entry(host, port)} {key.get_name()} {key.get_base64()}\n"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    needs_newline = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    fd = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as handle:
        handle.write(("\n" if needs_newline else "") + line)
    return line.strip()
