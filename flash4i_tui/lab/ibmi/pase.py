"""The PASE programs the lab knows, as a shell line runs them (SSH exec, QSH CMD(...)).

    [NAME=value ...] program args...

- `/QOpenSys/usr/bin/system [-beEhiIkKnOpqsv] CL-command`: exit 0 (completion messages on
  stdout as `CPC2102: Library X created.`), or 255 with the diagnostics and the escape message
  on stderr (`CPF2111: Library X already exists.`);
- `/QOpenSys/pkgs/bin/db2util 'SQL' [-o json|comma|space] [-p parm ...]`: `{"records":[...]}`;
- `/QOpenSys/pkgs/bin/python3.9 FILE args`: runs FILE from the IFS (see agenthost);
- `uname [-asnrvm]`, `sh -c '...'`, `echo`, `sleep N`, `true`, `false`.
Anything else: `sh: X: not found` (127). Shell operators (; | & < > ( )) are not simulated.
"""
from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence, Tuple

from .messages import ClEscape, Msg

SYSTEM_FLAGS = set("beEhiIkKnOpqsv")
ENV_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
Result = Tuple[str, str, int]
DB2UTIL_ERROR_STATUS = 1          # [U] exit status of db2util when the statement fails


@dataclass
class ShellLine:
    env: Dict[str, str] = field(default_factory=dict)
    argv: List[str] = field(default_factory=list)


class ShellError(Exception):
    def __init__(self, text: str, status: int = 2):
        self.text, self.status = text, status
        super().__init__(text)


