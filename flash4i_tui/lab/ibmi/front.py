"""The SSH front of the simulated IBM i: one front per network address.

A connection to the front of ADDRESS reaches whichever running system has ADDRESS active with
SSH running (TCP/IP up, SSHD started, not in restricted state); otherwise it is refused like a
closed port. The host key presented is that system's own (from its disks: a clone presents
production's key). Exec requests run PASE programs (`pase.py`) in a new job of the SSH user
in QUSRWRK (named by PASE_FORK_JOBNAME when given); SFTP serves the system's IFS.
Fault rules match `ibmi:<LPAR name>` and `ibmi:<address>`, for exec requests by their command
line and for SFTP requests by the words the driver logs them with: `sftp get PATH` (a file
opened for reading), `sftp put PATH` (opened for writing), `sftp mkdir PATH`, `sftp rmdir PATH`,
`sftp rm PATH`, `sftp rename OLD NEW`. An SFTP fault fails the request (SSH_FX_FAILURE), holds
it (hang), or closes the connection (drop).
"""
from __future__ import annotations

import io
import os
import posixpath
import stat as stat_mode
import time
from typing import Any, Dict, Optional, Set, Tuple

import paramiko

from ..sshd import Conn, SshFront
from .files import SystemFiles
from .pase import ShellError, parse_line, run_parsed
from .runtime import IbmiRuntime, JobEnded
from .state import IfsError

_KEYS: Dict[str, paramiko.PKey] = {}


def host_key(pem: str) -> paramiko.PKey:
    """The paramiko key of a system's PEM host key (parsed once)."""
    key = _KEYS.get(pem)
    if key is None:
        key = _KEYS[pem] = paramiko.ECDSAKey.from_private_key(io.StringIO(pem))
    return key


class IbmiFront(SshFront):
    label = "ibmi"

    def __init__(self, world: Any, address: str, authorized: Dict[str, Set[str]],
                 passwords: Optional[Dict[str, str]] = None, port: int = 0, bind: str = "127.0.0.1"):
        super().__init__(world, None, authorized, passwords, port, bind)
        self.address = address
        self.label = f"ibmi:{address}"

    def known_keys(self) -> list:
        """Every host key a system of this lab may present here: the keys of the installed
        systems (a clone presents the key of the production it was copied from)."""
        return [host_key(pem) for pem in dict.fromkeys(getattr(self.world, "ibmi_host_keys", []))]

    # ------------------------------------------------------------------ who answers

    def owner(self) -> Optional[IbmiRuntime]:
        owner = self.world.network.owner(self.address)
        if isinstance(owner, IbmiRuntime) and owner.ssh_active:
            return owner
        return None

    def accept(self, conn: Conn) -> Optional[paramiko.PKey]:
        runtime = self.owner()
        if runtime is None:
            return None
        conn.owner = runtime
        runtime.register_connection(conn)
        return host_key(runtime.state.ssh_host_key)

    def fault_device(self, conn: Conn) -> Any:
        runtime = conn.owner
        names = [f"ibmi:{self.address}"]
        if runtime is not None:
            names.insert(0, f"ibmi:{runtime.partition_name}")
        return tuple(names)

    # ------------------------------------------------------------------ exec

    def execute(self, command: str, conn: Conn) -> Tuple[str, str, int]:
        runtime: Optional[IbmiRuntime] = conn.owner
        if runtime is None or not runtime.ssh_active:
            return self._dropped(runtime, conn)
        user = conn.user.upper()
        if user not in runtime.state.users:
            return "", f"CPF2204: User profile {user} not found.\n", 255
        try:
            shell = parse_line(command)
        except ShellError as exc:
            return "", exc.text, exc.status
        name = shell.env.get("PASE_FORK_JOBNAME", "QP0ZSPWP").upper()[:10] or "QP0ZSPWP"
        job = runtime.new_job(user, name, "BCI", runtime.SSH_JOB_SUBSYSTEM)
        job.conn = conn
        job.env.update(shell.env)
        try:
            return run_parsed(runtime, job, shell)
        except JobEnded:
            return self._dropped(runtime, job.conn)     # the job, and with it the session, was ended
        finally:
            runtime.end_job(job)

    @staticmethod
    def _dropped(runtime: Optional[IbmiRuntime], conn: Conn) -> Tuple[str, str, int]:
        """End the session: the client sees its connection close, and no exit status."""
        if runtime is not None:
            runtime.drop_connection(conn)
        elif conn.transport is not None:
            conn.transport.close()
        deadline = time.monotonic() + 3.0
        while conn.transport is not None and conn.transport.is_active() and time.monotonic() < deadline:
            time.sleep(0.01)
        return "", "", 255

    # ------------------------------------------------------------------ SFTP

    def sftp_interface(self, conn: Conn) -> Any:
        return _IfsSftp if conn.owner is not None else None


