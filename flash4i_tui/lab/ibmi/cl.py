"""A CL command parser: the command analyser of the simulated IBM i.

    [LIB/]COMMAND  positional-values...  KEYWORD(value ...) ...

- names are case-insensitive (unquoted words are upper-cased); quoted strings keep their case
  and use doubled quotes ('It''s');
- a keyword is a word directly followed by '(' ; values may be lists and nested lists
  (OMITOBJ((*ALL *JRN) (*ALL *JRNRCV))); qualified names LIB/OBJ; special values *XXX;
- positional values come first, in the order each command declares;
- comments /* ... */ are ignored.

Each command declares its parameters (`Param`): keyword, kind, allowed special values, required,
default, and how many leading parameters may be given positionally. `analyse()` returns the
converted arguments or raises ClEscape with the diagnostics (CPD....) followed by CPF0006.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .messages import Msg, command_error, msg

NAME = re.compile(r"[A-Z$#@][A-Z0-9$#@_.]{0,9}")
GENERIC = re.compile(r"[A-Z$#@][A-Z0-9$#@_.]{0,8}\*")
VARIABLE = re.compile(r"&[A-Z$#@][A-Z0-9$#@_]{0,9}", re.IGNORECASE)


class Word(str):
    """An unquoted token (upper-cased)."""


class Quoted(str):
    """The content of a quoted string (case kept, doubled quotes undone)."""


@dataclass
class Group:
    """A parenthesised list; PREFIX is the keyword when a word directly precedes '('."""

    prefix: Optional[str]
    items: List["Node"]
    raw: str


Node = Union[Word, Quoted, Group]


@dataclass(frozen=True)
class QualName:
    """LIB/OBJ (LIB defaults to *LIBL)."""

    lib: str
    obj: str

    def __str__(self) -> str:
        return f"{self.lib}/{self.obj}"


@dataclass
class Parsed:
    name: str
    library: Optional[str]
    params: List[Tuple[Optional[str], List[Node], str]]   # (keyword or None, value items, raw text)
    text: str


# ---------------------------------------------------------------- tokenizer


def parse(text: str) -> Parsed:
    """Split a command string into its name and raw parameters (no knowledge of the command)."""
    items, pos = _scan(text, 0, 0)
    if not items:
        raise command_error(msg("CPD0030", cmd="*N", lib="*LIBL"))
    head = items[0]
    if not isinstance(head, Word) or isinstance(head, Quoted):
        raise command_error(msg("CPD0030", cmd=str(head), lib="*LIBL"))
    library, _, name = head.rpartition("/")
    params: List[Tuple[Optional[str], List[Node], str]] = []
    for node in items[1:]:
        if isinstance(node, Group) and node.prefix is not None:
            params.append((node.prefix, node.items, node.raw))
        elif isinstance(node, Group):
            params.append((None, node.items, node.raw))
        else:
            params.append((None, [node], node if isinstance(node, Word) else _requote(node)))
    return Parsed(name, library or None, params, text.strip())


def _requote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _scan(text: str, pos: int, depth: int) -> Tuple[List[Node], int]:
    items: List[Node] = []
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch.isspace():
            pos += 1
        elif text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            pos = n if end < 0 else end + 2
        elif ch == "'":
            value, pos = _quoted(text, pos)
            items.append(Quoted(value))
        elif ch == "(":
            start = pos
            inner, pos = _scan(text, pos + 1, depth + 1)
            items.append(Group(None, inner, text[start + 1:pos - 1]))
        elif ch == ")":
            if depth == 0:
                raise command_error(msg("CPD0013"))
            return items, pos + 1
        else:
            start = pos
            while pos < n and not text[pos].isspace() and text[pos] not in "()'":
                pos += 1
            word = Word(text[start:pos].upper())
            if pos < n and text[pos] == "(":
                inner, end = _scan(text, pos + 1, depth + 1)
                items.append(Group(word, inner, text[pos + 1:end - 1]))
                pos = end
            else:
                items.append(word)
    if depth > 0:
        raise command_error(msg("CPD0013"))
    return items, pos


def _quoted(text: str, pos: int) -> Tuple[str, int]:
    out = []
    pos += 1
    while pos < len(text):
        ch = text[pos]
        if ch == "'":
            if pos + 1 < len(text) and text[pos + 1] == "'":
                out.append("'")
                pos += 2
                continue
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    raise command_error(msg("CPD0014"))


# ---------------------------------------------------------------- parameter declarations


@dataclass(frozen=True)
class Param:
    """One parameter of a command.

    kind: name | generic | qual | str | int | special | addr | path | var | cmd | expr |
          list (of ITEM kind, at most MAX_ITEMS) | elems (the tokens of one value, e.g. RESTART(*YES *IPLA))
          | any (the nodes as parsed)
    """

    keyword: str
    kind: str = "name"
    specials: Tuple[str, ...] = ()
    required: bool = False
    default: Any = None
    max_len: int = 10
    low: int = -(10 ** 15)
    high: int = 10 ** 15
    item: str = "name"
    max_items: int = 1             # list kinds: how many values; var: 1 or a list of variables


@dataclass(frozen=True)
class CommandDef:
    name: str
    params: Tuple[Param, ...]
    handler: Callable[..., Any]
    positional: int = 0
    library: str = "QSYS"
    where: str = "any"            # any | program (only in CL programs) | interactive-or-program
    product: Optional[str] = None  # brms | ajs: the command exists only when installed
    db_change: bool = False       # changes database objects: waits while the ASP is suspended

    def param(self, keyword: str) -> Optional[Param]:
        for p in self.params:
            if p.keyword == keyword:
                return p
        return None


COMMANDS: Dict[str, CommandDef] = {}


def command(name: str, *params: Param, positional: int = 0, library: str = "QSYS", where: str = "any",
            product: Optional[str] = None, db_change: bool = False) -> Callable:
    """Decorator: register a command implementation with its parameters."""

    def register(fn: Callable) -> Callable:
        COMMANDS[name] = CommandDef(name, tuple(params), fn, positional, library, where, product, db_change)
        return fn

    return register


@dataclass
class Analysed:
    definition: CommandDef
    args: Dict[str, Any]
    text: str
    given: Tuple[str, ...] = field(default_factory=tuple)   # keywords actually specified

    @property
    def name(self) -> str:
        return self.definition.name


# ---------------------------------------------------------------- analysis


def analyse(text: str, variables: Optional[Dict[str, Any]] = None,
            available: Callable[[CommandDef], bool] = lambda d: True, check_values: bool = True,
            expression: Optional[Callable[[str], str]] = None) -> Analysed:
    """Parse TEXT and check it against the command's declaration; convert every value.

    VARIABLES (name with '&' -> value) are substituted as a CL program does at run time, and
    EXPRESSION evaluates a parameter written as an expression (MSG('n=' *CAT %CHAR(&N))).
    CHECK_VALUES=False (compiling a CL program) leaves values that use variables unconverted.
    """
    parsed = parse(text)
    definition = COMMANDS.get(parsed.name)
    if definition is None or not available(definition) or \
            (parsed.library not in (None, "*LIBL", "*SYSTEM", "QSYS", definition.library)):
        raise command_error(msg("CPD0030", cmd=parsed.name, lib=parsed.library or "*LIBL"))
    diagnostics: List[Msg] = []
    values: Dict[str, Tuple[List[Node], str]] = {}
    seen_keyword = False
    position = 0
    for keyword, items, raw in parsed.params:
        if keyword is None:
            if seen_keyword:
                diagnostics.append(msg("CPD0072", value=raw))
                continue
            if position >= definition.positional:
                diagnostics.append(msg("CPD0074"))
                continue
            keyword = definition.params[position].keyword
            position += 1
        else:
            seen_keyword = True
            if definition.param(keyword) is None:
                diagnostics.append(msg("CPD0043", kw=keyword))
                continue
        if keyword in values:
            diagnostics.append(msg("CPD0040", kw=keyword))
            continue
        values[keyword] = (items, raw)
    args: Dict[str, Any] = {}
    for param in definition.params:
        if param.keyword not in values:
            if param.required:
                diagnostics.append(msg("CPD0071", kw=param.keyword))
            args[param.keyword] = param.default
            continue
        items, raw = values[param.keyword]
        if not check_values and ("&" in raw or is_expression(items)) and param.kind not in ("var", "expr", "cmd"):
            args[param.keyword] = None
            continue
        try:
            if expression is not None and param.kind not in ("var", "expr", "cmd", "any", "list", "elems") \
                    and is_expression(items):
                items = [Quoted(expression(raw))]
            args[param.keyword] = convert(param, items, raw, variables)
        except _Bad as bad:
            diagnostics.append(bad.message)
    if diagnostics:
        raise command_error(*diagnostics)
    return Analysed(definition, args, parsed.text, tuple(values))


class _Bad(Exception):
    def __init__(self, message: Msg):
        self.message = message


def _bad(msg_id: str, **fields: Any) -> _Bad:
    return _Bad(msg(msg_id, **fields))


OPERATORS = ("*CAT", "*BCAT", "*TCAT", "||", "|>", "|<", "+", "-", "*", "/")


def is_expression(items: Sequence[Node]) -> bool:
    """A parameter value written as a CL expression (operators, or a %built-in)."""
    return any(isinstance(n, Word) and n in OPERATORS for n in items) and len(items) > 1 or \
        any(isinstance(n, Group) and (n.prefix or "").startswith("%") for n in items)


def substitute(items: Sequence[Node], variables: Optional[Dict[str, Any]]) -> List[Node]:
    """Replace &VAR in the words of ITEMS: a whole-word variable becomes a quoted value."""
    if not variables:
        return list(items)
    out: List[Node] = []
    for node in items:
        if isinstance(node, Group):
            out.append(Group(node.prefix, substitute(node.items, variables), substitute_raw(node.raw, variables)))
        elif isinstance(node, Quoted):
            out.append(node)
        elif VARIABLE.fullmatch(node):
            out.append(Quoted(_var_text(variables, node).rstrip()))
        elif "&" in node:
            out.append(Word(VARIABLE.sub(lambda m: _var_text(variables, m.group(0)).strip().upper(), node)))
        else:
            out.append(node)
    return out


def substitute_raw(raw: str, variables: Optional[Dict[str, Any]]) -> str:
    """Variables in the raw text of a nested command (SBMJOB CMD(...)), outside quotes."""
    if not variables or "&" not in raw:
        return raw
    pieces = re.split(r"('(?:[^']|'')*')", raw)
    for i in range(0, len(pieces), 2):
        pieces[i] = re.sub(r"(?<![A-Z0-9$#@_/])(&[A-Z$#@][A-Z0-9$#@_]*)(?![A-Z0-9$#@_/])",
                           lambda m: _requote(_var_text(variables, m.group(1)).rstrip()), pieces[i],
                           flags=re.IGNORECASE)
        pieces[i] = VARIABLE.sub(lambda m: _var_text(variables, m.group(0)).strip().upper(), pieces[i])
    return "".join(pieces)


def _var_text(variables: Dict[str, Any], name: str) -> str:
    key = name.upper()
    if key not in variables:
        raise _Bad(msg("CPF0812", var=key, pgm="*N"))
    return str(variables[key])


def convert(param: Param, items: Sequence[Node], raw: str, variables: Optional[Dict[str, Any]] = None) -> Any:
    kind = param.kind
    if kind in ("expr", "var"):
        return raw.strip() if kind == "expr" else _variable(param, items)
    if kind == "cmd":
        return substitute_raw(raw, variables).strip()
    items = substitute(items, variables)
    if kind == "any":
        return list(items)
    if kind == "list":
        flat = items
        if len(flat) > param.max_items:
            raise _bad("CPD0085", kw=param.keyword)
        if not flat:
            raise _bad("CPD0071", kw=param.keyword)
        return [_single(param, param.item, node) for node in flat]
    if kind == "elems":
        return tuple(_elems(param, items))
    if len(items) != 1:
        raise _bad("CPD0085" if items else "CPD0071", kw=param.keyword)
    return _single(param, kind, items[0])


def _elems(param: Param, items: Sequence[Node]) -> List[Any]:
    out: List[Any] = []
    for node in items:
        if isinstance(node, Group):
            out.append(tuple(_elems(param, node.items)))
        else:
            out.append(str(node))
    return out


def _variable(param: Param, items: Sequence[Node]) -> Any:
    names = []
    for node in items:
        if isinstance(node, Group) or isinstance(node, Quoted) or not VARIABLE.fullmatch(node):
            raise _bad("CPD0012", value=str(node), kw=param.keyword)
        names.append(node.upper())
    if param.max_items > 1:
        return names
    if len(names) != 1:
        raise _bad("CPD0085", kw=param.keyword)
    return names[0]


def _single(param: Param, kind: str, node: Node) -> Any:
    if isinstance(node, Group):
        if kind in ("elems", "any"):
            return tuple(_elems(param, node.items))
        if len(node.items) == 1:
            return _single(param, kind, node.items[0])
        raise _bad("CPD0085", kw=param.keyword)
    text = str(node)
    # *LIBL/PGM is a qualified name whose library is a special value, not a special value itself
    if not isinstance(node, Quoted) and text.startswith("*") and not (kind == "qual" and "/" in text):
        if text in param.specials:
            return text
        if kind != "str" or param.specials:
            raise _bad("CPD0084", value=text, kw=param.keyword)
    if kind == "special":
        raise _bad("CPD0084", value=text, kw=param.keyword)
    if kind == "name":
        return _name(param, text)
    if kind == "generic":
        if GENERIC.fullmatch(text):
            return text
        return _name(param, text)
    if kind == "qual":
        lib, _, obj = text.rpartition("/")
        if lib and lib not in ("*LIBL", "*CURLIB", "*USRLIBL", "*ALL", "*ALLUSR"):
            _name(param, lib)
        return QualName(lib or "*LIBL", _name(param, obj) if obj not in param.specials else obj)
    if kind == "int":
        try:
            number = int(text)
        except ValueError:
            raise _bad("CPD0075", value=text, kw=param.keyword) from None
        if not param.low <= number <= param.high:
            raise _bad("CPD0086", value=text, kw=param.keyword, low=param.low, high=param.high)
        return number
    if kind == "addr":
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise _bad("CPD0012", value=text, kw=param.keyword) from None
    if kind in ("str", "path"):
        if len(text) > param.max_len:
            raise _bad("CPD0076", value=text, kw=param.keyword, max=param.max_len)
        if kind == "path" and not text.startswith("/"):
            raise _bad("CPD0012", value=text, kw=param.keyword)
        return text
    raise ValueError(f"unknown parameter kind {kind!r}")


def _name(param: Param, text: str) -> str:
    if not NAME.fullmatch(text):
        raise _bad("CPD0078", value=text, kw=param.keyword)
    return text


def split_qualified(text: str, default_lib: str = "*LIBL") -> QualName:
    """'LIB/OBJ' or 'OBJ' -> QualName (used for values kept as text, e.g. system values)."""
    lib, _, obj = text.strip().upper().rpartition("/")
    return QualName(lib or default_lib, obj)

