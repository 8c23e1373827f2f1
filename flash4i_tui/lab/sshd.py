"""A small SSH server (paramiko) that lab device fronts build on.

Each front listens on 127.0.0.1 (port 0 by default: the system picks) and answers exec
requests through `execute(command, conn)`; IBM i fronts also serve SFTP. Faults apply
here, uniformly: a rule can fail a command with a message, hang it, or drop the
connection, exactly as a misbehaving real device would. So does latency (world.latency):
a command can take a set time, and a device can be a network round trip away. The world
counts each device's handshakes and commands (world.stats).
"""
from __future__ import annotations

import base64
import heapq
import itertools
import logging
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional, Set, Tuple

import paramiko
from paramiko.common import MSG_CHANNEL_REQUEST

log = logging.getLogger("flash4i.lab")


def _handle_request_then_signal(channel: paramiko.Channel, message) -> None:
    """paramiko answers an exec request only after the server callback returns; a fast command
    thread could close the channel before that answer leaves, which clients see as
    'Channel closed'. The command thread waits for this signal before writing anything."""
    paramiko.Channel._handle_request(channel, message)
    replied = getattr(channel, "lab_replied", None)
    if replied is not None:
        replied.set()


class _LabTransport(paramiko.Transport):
    _channel_handler_table = dict(paramiko.Transport._channel_handler_table)
    _channel_handler_table[MSG_CHANNEL_REQUEST] = _handle_request_then_signal


def load_or_create_key(path: Path) -> paramiko.PKey:
    """An ECDSA key kept in the lab's state folder: generated once, reused on every start."""
    if path.exists():
        return paramiko.ECDSAKey.from_private_key_file(str(path))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = paramiko.ECDSAKey.generate(bits=256)
    key.write_private_key_file(str(path))
    path.chmod(0o600)
    path.with_suffix(".pub").write_text(f"{key.get_name()} {key.get_base64()} flash4i-lab\n")
    return key


def public_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