_ERRNO_TO_SFTP = {"ENOENT": paramiko.SFTP_NO_SUCH_FILE, "EACCES": paramiko.SFTP_PERMISSION_DENIED,
                  "EEXIST": paramiko.SFTP_FAILURE, "EISDIR": paramiko.SFTP_FAILURE,
                  "ENOTDIR": paramiko.SFTP_FAILURE, "ENOTEMPTY": paramiko.SFTP_FAILURE,
                  "EINVAL": paramiko.SFTP_BAD_MESSAGE}


def _attributes(name: str, kind: str, size: int, mode: int, mtime: float) -> paramiko.SFTPAttributes:
    attr = paramiko.SFTPAttributes()
    attr.filename = name
    attr.st_size = size
    attr.st_mode = (stat_mode.S_IFDIR if kind == "dir" else stat_mode.S_IFREG) | (mode & 0o7777)
    attr.st_mtime = attr.st_atime = int(mtime)
    attr.st_uid = attr.st_gid = 0
    return attr


class _IfsSftp(paramiko.SFTPServerInterface):
    """SFTP over the IFS of the system that answered the connection."""

    def __init__(self, server: Any, *args: Any, **kwargs: Any):
        super().__init__(server, *args, **kwargs)
        self.conn: Conn = server.conn
        self.runtime: IbmiRuntime = self.conn.owner
        self.home = f"/home/{self.conn.user.upper()}"

    def _path(self, path: str) -> str:
        path = path if path.startswith("/") else posixpath.join(self.home, path)
        return posixpath.normpath(path).replace("//", "/") or "/"

    def _fault(self, request: str) -> Optional[int]:
        """The SFTP status a fault rule makes of REQUEST, or None to serve it."""
        front = self.conn.front
        world = front.world
        fault = world.faults.check(front.fault_device(self.conn), request)
        if fault is None or fault.action == "ignore":      # see lab.faults: SFTP serves it
            return None
        if fault.action == "drop":
            world.record("fault", f"{front.label}: dropped the connection on {request!r}")
            if self.conn.transport is not None:
                self.conn.transport.close()
            return paramiko.SFTP_CONNECTION_LOST
        if fault.action == "hang":
            world.record("fault", f"{front.label}: hanging on {request!r}")
            if not world.clock.sleep(fault.seconds if fault.seconds is not None else 10 ** 9, cancel=self.conn.cancel):
                return paramiko.SFTP_CONNECTION_LOST
            return None
        world.record("fault", f"{front.label}: failing {request!r}: {fault.message}")
        return paramiko.SFTP_FAILURE

    def _run(self, action: str, *args: Any) -> Any:
        rt = self.runtime
        with rt.lock:
            if not rt.ssh_active:
                return paramiko.SFTP_CONNECTION_LOST
            try:
                return getattr(SystemFiles(rt.state), action)(*args)
            except IfsError as exc:
                return _ERRNO_TO_SFTP.get(exc.code, paramiko.SFTP_FAILURE)

    def canonicalize(self, path: str) -> str:
        return self._path(path)

    def stat(self, path: str) -> Any:
        path = self._path(path)
        info = self._run("stat", path)
        if isinstance(info, int):
            return info
        return _attributes(posixpath.basename(path), info.kind, info.size, info.mode, info.mtime)

    lstat = stat

    def list_folder(self, path: str) -> Any:
        path = self._path(path)
        names = self._run("list_dir", path)
        if isinstance(names, int):
            return names
        result = []
        for name in names:
            attr = self.stat(path.rstrip("/") + "/" + name)
            if not isinstance(attr, int):
                result.append(attr)
        return result

    def open(self, path: str, flags: int, attr: Any) -> Any:
        path = self._path(path)
        writing = flags & (os.O_WRONLY | os.O_RDWR)
        refused = self._fault(f"sftp {'put' if writing else 'get'} {path}")
        if refused is not None:
            return refused
        rt = self.runtime
        with rt.lock:
            files = SystemFiles(rt.state)
            exists = files.exists(path)
            if exists and (flags & os.O_CREAT) and (flags & os.O_EXCL):
                return paramiko.SFTP_FAILURE
            if not exists and not (flags & os.O_CREAT):
                return paramiko.SFTP_NO_SUCH_FILE
            if exists and files.stat(path).kind == "dir":
                return paramiko.SFTP_FAILURE
            if writing and (not exists or flags & os.O_TRUNC):
                mode = getattr(attr, "st_mode", None)
                result = self._run("write", path, b"", (mode & 0o7777) if mode else None)
                if isinstance(result, int):
                    return result
        return _IfsHandle(self, path, flags)

    def remove(self, path: str) -> int:
        refused = self._fault(f"sftp rm {self._path(path)}")
        if refused is not None:
            return refused
        result = self._run("remove", self._path(path))
        return result if isinstance(result, int) else paramiko.SFTP_OK

    def rename(self, oldpath: str, newpath: str) -> int:
        refused = self._fault(f"sftp rename {self._path(oldpath)} {self._path(newpath)}")
        if refused is not None:
            return refused
        result = self._run("rename", self._path(oldpath), self._path(newpath), False)
        return result if isinstance(result, int) else paramiko.SFTP_OK

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        refused = self._fault(f"sftp rename {self._path(oldpath)} {self._path(newpath)}")
        if refused is not None:
            return refused
        result = self._run("rename", self._path(oldpath), self._path(newpath), True)
        return result if isinstance(result, int) else paramiko.SFTP_OK

    def mkdir(self, path: str, attr: Any) -> int:
        refused = self._fault(f"sftp mkdir {self._path(path)}")
        if refused is not None:
            return refused
        mode = getattr(attr, "st_mode", None)
        result = self._run("mkdir", self._path(path), (mode & 0o7777) if mode else 0o755)
        return result if isinstance(result, int) else paramiko.SFTP_OK

    def rmdir(self, path: str) -> int:
        refused = self._fault(f"sftp rmdir {self._path(path)}")
        if refused is not None:
            return refused
        result = self._run("rmdir", self._path(path))
        return result if isinstance(result, int) else paramiko.SFTP_OK

    def chattr(self, path: str, attr: Any) -> int:
        if getattr(attr, "st_mode", None) is not None:
            result = self._run("chmod", self._path(path), attr.st_mode)
            if isinstance(result, int):
                return result
        return paramiko.SFTP_OK

    def readlink(self, path: str) -> int:
        return paramiko.SFTP_OP_UNSUPPORTED

    def symlink(self, target_path: str, path: str) -> int:
        return paramiko.SFTP_OP_UNSUPPORTED


