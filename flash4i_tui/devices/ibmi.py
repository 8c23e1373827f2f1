"""IBM i over SSH: CL through PASE `system`, SQL services through `db2util -o json`, files over SFTP.

- `cl()` runs `/QOpenSys/usr/bin/system '<CL>'`; the exit status of `system` itself decides
  (never a pipe): 0 is success, 255 an escape message (`CPFnnnn: text` on stderr) -> ClError
  carrying every message and the escape id; any other status is a DeviceError.
- `sql()` runs `/QOpenSys/pkgs/bin/db2util '<SQL>' -o json -p <params>` and accepts only
  `{"records":[{...}, ...]}`; anything else is a DeviceError naming the statement.
- Commands built from configuration values go through `flash4i_tui.cl.cl_command()`, the one CL
  builder (module-level builders, so `flash4i plan` can print the exact CL without a device); the shell
  line is always built with shlex.quote.
"""
from __future__ import annotations

import contextlib
import errno
import json
import re
import shlex
import socket
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import paramiko

from .. import names
from ..cl import cl_command
from ..errors import DeviceError, DeviceUnreachable, ValidationError
from .ssh import CommandResult, SshSession

SYSTEM = "/QOpenSys/usr/bin/system"
DB2UTIL = "/QOpenSys/pkgs/bin/db2util"
DEFAULT_PYTHON = "/QOpenSys/pkgs/bin/python3.9"
MESSAGE = re.compile(r"^([A-Z][A-Z0-9]{2}[0-9A-F]{4}):\s?(.*)$")
SQL_MESSAGE = re.compile(r"\b(SQL[0-9]{4}[A-Z]?)\b")
JOB_NAME = re.compile(r"[0-9]{6}/[A-Z$#@][A-Z0-9$#@_.]{0,9}/[A-Z$#@][A-Z0-9$#@_.]{0,9}")
SUSPEND_ACTIONS = ("*END", "*CONT")
SUSPEND_TIMEOUT = (1, 3600)          # [U] CHGASPACT SSPTIMO range


@dataclass(frozen=True)
class Message:
    msg_id: str
    text: str


@dataclass(frozen=True)
class ClResult:
    command: str
    stdout: str
    messages: Tuple[Message, ...]


class ClError(DeviceError):
    """A CL command ended with an escape message (`system` exit status 255)."""

    def __init__(self, device: str, command: str, messages: Tuple[Message, ...], stderr: str = ""):
        self.messages = messages
        escape = messages[-1] if messages else Message("", stderr.strip() or "escape message without text")
        super().__init__(device, command, f"{escape.msg_id}: {escape.text}" if escape.msg_id else escape.text,
                         escape.msg_id or None)


def parse_messages(*texts: str) -> Tuple[Message, ...]:
    """Every `XXXnnnn: text` line of the outputs, in order."""
    found: List[Message] = []
    for text in texts:
        for line in text.splitlines():
            match = MESSAGE.match(line.strip())
            if match:
                found.append(Message(match.group(1), match.group(2)))
    return tuple(found)


# ---------------------------------------------------------------- command builders (no device needed)


def _asp(asp: str) -> str:
    return asp if asp == "*SYSBAS" else names.ibmi_name(asp, "ASP device name")


def force_write_command(asp: str = "*SYSBAS") -> str:
    return cl_command("CHGASPACT", ASPDEV=_asp(asp), OPTION="*FRCWRT")


def suspend_command(timeout: int, action: str, asp: str = "*SYSBAS") -> str:
    if isinstance(timeout, bool) or not isinstance(timeout, int) or \
            not SUSPEND_TIMEOUT[0] <= timeout <= SUSPEND_TIMEOUT[1]:
        raise ValidationError(f"{timeout!r} is not a valid suspend timeout "
                              f"({SUSPEND_TIMEOUT[0]}-{SUSPEND_TIMEOUT[1]} seconds)")
    if action not in SUSPEND_ACTIONS:
        raise ValidationError(f"{action!r} is not a valid suspend timeout action ({', '.join(SUSPEND_ACTIONS)})")
    return cl_command("CHGASPACT", ASPDEV=_asp(asp), OPTION="*SUSPEND", SSPTIMO=timeout, SSPTIMOACN=action)