def parse_line(line: str) -> ShellLine:
    """Split a shell line into environment assignments and the program's arguments."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError as exc:
        raise ShellError(f"sh: syntax error: {exc}\n") from None
    for token in tokens:
        if token and all(ch in ";&|<>()" for ch in token):
            raise ShellError(f"sh: lab shell: '{token}' is not simulated (one program per command line)\n")
    shell = ShellLine()
    for i, token in enumerate(tokens):
        if ENV_ASSIGNMENT.match(token):
            name, _, value = token.partition("=")
            shell.env[name] = value
            continue
        shell.argv = tokens[i:]
        break
    return shell


def run_line(rt: Any, job: Any, line: str, qshell: bool = False) -> Result:
    """Run one shell line in JOB; (stdout, stderr, exit status)."""
    try:
        shell = parse_line(line)
    except ShellError as exc:
        return "", exc.text, exc.status
    return run_parsed(rt, job, shell)


def run_parsed(rt: Any, job: Any, shell: ShellLine) -> Result:
    if not shell.argv:
        return "", "", 0
    program, args = shell.argv[0], shell.argv[1:]
    base = posixpath.basename(program)
    if base == "system" and program in ("system", "/QOpenSys/usr/bin/system", "/usr/bin/system"):
        return system_program(rt, job, args)
    if base == "db2util" and program in ("db2util", "/QOpenSys/pkgs/bin/db2util"):
        return db2util_program(rt, job, args)
    if program == rt.python or (base in ("python3.9", "python3") and
                                program in (base, f"/QOpenSys/pkgs/bin/{base}")):
        return python_program(rt, job, program, args)
    if base == "uname":
        return uname_program(rt, args)
    if base == "sh" and args[:1] == ["-c"] and len(args) >= 2:
        return run_line(rt, job, args[1])
    if base == "echo":
        return " ".join(args) + "\n", "", 0
    if base == "sleep" and len(args) == 1 and re.fullmatch(r"\d+(\.\d+)?", args[0]):
        rt.pause(job, float(args[0]))
        return "", "", 0
    if base in ("true", "false"):
        return "", "", 0 if base == "true" else 1
    return "", f"sh: {program}: not found\n", 127


# ---------------------------------------------------------------- system


def message_line(message: Msg, with_id: bool = True) -> str:
    return f"{message.msg_id}: {message.text}" if message.msg_id and with_id else message.text


def system_program(rt: Any, job: Any, args: Sequence[str]) -> Result:
    flags = ""
    words = list(args)
    while words and words[0].startswith("-") and len(words[0]) > 1:
        option = words.pop(0)[1:]
        unknown = set(option) - SYSTEM_FLAGS
        if unknown:
            return "", f"system: illegal option -- {sorted(unknown)[0]}\nusage: system [-beEhiIkKnOpqsv] CL-command\n", 1
        flags += option
    if not words:
        return "", "usage: system [-beEhiIkKnOpqsv] CL-command [CL-parameters ...]\n", 1
    return system_command(rt, job, " ".join(words), flags)


def system_command(rt: Any, job: Any, command: str, flags: str = "") -> Result:
    """What `system 'COMMAND'` prints and returns (also LabHost.cl)."""
    with_id = "n" not in flags
    quiet = "q" in flags
    echo = f"{command}\n" if "v" in flags else ""
    try:
        result = rt.run_command(job, command)
    except ClEscape as exc:
        lines = [message_line(m, with_id) for m in list(exc.diagnostics) + [exc.escape]]
        return echo, "" if quiet else "\n".join(lines) + "\n", 255
    out = list(result.output)
    if not quiet:
        out.extend(message_line(m, with_id) for m, _ in result.messages)
    return echo + "".join(line + "\n" for line in out), "", 0


# ---------------------------------------------------------------- db2util


def db2util_program(rt: Any, job: Any, args: Sequence[str]) -> Result:
    statement, fmt, params = None, "json", []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-o" and i + 1 < len(args):
            fmt, i = args[i + 1], i + 2
        elif arg == "-p":
            i += 1
            while i < len(args) and args[i] not in ("-o", "-p", "-h"):
                params.append(args[i])
                i += 1
        elif arg == "-h" or statement is not None or arg.startswith("-"):
            return "", "usage: db2util 'sql statement' [-h -o [json|comma|space] -p parm1 parm2 ...]\n", 1
        else:
            statement, i = arg, i + 1
    if statement is None or fmt not in ("json", "comma", "space"):
        return "", "usage: db2util 'sql statement' [-h -o [json|comma|space] -p parm1 parm2 ...]\n", 1
    return db2util_command(rt, job, statement, params, fmt)


def db2util_command(rt: Any, job: Any, statement: str, params: Sequence[str] = (), fmt: str = "json") -> Result:
    """What `db2util 'STATEMENT' -o FMT -p PARAMS` prints and returns (also LabHost.sql)."""
    from . import sql
    try:
        rows = sql.execute(rt, job, statement, params)
    except sql.SqlError as exc:
        return "", exc.line() + "\n", DB2UTIL_ERROR_STATUS
    # db2util's JSON writes numeric columns unquoted, everything else as text (format_json.c)
    records = [{k: v if isinstance(v, int) and not isinstance(v, bool) else sql.render(v) for k, v in row.items()}
               for row in rows]
    if fmt == "json":
        return json.dumps({"records": records}, separators=(",", ":")) + "\n", "", 0
    separator = "," if fmt == "comma" else " "
    lines = [separator.join(json.dumps(v) if fmt == "comma" and v is not None else str(v)
                            for v in record.values()) for record in records]
    return "".join(line + "\n" for line in lines), "", 0


# ---------------------------------------------------------------- python and uname


def python_program(rt: Any, job: Any, program: str, args: Sequence[str]) -> Result:
    from .agenthost import run_script
    if not args or args[0].startswith("-"):
        return "", f"{posixpath.basename(program)}: the lab runs scripts only (python FILE args)\n", 2
    return run_script(rt, job, args[0], list(args[1:]), program)


def uname_program(rt: Any, args: Sequence[str]) -> Result:
    release = rt.state.release            # V7R5M0 -> version 7, release 5
    fields = {"s": "OS400", "n": rt.state.sysname, "r": release[3:4] if len(release) > 3 else "",
              "v": release[1:2] if len(release) > 1 else "", "m": f"00{rt.serial}"}
    wanted = "".join(a.lstrip("-") for a in args) or "s"
    if "a" in wanted:
        wanted = "snrvm"
    if set(wanted) - set(fields):
        return "", "uname: illegal option\nusage: uname [-amnrsv]\n", 1
    return " ".join(fields[f] for f in "snrvm" if f in wanted) + "\n", "", 0
