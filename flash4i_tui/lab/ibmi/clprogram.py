"""CL programs: compiled from source (CRTBNDCL SRCSTMF) and interpreted statement by statement.

Supported: PGM PARM(...), DCL (*CHAR *DEC *INT *UINT *LGL), CHGVAR, IF COND() THEN() / ELSE,
DO / DOWHILE / ENDDO, GOTO CMDLBL(), labels, MONMSG MSGID() EXEC() (after a command, or at
program level before the first command), RETURN, ENDPGM, and every CL command of the lab
(QSH, CALL, SBMJOB, RTVDTAARA RTNVAR(&V), SNDPGMMSG ...). Expressions: *EQ *NE *GT *LT *GE *LE
(= <> > < >= <=), *AND *OR *NOT, *CAT *BCAT *TCAT (|| |> |<), + - * /, %SST %TRIM %TRIML %TRIMR
%LEN %UPPER %CHAR %DEC %INT. Continuations '+' and '-', comments /* */.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import cl
from .cl import Param, command
from .messages import ClEscape, escape, msg

# ---------------------------------------------------------------- control statements (analysed like commands)


def _only_in_programs(ctx: Any, args: Dict[str, Any]) -> None:  # the interpreter runs these itself
    raise ValueError("control statements are interpreted by clprogram")


for _name, _params, _positional in (
        ("PGM", (Param("PARM", "var", max_items=255),), 1),
        ("ENDPGM", (), 0),
        ("DCL", (Param("VAR", "var", required=True),
                 Param("TYPE", "special", ("*CHAR", "*DEC", "*INT", "*UINT", "*LGL"), required=True),
                 Param("LEN", "elems"), Param("VALUE", "expr")), 4),
        ("DCLPRCOPT", (Param("DFTACTGRP", "elems"), Param("ACTGRP", "elems"), Param("LOG", "elems")), 0),
        ("CHGVAR", (Param("VAR", "var", required=True), Param("VALUE", "expr", required=True)), 2),
        ("IF", (Param("COND", "expr", required=True), Param("THEN", "cmd")), 2),
        ("ELSE", (Param("CMD", "cmd"),), 1),
        ("DO", (), 0),
        ("DOWHILE", (Param("COND", "expr", required=True),), 1),
        ("ENDDO", (), 0),
        ("GOTO", (Param("CMDLBL", "name", required=True),), 1),
        ("MONMSG", (Param("MSGID", "list", item="name", max_items=100, required=True),
                    Param("CMPDTA", "str", ("*NONE",), default="*NONE", max_len=132), Param("EXEC", "cmd")), 3),
        ("RETURN", (), 0),
):
    command(_name, *_params, positional=_positional, where="program")(_only_in_programs)

LABEL = re.compile(r"\s*([A-Z$#@][A-Z0-9$#@_]{0,9})\s*:\s*(.*)$", re.IGNORECASE | re.DOTALL)


class CompileError(Exception):
    def __init__(self, line: int, reason: str):
        self.line, self.reason = line, reason
        super().__init__(f"statement {line}: {reason}")


@dataclass
class Monitor:
    msgids: List[str]
    exec_text: str = ""
    block: Optional[int] = None      # EXEC(DO): where its block starts (it ends with an 'endmon')

    def matches(self, msg_id: str) -> bool:
        for pattern in self.msgids:
            if pattern == msg_id:
                return True
            if pattern.endswith("0000") and msg_id.startswith(pattern[:3]):
                return True
            if pattern.endswith("00") and msg_id.startswith(pattern[:5]):
                return True
        return False


@dataclass
class Instr:
    op: str                   # cmd | jf (jump if false) | jmp | goto | end | endmon
    text: str = ""            # command, condition, or label
    target: int = -1
    line: int = 0
    monitors: List[Monitor] = field(default_factory=list)


@dataclass
class Decl:
    name: str
    type: str
    length: int = 32
    scale: int = 0
    initial: str = ""


@dataclass
class Program:
    name: str
    code: List[Instr]
    labels: Dict[str, int]
    decls: Dict[str, Decl]
    parms: List[str]
    monitors: List[Monitor]


# ---------------------------------------------------------------- compiling


def statements(source: str) -> List[Tuple[int, str]]:
    """(line number, statement text): comments removed, continuation lines joined."""
    clean = _without_comments(source)
    result: List[Tuple[int, str]] = []
    buffer, start = "", 0
    for number, line in enumerate(clean.splitlines(), start=1):
        text = line.rstrip()
        if not buffer:
            start = number
        if text.endswith("+"):
            buffer += text[:-1]
            continue
        if text.endswith("-") and not text.endswith("--"):
            buffer += text[:-1]
            continue
        buffer += text.lstrip() if buffer else text
        if buffer.strip():
            result.append((start, buffer.strip()))
        buffer = ""
    if buffer.strip():
        result.append((start, buffer.strip()))
    return result


def _without_comments(source: str) -> str:
    out, i, quoted = [], 0, False
    while i < len(source):
        ch = source[i]
        if ch == "'":
            quoted = not quoted
        if not quoted and source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = len(source) if end < 0 else end + 2
            out.append("".join(c if c == "\n" else " " for c in source[i:end]))
            i = end
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_CACHE: Dict[str, Program] = {}


def compile_program(source: str, name: str = "*N") -> Program:
    """Check and translate SOURCE; raises CompileError with the statement number."""
    digest = hashlib.sha256(source.encode()).hexdigest() + name
    if digest in _CACHE:
        return _CACHE[digest]
    builder = _Builder(name)
    for line, text in statements(source):
        builder.statement(line, text)
    program = builder.finish()
    _CACHE[digest] = program
    return program


class _Builder:
    def __init__(self, name: str):
        self.program = Program(name, [], {}, {}, [], [])
        self.blocks: List[Tuple[str, int, int]] = []    # (kind, jump to patch, loop start / monitored command)
        self.after_if: Optional[int] = None              # the JMP an ELSE may patch
        self.last_command: Optional[int] = None          # the command MONMSGs attach to
        self.started = self.ended = False
        self.seen_command = False
        self.line = 0

    def statement(self, line: int, text: str) -> None:
        self.line = line
        match = LABEL.match(text)
        if match:
            self.program.labels[match.group(1).upper()] = len(self.program.code)
            text = match.group(2).strip()
            if not text:
                return
        if self.ended:
            raise CompileError(line, "statement after ENDPGM")
        analysed = self.analyse(text)
        name, args = analysed.name, analysed.args
        if not self.started and name != "PGM":
            raise CompileError(line, "the first statement must be PGM")
        handler = getattr(self, "st_" + name, None)
        if name != "MONMSG":
            self.last_command = None
        if handler is not None:
            handler(args, text)
            return
        self.after_if = None
        self.seen_command = True
        self.last_command = self.emit("cmd", text)

    def analyse(self, text: str) -> cl.Analysed:
        try:
            return cl.analyse(text, None, check_values=False)
        except ClEscape as exc:
            reason = "; ".join(m.line() for m in exc.diagnostics) or exc.escape.line()
            raise CompileError(self.line, reason) from None

    def emit(self, op: str, text: str = "", target: int = -1) -> int:
        self.program.code.append(Instr(op, text, target, self.line))
        return len(self.program.code) - 1

    # ---- statements with a meaning at compile time

    def st_PGM(self, args: Dict[str, Any], text: str) -> None:
        if self.started:
            raise CompileError(self.line, "PGM appears twice")
        self.started = True
        self.program.parms = list(args["PARM"] or [])

    def st_ENDPGM(self, args: Dict[str, Any], text: str) -> None:
        self.ended = True
        self.emit("end")

    def st_DCL(self, args: Dict[str, Any], text: str) -> None:
        length = args["LEN"] or ()
        kind = args["TYPE"]
        default_len = {"*CHAR": 32, "*DEC": 15, "*INT": 4, "*UINT": 4, "*LGL": 1}[kind]
        size = int(length[0]) if length else default_len
        scale = int(length[1]) if len(length) > 1 else (5 if kind == "*DEC" and not length else 0)
        self.program.decls[args["VAR"]] = Decl(args["VAR"], kind, size, scale, args["VALUE"] or "")

    def st_DCLPRCOPT(self, args: Dict[str, Any], text: str) -> None:
        return

    def st_MONMSG(self, args: Dict[str, Any], text: str) -> None:
        monitor = Monitor([str(m) for m in args["MSGID"]], (args["EXEC"] or "").strip())
        monitored = self.last_command
        if not self.seen_command:
            self.program.monitors.append(monitor)
        elif monitored is not None:
            self.program.code[monitored].monitors.append(monitor)
        else:
            raise CompileError(self.line, "MONMSG does not follow a command")
        if monitor.exec_text.upper() == "DO":
            monitor.exec_text = ""
            skip = self.emit("jmp")
            monitor.block = len(self.program.code)
            self.blocks.append(("monitor", skip, -1 if monitored is None else monitored))

    def st_IF(self, args: Dict[str, Any], text: str) -> None:
        self.seen_command = True
        jump = self.emit("jf", args["COND"])
        then = (args["THEN"] or "").strip()
        if then.upper() == "DO":
            self.blocks.append(("then", jump, 0))
            self.after_if = None
            return
        if then:
            self.statement_inside(then)
        self.close_then(jump)

    def close_then(self, jump: int) -> None:
        skip = self.emit("jmp", target=len(self.program.code) + 1)
        self.program.code[jump].target = skip + 1
        self.after_if = skip

    def st_ELSE(self, args: Dict[str, Any], text: str) -> None:
        if self.after_if is None:
            raise CompileError(self.line, "ELSE does not follow IF")
        skip, self.after_if = self.after_if, None
        body = (args["CMD"] or "").strip()
        if body.upper() == "DO":
            self.blocks.append(("else", skip, 0))
            return
        if body:
            self.statement_inside(body)
        self.program.code[skip].target = len(self.program.code)

    def st_DO(self, args: Dict[str, Any], text: str) -> None:
        self.blocks.append(("do", -1, 0))
        self.after_if = None

    def st_DOWHILE(self, args: Dict[str, Any], text: str) -> None:
        start = len(self.program.code)
        jump = self.emit("jf", args["COND"])
        self.blocks.append(("while", jump, start))
        self.after_if = None

    def st_ENDDO(self, args: Dict[str, Any], text: str) -> None:
        if not self.blocks:
            raise CompileError(self.line, "ENDDO without DO")
        kind, jump, start = self.blocks.pop()
        self.after_if = None
        if kind == "then":
            self.close_then(jump)
        elif kind == "else":
            self.program.code[jump].target = len(self.program.code)
        elif kind == "while":
            self.emit("jmp", target=start)
            self.program.code[jump].target = len(self.program.code)
        elif kind == "monitor":
            self.emit("endmon")
            self.program.code[jump].target = len(self.program.code)
            self.last_command = None if start < 0 else start

    def st_GOTO(self, args: Dict[str, Any], text: str) -> None:
        self.seen_command = True
        self.after_if = None
        self.emit("goto", args["CMDLBL"])

    def statement_inside(self, text: str) -> None:
        """The command of THEN(...) / CMD(...): may itself be a control statement."""
        saved = self.after_if
        self.statement(self.line, text)
        self.after_if = saved

    def finish(self) -> Program:
        if not self.started:
            raise CompileError(self.line, "no PGM statement")
        if self.blocks:
            raise CompileError(self.line, "DO without ENDDO")
        for instr in self.program.code:
            if instr.op == "goto" and instr.text not in self.program.labels:
                raise CompileError(instr.line, f"label {instr.text} not defined")
        return self.program


# ---------------------------------------------------------------- running


class _Return(Exception):
    """RETURN / ENDPGM."""


class _Goto(Exception):
    def __init__(self, label: str):
        self.label = label


def run_program(rt: Any, job: Any, library: str, obj: Any, parms: Sequence[str]) -> None:
    """CALL of a CL program object (its source is interpreted)."""
    try:
        program = compile_program(obj.source, f"{library}/{obj.name}")
    except CompileError as exc:
        raise escape("CPF0001", (msg("LAB0001", what=f"program {obj.name} ({exc})"),), cmd="CALL") from None
    Interpreter(rt, job, program).run(parms)


class Interpreter:
    def __init__(self, rt: Any, job: Any, program: Program):
        self.rt, self.job, self.program = rt, job, program
        self.values: Dict[str, Any] = {}
        for decl in program.decls.values():
            self.values[decl.name] = self.coerce(decl, evaluate(decl.initial, {}) if decl.initial else None)

    # ---- variables

    def coerce(self, decl: Decl, value: Any) -> Any:
        try:
            if decl.type == "*CHAR":
                text = "" if value is None else _text(value)
                return text[:decl.length].ljust(decl.length)
            if decl.type == "*LGL":
                return "1" if _truth(value) else "0"
            number = Decimal(0) if value is None or (isinstance(value, str) and not value.strip()) else \
                Decimal(str(value).strip())
            if decl.type in ("*INT", "*UINT"):
                return int(number)
            return number.quantize(Decimal(1).scaleb(-decl.scale)) if decl.scale else Decimal(int(number))
        except (InvalidOperation, ValueError):
            raise escape("CPF0818", value=str(value), var=decl.name) from None

    def assign(self, name: str, value: Any) -> None:
        decl = self.program.decls.get(name)
        if decl is None:
            raise escape("CPF0812", var=name, pgm=self.program.name)
        self.values[name] = self.coerce(decl, value)

    def expression(self, text: str) -> str:
        """A command parameter written as an expression, as the text the command receives."""
        return _text(evaluate(text, self.values))

    def substitutions(self) -> Dict[str, str]:
        return {name: _text(value) for name, value in self.values.items()}

    # ---- the loop

    def run(self, parms: Sequence[str]) -> None:
        for name, value in zip(self.program.parms, parms):
            self.assign(name, value)
        try:
            self.loop(0, nested=False)
        except _Return:
            return

    def loop(self, pc: int, nested: bool) -> None:
        """Run from PC; NESTED is a MONMSG EXEC(DO) block (it returns at its end, GOTO leaves it)."""
        code = self.program.code
        while pc < len(code):
            self.rt.check(self.job)
            instr = code[pc]
            pc += 1
            if instr.op == "jf":
                if not _truth(evaluate(instr.text, self.values)):
                    pc = instr.target
            elif instr.op == "jmp":
                pc = instr.target
            elif instr.op == "end":
                raise _Return()
            elif instr.op == "endmon":
                return
            else:
                try:
                    if instr.op == "goto":
                        raise _Goto(instr.text)
                    self.execute(instr)
                except _Goto as goto:
                    if nested:
                        raise
                    pc = self.program.labels[goto.label]

    def execute(self, instr: Instr) -> None:
        try:
            self.statement(instr.text)
        except ProgramEscape:
            raise
        except ClEscape as exc:
            for monitor in instr.monitors + self.program.monitors:
                if not monitor.matches(exc.msg_id):
                    continue
                if monitor.block is not None:
                    self.loop(monitor.block, nested=True)
                elif monitor.exec_text:
                    self.unmonitored(monitor.exec_text, instr.line)
                return
            raise self.function_check(exc, instr.line) from None

    def unmonitored(self, text: str, line: int) -> None:
        try:
            self.statement(text)
        except ProgramEscape:
            raise
        except ClEscape as exc:
            raise self.function_check(exc, line) from None

    def function_check(self, exc: ClEscape, line: int) -> ClEscape:
        return escape("CPF9999", (exc.escape,), msg=exc.msg_id, pgm=self.program.name, stmt=line)

    def statement(self, text: str) -> None:
        head = text.split(None, 1)[0].upper() if text.strip() else ""
        if head in ("CHGVAR", "RETURN", "GOTO", "ENDPGM"):
            analysed = cl.analyse(text, None, check_values=False)
            if head == "CHGVAR":
                self.assign(analysed.args["VAR"], evaluate(analysed.args["VALUE"], self.values))
            elif head == "GOTO":
                raise _Goto(analysed.args["CMDLBL"])
            else:
                raise _Return()
            return
        result = self.rt.run_command(self.job, text, self.substitutions(), program=self)
        if result.returns:
            analysed = cl.analyse(text, None, check_values=False)
            for keyword, value in result.returns.items():
                target = analysed.args.get(keyword)
                if isinstance(target, str) and target.startswith("&"):
                    self.assign(target, value)



class ProgramEscape(ClEscape):
    """SNDPGMMSG MSGTYPE(*ESCAPE): the program ends and its caller receives the message
    (the program's own MONMSGs do not see it)."""


# ---------------------------------------------------------------- expressions


_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<num>\d+(?:\.\d+)?|\.\d+)
  | (?P<var>&[A-Z$#@][A-Z0-9$#@_]*)
  | (?P<bif>%[A-Z]+)
  | (?P<op>\*(?:EQ|NE|GT|LT|GE|LE|NG|NL|AND|OR|NOT|CAT|BCAT|TCAT)\b|>=|<=|<>|\u00ac=|\|\||\|>|\|<|[=<>+\-*/()])
  | (?P<special>\*[A-Z]+)
)""", re.IGNORECASE | re.VERBOSE)

_RELATIONAL = {"*EQ": "=", "*NE": "<>", "*GT": ">", "*LT": "<", "*GE": ">=", "*LE": "<=", "*NG": "<=",
               "*NL": ">=", "\u00ac=": "<>"}
_CONCAT = {"*CAT": "||", "*BCAT": "|>", "*TCAT": "|<"}


def _tokens(text: str) -> List[Tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise escape("CPF0818", value=text, var="*EXPR")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "op":
            value = value.upper()
            value = _RELATIONAL.get(value, _CONCAT.get(value, value))
        elif kind in ("var", "bif", "special"):
            value = value.upper()
        out.append((kind, value))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def evaluate(text: str, values: Dict[str, Any]) -> Any:
    """The value of a CL expression (strings, Decimals, logical '1'/'0')."""
    parser = _Expr(_tokens(text), values)
    value = parser.disjunction()
    if parser.pos != len(parser.tokens):
        raise escape("CPF0818", value=text, var="*EXPR")
    return value


class _Expr:
    def __init__(self, tokens: List[Tuple[str, str]], values: Dict[str, Any]):
        self.tokens, self.values, self.pos = tokens, values, 0

    def peek(self) -> Optional[str]:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "op" else None

    def take(self) -> Tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise escape("CPF0818", value="(end)", var="*EXPR")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def disjunction(self) -> Any:
        value = self.conjunction()
        while self.peek() == "*OR":
            self.pos += 1
            right = self.conjunction()
            value = "1" if _truth(value) or _truth(right) else "0"
        return value

    def conjunction(self) -> Any:
        value = self.negation()
        while self.peek() == "*AND":
            self.pos += 1
            right = self.negation()
            value = "1" if _truth(value) and _truth(right) else "0"
        return value

    def negation(self) -> Any:
        if self.peek() == "*NOT":
            self.pos += 1
            return "0" if _truth(self.negation()) else "1"
        return self.relation()

    def relation(self) -> Any:
        left = self.concatenation()
        op = self.peek()
        if op in ("=", "<>", ">", "<", ">=", "<="):
            self.pos += 1
            return "1" if _compare(left, self.concatenation(), op) else "0"
        return left

    def concatenation(self) -> Any:
        value = self.additive()
        while self.peek() in ("||", "|>", "|<"):
            op = self.take()[1]
            right = _text(self.additive())
            left = _text(value)
            value = left + right if op == "||" else (left.rstrip() + " " + right if op == "|>" else left.rstrip() + right)
        return value

    def additive(self) -> Any:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            right = _number(self.term())
            value = _number(value) + right if op == "+" else _number(value) - right
        return value

    def term(self) -> Any:
        value = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            right = _number(self.unary())
            value = _number(value) * right if op == "*" else _number(value) / right
        return value

    def unary(self) -> Any:
        if self.peek() in ("-", "+"):
            op = self.take()[1]
            value = _number(self.unary())
            return -value if op == "-" else value
        return self.primary()

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "num":
            return Decimal(value)
        if kind == "var":
            if value not in self.values:
                raise escape("CPF0812", var=value, pgm="*N")
            return self.values[value]
        if kind == "special":
            return {"*BLANKS": " ", "*BLANK": " ", "*ON": "1", "*OFF": "0", "*YES": "1", "*NO": "0"}.get(value, value)
        if kind == "bif":
            return self.builtin(value)
        if value == "(":
            inner = self.disjunction()
            if self.take()[1] != ")":
                raise escape("CPF0818", value=")", var="*EXPR")
            return inner
        raise escape("CPF0818", value=value, var="*EXPR")

    def builtin(self, name: str) -> Any:
        if self.take()[1] != "(":
            raise escape("CPF0818", value=name, var="*EXPR")
        args = []
        while self.peek() != ")":
            args.append(self.concatenation())
        self.pos += 1
        text = _text(args[0]) if args else ""
        if name in ("%SST", "%SUBSTRING"):
            start, length = int(_number(args[1])), int(_number(args[2]))
            return text[start - 1:start - 1 + length]
        if name == "%TRIM":
            return text.strip(_text(args[1]) if len(args) > 1 else " ")
        if name == "%TRIML":
            return text.lstrip(_text(args[1]) if len(args) > 1 else " ")
        if name == "%TRIMR":
            return text.rstrip(_text(args[1]) if len(args) > 1 else " ")
        if name == "%LEN":
            return Decimal(len(text))
        if name == "%UPPER":
            return text.upper()
        if name == "%CHAR":
            return _text(args[0])
        if name in ("%DEC", "%INT"):
            number = _number(args[0])
            return Decimal(int(number)) if name == "%INT" else number
        raise escape("CPF0818", value=name, var="*EXPR")


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _number(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise escape("CPF0818", value=str(value), var="*EXPR") from None


def _truth(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        return value != 0
    return str(value).strip() == "1"


def _compare(left: Any, right: Any, op: str) -> bool:
    if isinstance(left, (Decimal, int)) and isinstance(right, (Decimal, int)):
        a, b = left, right
    elif isinstance(left, (Decimal, int)) or isinstance(right, (Decimal, int)):
        a, b = _number(left), _number(right)
    else:
        width = max(len(str(left)), len(str(right)))
        a, b = str(left).ljust(width), str(right).ljust(width)
    return {"=": a == b, "<>": a != b, ">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]