class _IfsHandle(paramiko.SFTPHandle):
    """An open IFS file: reads and writes go straight to the system's state."""

    def __init__(self, server: _IfsSftp, path: str, flags: int):
        super().__init__(flags)
        self.server, self.path = server, path
        self.appending = bool(flags & os.O_APPEND)
        # A file opened for reading keeps what it held at open, as an open inode does when a
        # writer replaces the file (write to a temporary file, rename over): a reader never
        # sees half of one version and half of the next.
        self.opened = None if flags & (os.O_WRONLY | os.O_RDWR) else server._run("read", path)

    def read(self, offset: int, length: int) -> Any:
        data = self.opened if self.opened is not None else self.server._run("read", self.path)
        if isinstance(data, int):
            return data
        return data[offset:offset + length]

    def write(self, offset: int, data: bytes) -> int:
        rt = self.server.runtime
        with rt.lock:
            current = self.server._run("read", self.path)
            if isinstance(current, int):
                return current
            if self.appending:
                offset = len(current)
            buffer = bytearray(current)
            if offset > len(buffer):
                buffer.extend(b"\0" * (offset - len(buffer)))
            buffer[offset:offset + len(data)] = data
            result = self.server._run("write", self.path, bytes(buffer))
            if isinstance(result, int):
                return result
            rt.write(len(data))
        return paramiko.SFTP_OK

    def stat(self) -> Any:
        return self.server.stat(self.path)

    def chattr(self, attr: Any) -> int:
        return self.server.chattr(self.path, attr)

    def close(self) -> None:
        super().close()
        self.server.runtime.notify()
