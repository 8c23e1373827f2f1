"""The panels' command line: CL-style parsing and the table of flash4i commands.

`FLDSPHST ENV(NIGHTLY)`, `DSPFLLOG 123 *JOBLOG` (positional, in parameter order) and
`STRFLENV ENV('NIGHTLY')` all parse the same way. Names are upper-cased unless quoted,
as the IBM i command analyzer does. No Textual here: the app maps each command to a panel.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

FKEY_TEXT = re.compile(r"F([1-9]|1[0-9]|2[0-4])")


class CommandError(Exception):
    """The command line cannot be run; the text goes to the message line as is."""


@dataclass(frozen=True)
class Param:
    keyword: str
    prompt: str                       # the text the prompter shows before the dot leaders
    kind: str = "name"                # name | int | choice
    choices: Tuple[str, ...] = ()     # special values allowed (always, for choice)
    default: Optional[str] = None
    required: bool = False
    width: int = 10

    def hint(self) -> str:
        base = {"name": "Name", "int": "Number", "choice": ""}[self.kind]
        return ", ".join([base] * bool(base) + list(self.choices))


@dataclass(frozen=True)
class CommandSpec:
    name: str
    title: str                        # shown on the prompt panel: "Display Flash History (FLDSPHST)"
    params: Tuple[Param, ...] = ()

    def param(self, keyword: str) -> Optional[Param]:
        return next((p for p in self.params if p.keyword == keyword), None)


@dataclass
class Command:
    name: str
    values: Dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return " ".join([self.name] + [f"{k}({quote(v)})" for k, v in self.values.items()])


COMMANDS: Dict[str, CommandSpec] = {spec.name: spec for spec in (
    CommandSpec("WRKFLENV", "Work with Flash Environments"),
    CommandSpec("STRFLENV", "Start Flash Environment", (
        Param("ENV", "Environment", required=True),)),
    CommandSpec("WRKFLRUN", "Work with Flash Run", (
        Param("ENV", "Environment", choices=("*ALL",), default="*ALL"),
        Param("RUN", "Run number", kind="int", choices=("*LAST",), default="*LAST"),)),
    CommandSpec("ENDFLRUN", "End Flash Run", (
        Param("RUN", "Run number", kind="int", required=True),)),
    CommandSpec("FLDSPHST", "Display Flash History", (
        Param("ENV", "Environment", choices=("*ALL",), default="*ALL"),)),
    CommandSpec("DSPFLLOG", "Display Flash Run Log", (
        Param("RUN", "Run number", kind="int", required=True),
        Param("LOG", "Log", kind="choice", choices=("*QHST", "*JOBLOG", "*INTERNAL", "*AGENT"),
              default="*QHST"),)),
    CommandSpec("WRKFLDFN", "Work with Flash Definitions"),
    CommandSpec("WRKFLRCVP", "Work with Flash Recovery Points", (
        Param("ENV", "Environment", required=True),)),
)}


# ------------------------------------------------------------------ tokens

def _tokens(text: str) -> List[Tuple[str, str]]:
    """Split into ('word', w) | ('group', inner text) | ('quoted', s). Quotes double to escape."""
    out: List[Tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "'":
            value, i = _quoted(text, i)
            out.append(("quoted", value))
        elif ch == "(":
            depth, j, quoted = 1, i + 1, False
            while j < n and depth:
                if text[j] == "'":
                    quoted = not quoted
                elif not quoted and text[j] == "(":
                    depth += 1
                elif not quoted and text[j] == ")":
                    depth -= 1
                j += 1
            if quoted:
                raise CommandError("Closing apostrophe is missing.")
            if depth:
                raise CommandError("Parentheses are not balanced.")
            out.append(("group", text[i + 1:j - 1]))
            i = j
        elif ch == ")":
            raise CommandError("Parentheses are not balanced.")
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "()'":
                j += 1
            out.append(("word", text[i:j]))
            i = j
    return out


def _quoted(text: str, i: int) -> Tuple[str, int]:
    value, j = [], i + 1
    while j < len(text):
        if text[j] == "'":
            if j + 1 < len(text) and text[j + 1] == "'":
                value.append("'")
                j += 2
                continue
            return "".join(value), j + 1
        value.append(text[j])
        j += 1
    raise CommandError("Closing apostrophe is missing.")


def _value(inner: str) -> str:
    """A parameter value: one quoted string keeps its case; anything else is upper-cased."""
    inner = inner.strip()
    tokens = _tokens(inner)
    if len(tokens) == 1 and tokens[0][0] == "quoted":
        return tokens[0][1]
    return inner.upper()


def quote(value: str) -> str:
    """A value as the prompter writes it back: quoted when it holds blanks, quotes or lower case."""
    if value and re.fullmatch(r"[A-Z0-9*$#@_./\-]+", value):
        return value
    return "'" + value.replace("'", "''") + "'"


# ------------------------------------------------------------------ parsing

def parse(text: str) -> Command:
    """Parse one command line; raise CommandError with an operator's message."""
    spec, values = parse_raw(text)
    return Command(spec.name, check(spec, values))