class _DelayLines:
    """Network round-trip time for the lab's SSH servers: the client's socket is joined to the
    server's through a socket pair, and every chunk of bytes waits half the RTT (read live) in
    each direction before it is passed on, so a handshake or a command costs the round trips it
    costs on a real network. One thread per direction reads; one shared thread delivers."""

    def __init__(self) -> None:
        self._heap: list = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._thread: Optional[threading.Thread] = None

    def join(self, client: socket.socket, rtt: Callable[[], float]) -> socket.socket:
        """A socket for the server side of CLIENT's connection, RTT() seconds of round trip away."""
        ours, theirs = socket.socketpair()
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._deliver, name="lab-rtt", daemon=True)
                self._thread.start()
        link = {"open": 2, "socks": (client, ours)}
        for src, dst in ((client, ours), (ours, client)):
            threading.Thread(target=self._read, args=(src, dst, rtt, link), name="lab-rtt-read",
                             daemon=True).start()
        return theirs

    def _read(self, src: socket.socket, dst: socket.socket, rtt: Callable[[], float], link: dict) -> None:
        last = 0.0
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            due = max(last, time.monotonic() + rtt() / 2)     # never reorder a direction's bytes
            last = due
            with self._cond:
                heapq.heappush(self._heap, (due, next(self._seq), dst, data or None, link))
                self._cond.notify()
            if not data:
                return

    def _deliver(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cond.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                _, _, dst, data, link = heapq.heappop(self._heap)
            try:
                if data is None:
                    dst.shutdown(socket.SHUT_WR)
                else:
                    dst.sendall(data)
                    continue
            except OSError:
                pass
            link["open"] -= 1
            if link["open"] <= 0:
                for sock in link["socks"]:
                    try:
                        sock.close()
                    except OSError:
                        pass


_DELAY_LINES = _DelayLines()


@dataclass
class Conn:
    """One SSH connection as a front sees it."""

    front: "SshFront"
    user: str = ""
    owner: object = None                  # what answers on this connection (e.g. an IBM i system)
    cancel: threading.Event = field(default_factory=threading.Event)
    transport: Optional[paramiko.Transport] = None
    # paramiko holds channels weakly: keep accepted ones alive until their command ends.
    channels: list = field(default_factory=list)


class _Server(paramiko.ServerInterface):
    def __init__(self, front: "SshFront", conn: Conn):
        self.front, self.conn = front, conn

    def get_allowed_auths(self, username: str) -> str:
        return "publickey,password" if username in self.front.passwords else "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        allowed = self.front.authorized.get(username) or self.front.authorized.get("*")
        if allowed and key.get_base64() in allowed:
            self.conn.user = username
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        if self.front.passwords.get(username) == password:
            self.conn.user = username
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        text = command.decode("utf-8", errors="replace")
        channel.lab_replied = threading.Event()
        if channel not in self.conn.channels:      # known to the front before its command starts
            self.conn.channels.append(channel)
        threading.Thread(target=self.front._run_channel, args=(channel, text, self.conn),
                         name=f"lab-{self.front.label}-exec", daemon=True).start()
        return True

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name == "sftp" and self.front.sftp_interface(self.conn) is not None:
            return super().check_channel_subsystem_request(channel, name)
        return False

    def check_channel_env_request(self, channel, name, value) -> bool:
        return False

    def check_channel_pty_request(self, *args) -> bool:
        return False


class SshFront:
    """Base of every lab SSH front. Subclasses implement `execute` (and may serve SFTP)."""

    label = "device"                 # fault-rule device name: svc, hmc, ibmi:<name>
    fail_stream = "stderr"           # where an injected failure message goes (HMC prints on stdout)

    def __init__(self, world, host_key: paramiko.PKey, authorized: Dict[str, Set[str]],
                 passwords: Optional[Dict[str, str]] = None, port: int = 0, bind: str = "127.0.0.1"):
        self.world = world
        self.host_key = host_key
        self.authorized = authorized          # user -> set of base64 public keys ("*" = any user)
        self.passwords = dict(passwords or {})
        self.bind, self.requested_port = bind, port
        self.port: Optional[int] = None
        self._sock: Optional[socket.socket] = None
        self._stop = threading.Event()
        self._transports: list = []

    # ---------------------------------------------------------------- to override

    def execute(self, command: str, conn: Conn) -> Tuple[str, str, int]:
        """Run one command line; return (stdout, stderr, exit status)."""
        raise NotImplementedError

    def accept(self, conn: Conn) -> Optional[paramiko.PKey]:
        """Decide who answers this connection; return the host key to present, or None to refuse."""
        return self.host_key

    def known_keys(self) -> list:
        """The host keys this front may present (for the known_hosts file the lab writes)."""
        return [self.host_key]

    def sftp_interface(self, conn: Conn):
        """A paramiko.SFTPServerInterface class for this connection, or None (no SFTP)."""
        return None

    # ---------------------------------------------------------------- serving

    def start(self) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.bind, self.requested_port))
        sock.listen(64)
        sock.settimeout(0.2)
        self._sock = sock
        self.port = sock.getsockname()[1]
        threading.Thread(target=self._accept_loop, name=f"lab-{self.label}-accept", daemon=True).start()
        return self.port

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
        for transport in list(self._transports):
            transport.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), name=f"lab-{self.label}-conn", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        conn = Conn(front=self)
        key = self.accept(conn)
        if key is None:
            # Nobody answers at this address: reset the connection like a closed port.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            return
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # no 40 ms Nagle stalls
        device = self.fault_device(conn)
        latency = getattr(self.world, "latency", None)
        if latency is not None and latency.rtt_of(device) > 0:
            client = _DELAY_LINES.join(client, lambda: latency.rtt_of(device))
        transport = _LabTransport(client)
        conn.transport = transport
        transport.add_server_key(key)
        sftp = self.sftp_interface(conn)
        if sftp is not None:
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, sftp_si=sftp)
        self._transports.append(transport)
        try:
            transport.start_server(server=_Server(self, conn))
        except (paramiko.SSHException, EOFError, OSError):
            transport.close()
            return
        if self.world is not None:
            self.world.stats.handshake(_first(device))
        try:
            while transport.is_active() and not self._stop.is_set():
                channel = transport.accept(0.5)   # commands run in the exec callbacks
                if channel is not None and not channel.closed and channel not in conn.channels:
                    conn.channels.append(channel)
        finally:
            if self.world is not None:
                self.world.stats.closed(_first(device))
            conn.cancel.set()
            transport.close()
            if transport in self._transports:
                self._transports.remove(transport)

    def _run_channel(self, channel: paramiko.Channel, command: str, conn: Conn) -> None:
        device = self.fault_device(conn)
        fault = self.world.faults.check(device, command) if self.world is not None else None
        delay = self.world.latency.delay(device, command) if self.world is not None else None
        if self.world is not None:
            self.world.stats.command(_first(device), command)
        try:
            if fault is not None and fault.action == "drop":
                self.world.record("fault", f"{self.label}: dropped the connection on {command!r}")
                conn.transport.close()
                return
            if fault is not None and fault.action == "hang":
                self.world.record("fault", f"{self.label}: hanging on {command!r}")
                waited = self.world.clock.sleep(fault.seconds if fault.seconds is not None else 10 ** 9,
                                                cancel=conn.cancel)
                if not waited or channel.closed:
                    return
            if fault is not None and fault.action == "fail":
                self.world.record("fault", f"{self.label}: failing {command!r}: {fault.message}")
                out, err, status = "", "", fault.exit_status
                if self.fail_stream == "stdout":
                    out = fault.message + "\n"
                else:
                    err = fault.message + "\n"
            elif fault is not None and fault.action == "ignore":
                self.world.record("fault", f"{self.label}: answered {command!r} without doing it")
                out, err, status = "", "", 0
            else:
                if delay is not None and delay.effect == "end":      # the device works, then acts
                    self.world.wait_real(delay.seconds, cancel=conn.cancel)
                out, err, status = self.execute(command, conn)
                if delay is not None and delay.effect == "start":    # it acts, then waits to answer
                    self.world.wait_real(delay.seconds, cancel=conn.cancel)
            channel.lab_replied.wait(10)
            if out:
                channel.sendall(out.encode() if isinstance(out, str) else out)
            if err:
                channel.sendall_stderr(err.encode() if isinstance(err, str) else err)
            channel.send_exit_status(status)
        except Exception as exc:  # a bug in a model must not kill the server silently
            log.exception("lab %s: command %r failed", self.label, command)
            try:
                channel.sendall_stderr(f"lab internal error: {type(exc).__name__}: {exc}\n".encode())
                channel.send_exit_status(1)
            except Exception:
                pass
        finally:
            try:
                channel.shutdown_write()
                channel.close()
            except Exception:
                pass
            if channel in conn.channels:
                conn.channels.remove(channel)

    def fault_device(self, conn: Conn) -> str:
        """The device name fault rules match against."""
        return self.label


def _first(device) -> str:
    """The name a device is counted under (an IBM i front gives its partition, then its address)."""
    return device if isinstance(device, str) else next(iter(device), "")


def b64_of_public_file(path: Path) -> str:
    """The base64 blob of an OpenSSH public key file line."""
    parts = path.read_text().split()
    base64.b64decode(parts[1])  # validates
    return parts[1]
