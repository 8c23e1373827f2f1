"""SSH sessions to devices (HMC, Storage Virtualize, IBM i), over paramiko.

- Host keys are checked strictly against known_hosts: an unknown or changed key refuses
  the connection (no auto-accept, ever).
- Authentication by key file, ssh-agent, or a password read from an environment
  variable named in the configuration (the password itself is never stored).
- One transport per device per run; every command opens a new channel on it (an SSH
  exec channel carries exactly one command) and has its own timeout. Before a command that
  production waits on, its channel can be opened ahead (`open_ahead`): opening one costs a
  network round trip, which then falls outside the suspended window.
- Every command and its answer go to the log callback, with secrets redacted.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import paramiko

from ..errors import CommandAborted, DeviceError, DeviceUnreachable, HostKeyError, StepTimeout
from .hostkeys import known_hosts_path

LOG_LIMIT = 4000          # characters of stdout/stderr kept per logged command
SFTP_TIMEOUT = 120.0      # seconds one SFTP request may wait for its answer


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach one device."""

    name: str                       # flash4i's name of the device (HMC1, FS9500, PROD)
    host: str
    port: int
    user: str
    auth: dict                      # {"key_file": p} | {"agent": True} | {"password_env": NAME}
    known_hosts: Optional[str] = None
    connect_timeout: float = 15.0
    keepalive: int = 30

    @classmethod
    def from_row(cls, name: str, host: str, port: int, user: str, auth: dict, known_hosts: Optional[str]):
        return cls(name=name, host=host, port=port, user=user, auth=dict(auth or {}), known_hosts=known_hosts)


@dataclass
class CommandResult:
    command: str
    stdout: str
    stderr: str
    exit_status: int
    duration: float

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


@dataclass
class LogEvent:
    """One command sent to a device, for the run's internal log."""

    device: str
    command: str
    exit_status: Optional[int]
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    error: str = ""


LogSink = Callable[[LogEvent], None]


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _clip(text: str) -> str:
    return text if len(text) <= LOG_LIMIT else text[:LOG_LIMIT] + f"... [{len(text) - LOG_LIMIT} more characters]"


