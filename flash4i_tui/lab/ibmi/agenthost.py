"""How the real agent code runs on a simulated IBM i.

When a simulated system runs `QSH CMD('/QOpenSys/pkgs/bin/python3.9 /path/agent.py args')`
(from its startup program, a submitted job, or `python3.9 /path/agent.py` over SSH), the lab
reads /path/agent.py from the system's IFS, executes it as a module namespace and calls

    main(argv, host=LabHost(runtime, job))       # argv: the arguments after the script

The script is one self-contained file that imports the standard library only. Its return value
(or SystemExit code) is the exit status (None -> 0); an uncaught exception prints a traceback on
stderr and exits 1; `print()` writes to the job's output (QSH's spooled output, or SSH stdout).
A missing file fails like Python does: "can't open file ... [Errno 2]", exit 2.

`host` is what the agent uses instead of the real PASE. On a real system the agent implements
the same methods itself (subprocess `system` / `db2util`, os, time). Contract:

    host.cl(command: str) -> (status, stdout, stderr)
        exactly `/QOpenSys/usr/bin/system 'command'`: status 0 with completion messages
        ("CPC2102: Library X created.") on stdout, or 255 with the diagnostics and the escape
        message ("CPF2111: Library X already exists.") on stderr.
    host.sql(statement: str, params: Sequence[str] = ()) -> (status, stdout, stderr)
        exactly `db2util 'statement' -o json -p params...`: status 0 and stdout
        '{"records":[{"COLUMN":"value",...}]}' (every value a string or null, columns upper-case),
        or a non-zero status with an SQLnnnn message on stderr. The partition id comes from
        `SELECT PARTITION_ID FROM QSYS2.SYSTEM_STATUS_INFO` as on a real system (no shortcut).
    host.read_file(path) -> bytes | None           (None when the file does not exist)
    host.write_file(path, data: bytes)             (the directory must exist)
    host.append_file(path, data: bytes)
    host.remove_file(path)                         (FileNotFoundError when missing)
    host.list_dir(path) -> list[str]               (names; FileNotFoundError / NotADirectoryError)
    host.make_dirs(path)                           (like os.makedirs(path, exist_ok=True))
    host.now() -> datetime                         (aware, UTC)
    host.sleep(seconds)                            (lab clock: an IPL-length wait takes little real time)
    host.job_name() -> str                         ('123456/QPGMR/QSTRUPJD': the job the agent runs in)

Paths are IFS paths; /QSYS.LIB/LIB.LIB/NAME.FILE reads and writes save file NAME. Errors are
OSError subclasses (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError).
When the job is ended (ENDSBS *ALL from another job, PWRDWNSYS, the partition shut down) the
next host call raises an exception the agent cannot catch with `except Exception`.
The agent must not start threads (the lab's lock is held while it runs) and must use
host.sleep() rather than time.sleep().
"""
from __future__ import annotations

import builtins
import errno
import io
import sys
import traceback
from datetime import datetime
from typing import Any, List, Optional, Sequence, Tuple

from .files import SystemFiles
from .pase import db2util_command, system_command
from .state import IfsError

_OS_ERRORS = {"ENOENT": FileNotFoundError, "EEXIST": FileExistsError, "EISDIR": IsADirectoryError,
              "ENOTDIR": NotADirectoryError}


def os_error(exc: IfsError) -> OSError:
    cls = _OS_ERRORS.get(exc.code)
    code = getattr(errno, exc.code, errno.EIO)
    if cls is not None:
        return cls(code, exc.code, exc.path)
    return OSError(code, exc.code, exc.path)


class LabHost:
    """The agent's view of the system it runs on (see the module docstring for the contract)."""

    def __init__(self, runtime: Any, job: Any):
        self._rt, self._job = runtime, job

    def _files(self) -> SystemFiles:
        self._rt.check(self._job)
        return SystemFiles(self._rt.state)

    def cl(self, command: str) -> Tuple[int, str, str]:
        out, err, status = system_command(self._rt, self._job, command)
        return status, out, err

    def sql(self, statement: str, params: Sequence[str] = ()) -> Tuple[int, str, str]:
        self._rt.check(self._job)
        out, err, status = db2util_command(self._rt, self._job, statement, [str(p) for p in params])
        return status, out, err

    def read_file(self, path: str) -> Optional[bytes]:
        with self._rt.lock:
            try:
                return self._files().read(path)
            except IfsError as exc:
                if exc.code == "ENOENT":
                    return None
                raise os_error(exc) from None

    def _change(self, action: str, *args: Any) -> Any:
        with self._rt.lock:
            try:
                result = getattr(self._files(), action)(*args)
            except IfsError as exc:
                raise os_error(exc) from None
            self._rt.write(len(args[1]) if len(args) > 1 and isinstance(args[1], (bytes, bytearray)) else 4096)
            return result

    def write_file(self, path: str, data: bytes) -> None:
        self._change("write", path, bytes(data))

    def append_file(self, path: str, data: bytes) -> None:
        self._change("write", path, bytes(data), None, True)

    def remove_file(self, path: str) -> None:
        self._change("remove", path)

    def make_dirs(self, path: str) -> None:
        self._change("make_dirs", path)

    def list_dir(self, path: str) -> List[str]:
        with self._rt.lock:
            try:
                return self._files().list_dir(path)
            except IfsError as exc:
                raise os_error(exc) from None

    def now(self) -> datetime:
        return self._rt.now()

    def sleep(self, seconds: float) -> None:
        self._rt.pause(self._job, float(seconds))

    def job_name(self) -> str:
        return self._job.qualified


def run_script(rt: Any, job: Any, path: str, argv: List[str], program: str = "python3.9") -> Tuple[str, str, int]:
    """Run an agent script from the IFS in JOB: (stdout, stderr, exit status)."""
    name = program.rsplit("/", 1)[-1]
    with rt.lock:
        try:
            source = SystemFiles(rt.state).read(path)
        except IfsError:
            return "", f"{name}: can't open file '{path}': [Errno 2] No such file or directory\n", 2
    out, err = io.StringIO(), io.StringIO()
    namespace = {"__name__": "flash4i_lab_script", "__file__": path, "__builtins__": builtins,
                 "print": _printer(out, err)}
    status: Any = 0
    try:
        exec(compile(source.decode("utf-8"), path, "exec"), namespace)
        main = namespace.get("main")
        if not callable(main):
            err.write(f"{name}: {path} has no main(argv, host) function\n")
            return out.getvalue(), err.getvalue(), 1
        status = main(list(argv), host=LabHost(rt, job))
    except SystemExit as exc:
        status = exc.code
    except Exception:
        kind, value, tb = sys.exc_info()
        # show the script's own frames, as Python would for a top-level script
        while tb is not None and tb.tb_frame.f_code.co_filename != path:
            tb = tb.tb_next
        err.write("Traceback (most recent call last):\n")
        err.write("".join(traceback.format_list(traceback.extract_tb(tb))))
        err.write("".join(traceback.format_exception_only(kind, value)))
        status = 1
    if status is None:
        status = 0
    elif not isinstance(status, int):
        err.write(f"{status}\n")
        status = 1
    return out.getvalue(), err.getvalue(), status


def _printer(out: io.StringIO, err: io.StringIO) -> Any:
    def lab_print(*values: Any, sep: Optional[str] = " ", end: Optional[str] = "\n", file: Any = None,
                  flush: bool = False) -> None:
        target = err if file is sys.stderr else out if file in (None, sys.stdout) else file
        target.write((" " if sep is None else sep).join(str(v) for v in values) + ("\n" if end is None else end))
    return lab_print