def resume_command(asp: str = "*SYSBAS") -> str:
    return cl_command("CHGASPACT", ASPDEV=_asp(asp), OPTION="*RESUME")


def quiesce_commands(timeout: int, action: str, asps: Sequence[str] = ("*SYSBAS",)) -> List[str]:
    """The CL of a quiesce window, in order: flush, suspend, (snapshot), resume."""
    return [force_write_command(a) for a in asps] + [suspend_command(timeout, action, a) for a in asps] + \
        [resume_command(a) for a in reversed(asps)]


def describe_commands(timeout: int, action: str, asps: Sequence[str] = ("*SYSBAS",)) -> List[str]:
    """What `flash4i plan` prints for the quiesce of a source."""
    return quiesce_commands(timeout, action, asps)


def system_line(command: str) -> str:
    """The shell line that runs COMMAND through PASE `system` (refuses control characters)."""
    if not isinstance(command, str) or not command.strip():
        raise ValidationError("an empty CL command cannot be sent")
    if any(ord(c) < 32 or ord(c) == 127 for c in command):
        raise ValidationError(f"{command!r} contains control characters and cannot be sent to IBM i")
    return f"{SYSTEM} {shlex.quote(command)}"


def db2util_line(statement: str, params: Sequence[str] = ()) -> str:
    for value in (statement, *params):
        if any(ord(c) < 32 and c not in "\t" for c in str(value)):
            raise ValidationError(f"{value!r} contains control characters and cannot be sent to IBM i")
    line = f"{DB2UTIL} {shlex.quote(statement)} -o json"
    if params:
        line += " -p " + " ".join(shlex.quote(str(p)) for p in params)
    return line


def job_name(value: str) -> str:
    """A qualified job name nnnnnn/USER/NAME (or '*', the current job)."""
    if value == "*" or (isinstance(value, str) and JOB_NAME.fullmatch(value)):
        return value
    raise ValidationError(f"{value!r} is not a qualified job name (nnnnnn/USER/NAME)")


# ---------------------------------------------------------------- the driver


def _is_dir(sftp, path: str) -> bool:
    try:
        return stat.S_ISDIR(sftp.stat(path).st_mode or 0)
    except IOError:
        return False