class SshSession:
    """A lazily opened, re-usable SSH connection to one device."""

    def __init__(self, endpoint: Endpoint, log: Optional[LogSink] = None, redact: Sequence[str] = (),
                 limit: Optional[Callable[[], float]] = None, abort: Optional[Callable[[], bool]] = None):
        self.endpoint = endpoint
        self._log = log
        self._limit = limit        # seconds the caller still allows (a run step's bound), if any
        self._abort = abort        # true when the caller can no longer wait for an answer
        self._client: Optional[paramiko.SSHClient] = None
        self._lock = threading.Lock()
        self._secrets = list(redact)
        self._ahead: list = []     # channels opened ahead, for the next commands, in order

    # ---------------------------------------------------------------- connection

    def _password(self) -> Optional[str]:
        name = self.endpoint.auth.get("password_env")
        if not name:
            return None
        value = os.environ.get(name)
        if not value:
            raise DeviceUnreachable(self.endpoint.name, "connect",
                                    f"environment variable {name} (password_env) is not set")
        self._secrets.append(value)
        return value

    def _known_hosts(self) -> Path:
        path = known_hosts_path(self.endpoint.known_hosts)
        if not path.exists():
            raise HostKeyError(self.endpoint.name, "connect",
                               f"known_hosts file {path} does not exist; host keys are never accepted blindly")
        return path

    def connect(self) -> paramiko.SSHClient:
        with self._lock:
            if self._client is not None:
                transport = self._client.get_transport()
                if transport is not None and transport.is_active():
                    return self._client
                self._client.close()
                self._client = None
            ep = self.endpoint
            client = paramiko.SSHClient()
            try:
                client.load_host_keys(str(self._known_hosts()))
            except (paramiko.hostkeys.InvalidHostKey, OSError, ValueError) as exc:
                raise HostKeyError(ep.name, "connect", f"cannot read known_hosts {self._known_hosts()}: {exc}") from None
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            key_file = ep.auth.get("key_file")
            try:
                client.connect(
                    ep.host, port=ep.port, username=ep.user,
                    key_filename=str(Path(key_file).expanduser()) if key_file else None,
                    password=self._password(),
                    allow_agent=bool(ep.auth.get("agent")), look_for_keys=False,
                    timeout=ep.connect_timeout, banner_timeout=ep.connect_timeout,
                    auth_timeout=ep.connect_timeout,
                )
            except paramiko.BadHostKeyException as exc:
                raise HostKeyError(ep.name, "connect",
                                   f"host key of {ep.host}:{ep.port} does not match known_hosts "
                                   f"(got {exc.key.get_name()} {exc.key.fingerprint}); refusing to connect") from None
            except paramiko.SSHException as exc:
                if "not found in known_hosts" in str(exc):
                    raise HostKeyError(ep.name, "connect",
                                       f"host key of [{ep.host}]:{ep.port} is not in {self._known_hosts()}; "
                                       f"verify its fingerprint and add it: flash4i trust {ep.name}") from None
                raise DeviceUnreachable(ep.name, "connect", f"SSH to {ep.host}:{ep.port} failed: {exc}") from None
            except (OSError, socket.timeout, EOFError) as exc:
                raise DeviceUnreachable(ep.name, "connect",
                                        f"cannot reach {ep.host}:{ep.port}: {exc or type(exc).__name__}") from None
            transport = client.get_transport()
            if transport is not None:
                transport.set_keepalive(ep.keepalive)
                try:  # commands are small request/answer exchanges: don't let Nagle delay them
                    transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except (OSError, AttributeError):
                    pass
            self._client = client
            return client

    def open_ahead(self, count: int = 1) -> None:
        """Open the channels of the next COUNT commands now, so that sending each costs one round
        trip less. A channel that the device closed meanwhile is replaced when its turn comes."""
        timeout = self.endpoint.connect_timeout
        if self._limit is not None:
            timeout = max(0.5, min(timeout, self._limit()))
        try:
            transport = self.connect().get_transport()
            for _ in range(count):
                self._ahead.append(transport.open_session(timeout=timeout))
        except (EOFError, OSError, paramiko.SSHException, AttributeError) as exc:
            # Only an optimisation: the command itself reconnects and reports the failure.
            self._emit(LogEvent(self.endpoint.name, "(channel opened ahead)", None, error=f"not opened: {exc}"))

    def _channel(self, transport: paramiko.Transport, timeout: float) -> paramiko.Channel:
        while self._ahead:
            channel = self._ahead.pop(0)
            if channel.get_transport() is transport and channel.active and not channel.closed:
                return channel
            channel.close()
        return transport.open_session(timeout=min(timeout, self.endpoint.connect_timeout))

    def close(self) -> None:
        with self._lock:
            for channel in self._ahead:
                channel.close()
            self._ahead.clear()
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> "SshSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- commands

    def run(self, command: str, timeout: float, input_text: Optional[str] = None) -> CommandResult:
        """Run one command; return its output and exit status. Never raises for a non-zero exit."""
        if self._limit is not None:
            timeout = max(0.5, min(timeout, self._limit()))
        client = self.connect()
        start = time.monotonic()
        deadline = start + timeout
        try:
            transport = client.get_transport()
            if transport is None or not transport.is_active():
                raise EOFError("connection closed")
            channel = self._channel(transport, timeout)
            channel.settimeout(0.2)
            channel.exec_command(command)
            if input_text is not None:
                channel.sendall(input_text.encode())
                channel.shutdown_write()
            out, err = bytearray(), bytearray()
            while True:
                while channel.recv_ready():
                    out += channel.recv(65536)
                while channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                if channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
                    break
                if self._abort is not None and self._abort():
                    channel.close()
                    self.close()          # the answer, if it comes, belongs to no one now
                    self._emit(LogEvent(self.endpoint.name, self._r(command), None, duration=time.monotonic() - start,
                                        error="left without its answer: the worker is stopping"))
                    raise CommandAborted(self.endpoint.name, self._r(command),
                                         "left without its answer: the worker is stopping")
                if time.monotonic() > deadline:
                    channel.close()
                    self._emit(LogEvent(self.endpoint.name, self._r(command), None, self._r(out.decode(errors="replace")),
                                        self._r(err.decode(errors="replace")), time.monotonic() - start,
                                        f"no answer within {timeout:.0f}s"))
                    raise StepTimeout(f"{self.endpoint.name}: command did not end within {timeout:.0f}s: "
                                      f"{self._r(command)}")
                channel.status_event.wait(0.02)      # wakes as soon as the exit status arrives
            status = channel.recv_exit_status()
            channel.close()
            if status == -1:   # paramiko's value when the channel closed without an exit status
                raise EOFError("the device closed the channel before the command ended")
        except (EOFError, OSError, paramiko.SSHException) as exc:
            self.close()
            self._emit(LogEvent(self.endpoint.name, self._r(command), None, duration=time.monotonic() - start,
                                error=f"connection lost: {exc}"))
            raise DeviceUnreachable(self.endpoint.name, self._r(command), f"connection lost: {exc}") from None
        result = CommandResult(command, out.decode("utf-8", errors="replace"), err.decode("utf-8", errors="replace"),
                               status, time.monotonic() - start)
        self._emit(LogEvent(self.endpoint.name, self._r(command), status, self._r(result.stdout),
                            self._r(result.stderr), result.duration))
        return result

    def sftp(self, timeout: float = SFTP_TIMEOUT) -> paramiko.SFTPClient:
        """An SFTP client whose every request is bounded (by TIMEOUT, and by the caller's limit):
        a server that holds a request would otherwise keep the caller waiting for ever."""
        if self._limit is not None:
            timeout = max(0.5, min(timeout, self._limit()))
        try:
            client = self.connect().open_sftp()
        except (EOFError, OSError, paramiko.SSHException) as exc:
            raise DeviceUnreachable(self.endpoint.name, "sftp", f"cannot open SFTP: {exc}") from None
        client.get_channel().settimeout(timeout)
        return client

    def _r(self, text: str) -> str:
        return _clip(_redact(text, self._secrets))

    def _emit(self, event: LogEvent) -> None:
        if self._log is not None:
            self._log(event)


def require_ok(result: CommandResult, device: str, parse_error: Callable[[CommandResult], DeviceError]) -> CommandResult:
    """Raise the device's own error for a failed command."""
    if not result.ok:
        raise parse_error(result)
    return result


@dataclass
class SessionPool:
    """One session per device for the duration of a run."""

    log: Optional[LogSink] = None
    limit: Optional[Callable[[], float]] = None
    abort: Optional[Callable[[], bool]] = None
    sessions: dict = field(default_factory=dict)

    def get(self, endpoint: Endpoint) -> SshSession:
        session = self.sessions.get(endpoint.name)
        if session is None:
            session = self.sessions[endpoint.name] = SshSession(endpoint, self.log, limit=self.limit,
                                                                abort=self.abort)
        return session

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()
        self.sessions.clear()
