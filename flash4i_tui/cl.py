"""IBM i command lines: the one builder of CL commands from validated values.

    cl_command("CHGASPACT", ASPDEV="*SYSBAS", OPTION="*SUSPEND", SSPTIMO=30)
    -> "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(30)"

Every value is checked by its kind, and a value that fits none is refused (ValidationError),
never cleaned up: a configuration value can never close a parenthesis or start a second command.

- a plain str is a word: an IBM i name (A-Z 0-9 $ # @ _, at most 10 characters, first not a
  digit), a qualified name LIB/OBJ of such names, or a special value (*SYSBAS);
- ClStr is text, sent as a quoted literal with doubled apostrophes (control characters refused);
- int is a number, bool is *YES / *NO, None leaves the keyword out;
- a list or tuple is a list of values (a nested one is parenthesised: OMITOBJ((*ALL *JRN)));
- a command built here may be the value of another (SBMJOB CMD(...)).

Used by the IBM i driver (devices/ibmi.py), the engine's functions and the agent installer.
The agent (agent/flash4i_agent.py) keeps its own copy, standard library only; tests/test_cl.py
runs the same table of cases against both, and checks that the lab's CL parser reads them back.
"""
from __future__ import annotations

import re

from .errors import ValidationError

NAME = re.compile(r"[A-Z$#@][A-Z0-9$#@_]{0,9}")
SPECIAL = re.compile(r"\*[A-Z0-9]{1,10}")
COMMAND = re.compile(r"(?:[A-Z$#@][A-Z0-9$#@_]{0,9}/)?[A-Z$#@][A-Z0-9$#@_]{0,9}")
KEYWORD = re.compile(r"[A-Z][A-Z0-9]{0,9}")
WORD_RULE = ("an IBM i name (A-Z 0-9 $ # @ _, at most 10 characters, first not a digit), a qualified "
             "name LIB/OBJ or a special value *VALUE")


class ClStr(str):
    """A value to be sent as a quoted CL character literal ('...')."""


class ClCommand(str):
    """A command built by cl_command: it may be the value of another command's parameter."""


def cl_string(value: str) -> str:
    """VALUE as a CL character literal: apostrophes doubled, control characters refused."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError(f"{value!r} contains control characters and cannot be sent to IBM i")
    return "'" + value.replace("'", "''") + "'"


def _word(text: str, where: str) -> str:
    parts = text.split("/")
    if len(parts) <= 2 and all(NAME.fullmatch(p) or SPECIAL.fullmatch(p) for p in parts):
        return text
    raise ValidationError(f"{where}: {text!r} is not {WORD_RULE}")


def _value(value: object, where: str) -> str:
    if isinstance(value, ClCommand):
        return value
    if isinstance(value, ClStr):
        return cl_string(value)
    if isinstance(value, bool):
        return "*YES" if value else "*NO"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValidationError(f"{where}: an empty list cannot be sent")
        return " ".join(f"({_value(v, where)})" if isinstance(v, (list, tuple)) else _value(v, where)
                        for v in value)
    if isinstance(value, str):
        return _word(value, where)
    raise ValidationError(f"{where}: {value!r} ({type(value).__name__}) is not a CL value")


def cl_command(command: str, **params: object) -> ClCommand:
    """`COMMAND KW(value) ...` from PARAMS, in their order (see the module's rules)."""
    if not isinstance(command, str) or not COMMAND.fullmatch(command):
        raise ValidationError(f"{command!r} is not a CL command name")
    parts = [command]
    for keyword, value in params.items():
        if not KEYWORD.fullmatch(keyword):
            raise ValidationError(f"{command}: {keyword!r} is not a CL keyword")
        if value is not None:
            parts.append(f"{keyword}({_value(value, f'{command} {keyword}')})")
    return ClCommand(" ".join(parts))