class IbmiDriver:
    # [U] escape message ids of CHGASPACT *RESUME when the ASP is not suspended (unconfirmed in
    # public material: see reference ibmi.md §1.6); the engine treats them as "already resumed".
    NOT_SUSPENDED_IDS = ("CPFB71A",)

    def __init__(self, session: SshSession, name: str, python: str = DEFAULT_PYTHON):
        self.session, self.name, self.python = session, name, python
        self._offset: Optional[timedelta] = None

    # ------------------------------------------------------------------ CL

    def _run(self, line: str, what: str, timeout: float) -> CommandResult:
        result = self.session.run(line, timeout=timeout)
        if result.exit_status < 0:
            # the channel closed without an exit status: the session was dropped (PWRDWNSYS, ENDSBS
            # *ALL, ENDTCP, the partition stopped), which says nothing about the command's outcome
            self.session.close()
            raise DeviceUnreachable(self.name, what, "the connection closed before the command ended "
                                                     "(no exit status)")
        return result

    def cl(self, command: str, timeout: float = 300) -> ClResult:
        result = self._run(system_line(command), command, timeout)
        messages = parse_messages(result.stdout, result.stderr)
        if result.exit_status == 0:
            return ClResult(command, result.stdout, messages)
        if result.exit_status == 255:
            raise ClError(self.name, command, parse_messages(result.stderr) or messages, result.stderr)
        raise DeviceError(self.name, command, f"`system` ended with exit status {result.exit_status}: "
                                              f"{(result.stderr or result.stdout).strip()[:500]}")

    def force_write(self, asp: str = "*SYSBAS") -> ClResult:
        return self.cl(force_write_command(asp))

    def ready_for_window(self) -> None:
        """Before the suspend: open the channels of the suspend and of the resume ahead, so that
        inside the window the resume costs one network round trip, not two."""
        self.session.open_ahead(2)

    def suspend(self, timeout: int, action: str, asp: str = "*SYSBAS") -> ClResult:
        return self.cl(suspend_command(timeout, action, asp), timeout=timeout + 120)

    def resume(self, asp: str = "*SYSBAS") -> ClResult:
        return self.cl(resume_command(asp))

    # ------------------------------------------------------------------ SQL

    def sql(self, statement: str, params: Sequence[str] = (), timeout: float = 120) -> List[dict]:
        result = self._run(db2util_line(statement, [str(p) for p in params]), statement, timeout)
        if result.exit_status != 0:
            text = (result.stderr or result.stdout).strip()
            match = SQL_MESSAGE.search(text)
            raise DeviceError(self.name, statement, text[:500] or f"db2util exit status {result.exit_status}",
                              match.group(1) if match else None)
        try:
            data = json.loads(result.stdout)
        except (ValueError, RecursionError):     # not JSON, or nested past any real answer
            raise DeviceError(self.name, statement, f"db2util answered something that is not JSON: "
                                                    f"{result.stdout.strip()[:200]!r}") from None
        # {"records":[...]} is db2util's default; DB2UTIL_JSON_CONTAINER=array (set in a profile) drops
        # the wrapper (IBM/ibmi-db2util format_json.c): both are read.
        records = data["records"] if isinstance(data, dict) and set(data) == {"records"} else data
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise DeviceError(self.name, statement, f"db2util answered an unexpected shape: {result.stdout.strip()[:200]!r}")
        return records

    def system_info(self) -> dict:
        rows = self.sql("SELECT HOST_NAME, PARTITION_ID, PARTITION_NAME, SERIAL_NUMBER FROM QSYS2.SYSTEM_STATUS_INFO")
        if len(rows) != 1:
            raise DeviceError(self.name, "SYSTEM_STATUS_INFO", f"expected one row, got {len(rows)}")
        row = rows[0]
        try:
            partition_id = int(str(row.get("PARTITION_ID")).strip())
        except ValueError:
            raise DeviceError(self.name, "SYSTEM_STATUS_INFO",
                              f"PARTITION_ID is not a number: {row.get('PARTITION_ID')!r}") from None
        return {"partition_id": partition_id, "partition_name": _text(row.get("PARTITION_NAME")),
                "host_name": _text(row.get("HOST_NAME")), "serial_number": _text(row.get("SERIAL_NUMBER"))}

    # [U] JOURNAL_RECEIVER_INFO's STATUS value of the receiver a journal writes to now.
    ATTACHED_RECEIVER = "ATTACHED"

    def journal_sequences(self, journals: Sequence[str]) -> Dict[str, Optional[int]]:
        """LIB/JRN -> the last sequence number of its attached receiver (None: not found), in one
        statement for all JOURNALS (the clone's proof: cheap, read outside the suspended window)."""
        wanted = {j.upper() for j in journals}
        rows = self.sql("SELECT JOURNAL_LIBRARY, JOURNAL_NAME, LAST_SEQUENCE_NUMBER FROM QSYS2.JOURNAL_RECEIVER_INFO "
                        "WHERE STATUS = ?", (self.ATTACHED_RECEIVER,))
        found: Dict[str, Optional[int]] = {j: None for j in sorted(wanted)}
        for row in rows:
            name = f"{_text(row.get('JOURNAL_LIBRARY')) or ''}/{_text(row.get('JOURNAL_NAME')) or ''}".upper()
            if name in wanted:
                found[name] = self._whole(row, "LAST_SEQUENCE_NUMBER", 0)
        return found

    def utc_offset(self) -> timedelta:
        """The system's offset from UTC (QUTCOFFSET), read once: SQL timestamps are local time."""
        if self._offset is None:
            rows = self.sql("SELECT CURRENT_CHARACTER_VALUE FROM QSYS2.SYSTEM_VALUE_INFO "
                            "WHERE SYSTEM_VALUE_NAME = 'QUTCOFFSET'")
            text = _text(rows[0].get("CURRENT_CHARACTER_VALUE")) if rows else "+00:00"
            match = re.fullmatch(r"([+-])(\d{1,2}):?(\d{2})", text or "+00:00")
            if match is None:
                raise DeviceError(self.name, "QUTCOFFSET", f"cannot read the UTC offset {text!r}")
            delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
            self._offset = -delta if match.group(1) == "-" else delta
        return self._offset

    def _local(self, moment: datetime) -> str:
        if moment.tzinfo is None:
            raise ValidationError("timestamps sent to IBM i must be timezone-aware")
        local = moment.astimezone(timezone.utc).replace(tzinfo=None) + self.utc_offset()
        return local.strftime("%Y-%m-%d-%H.%M.%S.%f")

    def _utc(self, text: Optional[str]) -> Optional[datetime]:
        if not text:
            return None
        for pattern in ("%Y-%m-%d-%H.%M.%S.%f", "%Y-%m-%d-%H.%M.%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                local = datetime.strptime(text.strip(), pattern)
                return (local - self.utc_offset()).replace(tzinfo=timezone.utc)
            except ValueError:
                continue
        raise DeviceError(self.name, "timestamp", f"cannot read the timestamp {text!r}")

    def history_log(self, start: datetime, end: datetime) -> List[dict]:
        """QHST between START and END (aware): ordinal, timestamp (UTC), msg_id, severity, type, text, from_user, from_job."""
        rows = self.sql("SELECT ORDINAL_POSITION, MESSAGE_TIMESTAMP, MESSAGE_ID, MESSAGE_TYPE, SEVERITY, "
                        "FROM_USER, FROM_JOB, MESSAGE_TEXT FROM TABLE(QSYS2.HISTORY_LOG_INFO("
                        "START_TIME => CAST(? AS TIMESTAMP), END_TIME => CAST(? AS TIMESTAMP))) X "
                        "ORDER BY ORDINAL_POSITION", (self._local(start), self._local(end)))
        return [self._message(row, from_job=True) for row in rows]

    def joblog(self, job: str) -> List[dict]:
        """The job log of JOB (active or ended): ordinal, timestamp (UTC), msg_id, severity, type, text."""
        rows = self.sql("SELECT ORDINAL_POSITION, MESSAGE_TIMESTAMP, MESSAGE_ID, MESSAGE_TYPE, SEVERITY, "
                        "FROM_USER, MESSAGE_TEXT FROM TABLE(QSYS2.JOBLOG_INFO(?)) A ORDER BY ORDINAL_POSITION",
                        (job_name(job),))
        return [self._message(row, from_job=False) for row in rows]

    def _message(self, row: Dict[str, object], from_job: bool) -> dict:
        message = {"ordinal": self._whole(row, "ORDINAL_POSITION", None),
                   "timestamp": self._utc(_text(row.get("MESSAGE_TIMESTAMP"))),
                   "msg_id": _text(row.get("MESSAGE_ID")) or "", "type": _text(row.get("MESSAGE_TYPE")) or "",
                   "severity": self._whole(row, "SEVERITY", 0), "text": _text(row.get("MESSAGE_TEXT")) or "",
                   "from_user": _text(row.get("FROM_USER")) or ""}
        if from_job:
            message["from_job"] = _text(row.get("FROM_JOB")) or ""
        return message

    def _whole(self, row: Dict[str, object], column: str, empty: Optional[int]) -> int:
        """The whole number in COLUMN (db2util sends numbers or their text); EMPTY when null, if allowed."""
        value = row.get(column)
        if value is None and empty is not None:
            return empty
        text = str(value).strip()
        if isinstance(value, bool) or not re.fullmatch(r"-?[0-9]{1,18}", text):
            raise DeviceError(self.name, column, f"db2util answered {value!r} for {column}, not a whole number")
        return int(text)

    # ------------------------------------------------------------------ Python scripts (the agent)

    def run_script(self, path: str, args: Sequence[str] = (), timeout: float = 300) -> CommandResult:
        """Run `<python> PATH ARGS...` on the system (e.g. the agent's self-check); any exit status."""
        for arg in args:
            if not isinstance(arg, str) or any(ord(c) < 32 or ord(c) == 127 for c in arg):
                raise ValidationError(f"{arg!r} cannot be passed to a script on IBM i")
        line = " ".join(shlex.quote(part) for part in [self.python, names.ifs_path(path), *args])
        return self._run(line, line, timeout)

    # ------------------------------------------------------------------ files (SFTP)

    @contextlib.contextmanager
    def _sftp(self, what: str) -> Iterator[Any]:
        """An SFTP channel; a session that drops under it (the system restarts, TCP/IP ends) is
        DeviceUnreachable, like a refused connection, so callers can wait and retry."""
        try:
            with self.session.sftp() as sftp:
                yield sftp
        except (EOFError, paramiko.SSHException, socket.error) as exc:
            if isinstance(exc, IOError) and getattr(exc, "errno", None) is not None:
                raise
            self.session.close()
            raise DeviceUnreachable(self.name, what, f"connection lost: {exc or type(exc).__name__}") from None

    def read_file(self, path: str) -> Optional[bytes]:
        path = names.ifs_path(path)
        with self._sftp(f"sftp get {path}") as sftp:
            try:
                with sftp.open(path, "rb") as handle:
                    return handle.read()
            except IOError as exc:
                if getattr(exc, "errno", None) == errno.ENOENT:
                    return None
                raise DeviceError(self.name, f"sftp get {path}", str(exc)) from None

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write PATH whole: a temporary file renamed over it, so a reader never sees half of it.

        A save file (/QSYS.LIB/LIB.LIB/NAME.FILE) is written in place: it must exist (CRTSAVF)
        and nothing else can be created in /QSYS.LIB."""
        path = names.ifs_path(path)
        in_place = path.upper().startswith("/QSYS.LIB/")
        temporary = path if in_place else f"{path}.flash4i-tmp"
        with self._sftp(f"sftp put {path}") as sftp:
            try:
                with sftp.open(temporary, "wb") as handle:
                    handle.write(data)
                if not in_place:
                    sftp.chmod(temporary, mode)
                    sftp.posix_rename(temporary, path)
            except IOError as exc:
                raise DeviceError(self.name, f"sftp put {path}", str(exc)) from None

    def make_dirs(self, path: str) -> None:
        path = names.ifs_path(path)
        with self._sftp(f"sftp mkdir {path}") as sftp:
            current = ""
            for part in [p for p in path.split("/") if p]:
                current += "/" + part
                try:
                    sftp.stat(current)
                except IOError:
                    try:
                        sftp.mkdir(current)
                    except IOError as exc:
                        if not _is_dir(sftp, current):    # another run of this source made it meanwhile
                            raise DeviceError(self.name, f"sftp mkdir {current}", str(exc)) from None

    def remove_tree(self, path: str) -> bool:
        """Remove the folder PATH and everything below it; False when it does not exist."""
        path = names.ifs_path(path)
        if path.rstrip("/").count("/") < 2:
            raise ValidationError(f"refusing to remove {path!r}: too close to the root")
        with self._sftp(f"sftp rm -r {path}") as sftp:
            try:
                sftp.stat(path)
            except IOError as exc:
                if getattr(exc, "errno", None) == errno.ENOENT:
                    return False
                raise DeviceError(self.name, f"sftp stat {path}", str(exc)) from None
            try:
                self._remove_below(sftp, path)
            except IOError as exc:
                raise DeviceError(self.name, f"sftp rm -r {path}", str(exc)) from None
        return True

    @classmethod
    def _remove_below(cls, sftp: Any, path: str) -> None:
        for entry in sftp.listdir_attr(path):
            child = f"{path.rstrip('/')}/{entry.filename}"
            if stat.S_ISDIR(entry.st_mode or 0):
                cls._remove_below(sftp, child)
            else:
                sftp.remove(child)
        sftp.rmdir(path)


def _text(value: object) -> Optional[str]:
    return None if value is None else str(value).strip()