def parse_raw(text: str) -> Tuple[CommandSpec, Dict[str, str]]:
    """The command and the values typed, before defaults and checks (what F4 prompts)."""
    tokens = _tokens(text.strip())
    if not tokens or tokens[0][0] != "word":
        raise CommandError("Command name missing.")
    name = tokens[0][1].upper()
    if "/" in name:                         # QSYS/WRKFLENV: the library does not matter here
        name = name.rsplit("/", 1)[1]
    spec = COMMANDS.get(name)
    if spec is None:
        raise CommandError(f"CPD0030 Command {name} not found.")
    values: Dict[str, str] = {}
    positional = 0
    i = 1
    while i < len(tokens):
        kind, word = tokens[i]
        if kind == "word" and i + 1 < len(tokens) and tokens[i + 1][0] == "group":
            keyword = word.upper()
            param = spec.param(keyword)
            if param is None:
                raise CommandError(f"Keyword {keyword} not valid for this command.")
            if keyword in values:
                raise CommandError(f"Keyword {keyword} appears more than once.")
            values[keyword] = _value(tokens[i + 1][1])
            i += 2
            continue
        if kind == "group":
            raise CommandError("Value in parentheses without a keyword.")
        if positional >= len(spec.params):
            raise CommandError(f"Too many positional parameters for {name}.")
        param = spec.params[positional]
        if param.keyword in values:
            raise CommandError(f"Keyword {param.keyword} appears more than once.")
        values[param.keyword] = word if kind == "quoted" else word.upper()
        positional += 1
        i += 1
    return spec, values


def check(spec: CommandSpec, values: Dict[str, str]) -> Dict[str, str]:
    """Apply defaults and check each value against its parameter; the values in parameter order."""
    out: Dict[str, str] = {}
    for param in spec.params:
        value = values.get(param.keyword, "")
        if value == "":
            if param.required:
                raise CommandError(f"Parameter {param.keyword} required.")
            if param.default is not None:
                out[param.keyword] = param.default
            continue
        if value in param.choices:
            out[param.keyword] = value
        elif param.kind == "choice":
            raise CommandError(f"Value '{value}' for parameter {param.keyword} not valid.")
        # ASCII digits, and few of them: str.isdigit() takes '²' (int() refuses it) and int() refuses
        # more than 4300 digits; a run number is a store key (at most 18 digits)
        elif param.kind == "int" and not re.fullmatch(r"[0-9]{1,18}", value):
            raise CommandError(f"Value '{value}' for parameter {param.keyword} not a valid number.")
        else:
            out[param.keyword] = value
    return out


def fkey_of(text: str) -> Optional[int]:
    """A function key typed on the command line (F3, f12) for terminals that do not send F-keys."""
    m = FKEY_TEXT.fullmatch(text.strip().upper())
    return int(m.group(1)) if m else None


def build(spec: CommandSpec, values: Dict[str, str]) -> str:
    """The command text from prompted values, leaving out parameters at their default."""
    shown = {k: v for k, v in values.items()
             if v and not (spec.param(k) and spec.param(k).default == v)}
    return Command(spec.name, shown).text()


def prompt_values(spec: CommandSpec, typed: Dict[str, str]) -> Dict[str, str]:
    """The prompter's starting values: what was typed, else the defaults."""
    return {p.keyword: typed.get(p.keyword) or (p.default or "") for p in spec.params}
