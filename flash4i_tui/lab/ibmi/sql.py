"""SQL services of the simulated IBM i, as `db2util` reaches them.

A small but real SELECT:

    SELECT [DISTINCT] * | expr [[AS] name], ...
      FROM SCHEMA.VIEW [[AS] alias] | TABLE(SCHEMA.FUNCTION(arg, NAME => arg ...)) [[AS] alias]
     [WHERE predicate [AND|OR ...]]       -- = <> != < > <= >= LIKE IN (...) IS [NOT] NULL NOT ( )
     [ORDER BY expr|position [ASC|DESC], ...]
     [FETCH FIRST n ROW[S] ONLY | LIMIT n]

Literals: 'strings', numbers, ? (db2util -p values), CURRENT TIMESTAMP / CURRENT DATE with
labeled durations (CURRENT TIMESTAMP - 2 HOURS), TIMESTAMP('...'), CAST(? AS TIMESTAMP).
Also `CALL QSYS2.QCMDEXC('command')`. Everything else is an SQL error in the real format
(SQL0104/42601, SQL0204/42704, SQL0206/42703 ...), never a silent empty answer.

Objects: QSYS2.SYSTEM_STATUS_INFO, NETWORK_ATTRIBUTE_INFO, SYSTEM_VALUE_INFO, SCHEDULED_JOB_INFO,
NETSTAT_INTERFACE_INFO, JOURNAL_RECEIVER_INFO, and the table functions HISTORY_LOG_INFO, JOBLOG_INFO,
JOB_INFO, ACTIVE_JOB_INFO, OBJECT_STATISTICS; SYSIBM.SYSDUMMY1. Timestamps are the system's local time (QUTCOFFSET).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .messages import ClEscape


class SqlError(Exception):
    """An SQL error: message id, SQLSTATE, SQLCODE, text."""

    # [U] How db2util prints a failed statement (on stderr).
    FORMAT = "{msg_id}: {text} SQLSTATE={sqlstate} SQLCODE={sqlcode}"

    def __init__(self, msg_id: str, sqlstate: str, text: str):
        self.msg_id, self.sqlstate, self.text = msg_id, sqlstate, text
        self.sqlcode = -int(msg_id[3:7])
        super().__init__(self.line())

    def line(self) -> str:
        return self.FORMAT.format(msg_id=self.msg_id, sqlstate=self.sqlstate, sqlcode=self.sqlcode, text=self.text)


def syntax_error(token: str, expected: str) -> SqlError:
    return SqlError("SQL0104", "42601", f"Token {token} was not valid. Valid tokens: {expected}.")


def not_found(schema: str, name: str, kind: str = "*FILE") -> SqlError:
    return SqlError("SQL0204", "42704", f"{name} in {schema} type {kind} not found.")


# ---------------------------------------------------------------- tokens

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<qid>"(?:[^"]|"")+")
  | (?P<num>\d+(?:\.\d*)?|\.\d+)
  | (?P<op>=>|<=|>=|<>|!=|\|\||[=<>(),.*?+\-/])
  | (?P<id>[A-Za-z_$#@][A-Za-z0-9_$#@]*)
)""", re.VERBOSE)


@dataclass
class Tok:
    kind: str                 # str qid num op id end
    value: str

    def __str__(self) -> str:
        return self.value


def tokenize(text: str) -> List[Tok]:
    tokens, pos = [], 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        match = _TOKEN.match(text, pos)
        if match is None:
            raise syntax_error(text[pos:pos + 10].split()[0], "( + - ? : DAY INF NAN RID ROW RRN CASE CAST")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "id":
            value = value.upper()
        elif kind == "qid":
            kind, value = "id", value[1:-1].replace('""', '"')
        tokens.append(Tok(kind, value))
        pos = match.end()
    tokens.append(Tok("end", "<END-OF-STATEMENT>"))
    return tokens


# ---------------------------------------------------------------- expressions (a tiny tree)

UNITS = {"YEAR": 365, "YEARS": 365, "MONTH": 30, "MONTHS": 30, "DAY": 1, "DAYS": 1}
TIME_UNITS = {"HOUR": 3600, "HOURS": 3600, "MINUTE": 60, "MINUTES": 60, "SECOND": 1, "SECONDS": 1,
              "MICROSECOND": 1e-6, "MICROSECONDS": 1e-6}


@dataclass
class Expr:
    op: str                   # lit col param now today cast call dur binop
    value: Any = None
    args: Tuple["Expr", ...] = ()


@dataclass
class Pred:
    op: str                   # cmp like in null and or not true
    args: Tuple[Any, ...] = ()


@dataclass
class Query:
    items: List[Tuple[Optional[Expr], Optional[str]]]    # (expr or None for *, alias)
    source: Tuple[str, str, List[Tuple[Optional[str], Expr]]]   # (schema, name, args) args only for functions
    function: bool
    where: Optional[Pred]
    order: List[Tuple[Expr, bool]]
    limit: Optional[int]
    distinct: bool


class Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.pos = 0
        self.params = 0

    @property
    def tok(self) -> Tok:
        return self.tokens[self.pos]

    def next(self) -> Tok:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def at(self, *values: str) -> bool:
        return self.tok.kind in ("id", "op") and self.tok.value in values

    def accept(self, *values: str) -> bool:
        if self.at(*values):
            self.pos += 1
            return True
        return False

    def expect(self, value: str, expected: str = "") -> None:
        if not self.accept(value):
            raise syntax_error(str(self.tok), expected or value)

    def name(self) -> str:
        tok = self.next()
        if tok.kind != "id":
            raise syntax_error(str(tok), "<IDENTIFIER>")
        return tok.value

    # ---- statements

    def select(self) -> Query:
        self.expect("SELECT", "SELECT CALL VALUES WITH")
        distinct = self.accept("DISTINCT")
        self.accept("ALL")
        items: List[Tuple[Optional[Expr], Optional[str]]] = []
        while True:
            if self.accept("*"):
                items.append((None, None))
            else:
                expr = self.expression()
                alias = None
                if self.accept("AS") or (self.tok.kind == "id" and not self.at("FROM")):
                    alias = self.name()
                items.append((expr, alias))
            if not self.accept(","):
                break
        self.expect("FROM", ", FROM INTO")
        source, function = self.source()
        where = self.condition() if self.accept("WHERE") else None
        order: List[Tuple[Expr, bool]] = []
        if self.accept("ORDER"):
            self.expect("BY")
            while True:
                expr = self.expression()
                descending = self.accept("DESC")
                if not descending:
                    self.accept("ASC")
                order.append((expr, descending))
                if not self.accept(","):
                    break
        limit = None
        if self.accept("FETCH"):
            if not self.accept("FIRST"):
                self.expect("NEXT", "FIRST NEXT")
            limit = self.integer() if self.tok.kind == "num" else 1
            if not self.accept("ROWS"):
                self.expect("ROW", "ROW ROWS")
            self.expect("ONLY")
        elif self.accept("LIMIT"):
            limit = self.integer()
        if self.tok.kind != "end":
            raise syntax_error(str(self.tok), "FETCH ORDER WHERE <END-OF-STATEMENT>")
        return Query(items, source, function, where, order, limit, distinct)

    def integer(self) -> int:
        tok = self.next()
        if tok.kind != "num":
            raise syntax_error(str(tok), "<INTEGER>")
        return int(Decimal(tok.value))

    def source(self) -> Tuple[Tuple[str, str, List[Tuple[Optional[str], Expr]]], bool]:
        if self.accept("TABLE"):
            self.expect("(")
            schema, name = self.qualified()
            self.expect("(")
            args = self.arguments()
            self.expect(")")
            self.alias()
            return (schema, name, args), True
        schema, name = self.qualified()
        self.alias()
        return (schema, name, []), False

    def alias(self) -> None:
        if self.accept("AS") or (self.tok.kind == "id" and not self.at("WHERE", "ORDER", "FETCH", "LIMIT")):
            self.name()

    def qualified(self) -> Tuple[str, str]:
        first = self.name()
        if self.accept("."):
            return first, self.name()
        return "", first

    def arguments(self) -> List[Tuple[Optional[str], Expr]]:
        args: List[Tuple[Optional[str], Expr]] = []
        if self.accept(")"):
            return args
        while True:
            keyword = None
            if self.tok.kind == "id" and self.tokens[self.pos + 1].value == "=>":
                keyword = self.name()
                self.next()
            args.append((keyword, self.expression()))
            if self.accept(")"):
                return args
            self.expect(",", ", )")

    # ---- conditions

    def condition(self) -> Pred:
        pred = self.conjunction()
        while self.accept("OR"):
            pred = Pred("or", (pred, self.conjunction()))
        return pred

    def conjunction(self) -> Pred:
        pred = self.negation()
        while self.accept("AND"):
            pred = Pred("and", (pred, self.negation()))
        return pred

    def negation(self) -> Pred:
        if self.accept("NOT"):
            return Pred("not", (self.negation(),))
        if self.at("(") and self._parenthesised_condition():
            self.next()
            pred = self.condition()
            self.expect(")")
            return pred
        return self.predicate()

    def _parenthesised_condition(self) -> bool:
        """'(' opens a condition unless it is an expression (a sub-expression or a function call)."""
        depth, i = 0, self.pos
        while i < len(self.tokens):
            tok = self.tokens[i]
            if tok.value == "(":
                depth += 1
            elif tok.value == ")":
                depth -= 1
                if depth == 0:
                    return False
            elif depth >= 1 and tok.kind in ("id", "op") and tok.value in ("=", "<>", "!=", "<", ">", "<=", ">=",
                                                                           "LIKE", "IN", "IS", "AND", "OR"):
                return True
            i += 1
        return False

    def predicate(self) -> Pred:
        left = self.expression()
        negate = self.accept("NOT")
        if self.accept("LIKE"):
            pred = Pred("like", (left, self.expression()))
        elif self.accept("IN"):
            self.expect("(")
            values = [self.expression()]
            while self.accept(","):
                values.append(self.expression())
            self.expect(")")
            pred = Pred("in", (left, tuple(values)))
        elif self.accept("IS"):
            is_not = self.accept("NOT")
            self.expect("NULL")
            pred = Pred("null", (left,))
            negate = negate != is_not
        elif self.tok.value in ("=", "<>", "!=", "<", ">", "<=", ">=") and not negate:
            op = self.next().value
            pred = Pred("cmp", (op, left, self.expression()))
        else:
            raise syntax_error(str(self.tok), "= < > <= >= <> LIKE IN IS")
        return Pred("not", (pred,)) if negate else pred

    # ---- expressions

    def expression(self) -> Expr:
        expr = self.term()
        while self.at("+", "-", "||"):
            op = self.next().value
            right = self.term()
            if self.tok.kind == "id" and (self.tok.value in UNITS or self.tok.value in TIME_UNITS):
                right = Expr("dur", self.next().value, (right,))
            expr = Expr("binop", op, (expr, right))
        return expr

    def term(self) -> Expr:
        tok = self.next()
        if tok.kind == "str":
            return Expr("lit", tok.value[1:-1].replace("''", "'"))
        if tok.kind == "num":
            return Expr("lit", Decimal(tok.value) if "." in tok.value else int(tok.value))
        if tok.value == "?":
            self.params += 1
            return Expr("param", self.params - 1)
        if tok.value == "(":
            expr = self.expression()
            self.expect(")")
            return expr
        if tok.value == "-" and self.tok.kind == "num":
            inner = self.term()
            return Expr("lit", -inner.value)
        if tok.kind != "id":
            raise syntax_error(str(tok), "( + - ? : CASE CAST")
        if tok.value == "CURRENT":
            which = self.name()
            if which in ("TIMESTAMP", "DATE", "TIME"):
                return Expr("now", which)
            if which in ("SERVER", "USER"):
                return Expr("now", which)
            raise syntax_error(which, "DATE TIME TIMESTAMP")
        if tok.value in ("CURRENT_TIMESTAMP", "NOW"):
            if tok.value == "NOW":
                self.expect("(")
                self.expect(")")
            return Expr("now", "TIMESTAMP")
        if tok.value == "NULL":
            return Expr("lit", None)
        if tok.value == "CAST":
            self.expect("(")
            inner = self.expression()
            self.expect("AS")
            target = self.name()
            if self.accept("("):
                self.integer()
                if self.accept(","):
                    self.integer()
                self.expect(")")
            self.expect(")")
            return Expr("cast", target, (inner,))
        if self.accept("("):
            args = []
            if not self.accept(")"):
                while True:
                    args.append(Expr("lit", "*") if self.accept("*") else self.expression())
                    if self.accept(")"):
                        break
                    self.expect(",", ", )")
            return Expr("call", tok.value, tuple(args))
        if self.accept("."):
            return Expr("col", self.name())          # alias.COLUMN
        return Expr("col", tok.value)


# ---------------------------------------------------------------- evaluation


class Scope:
    """What an expression sees: the row, the parameters, the system's clock."""

    def __init__(self, params: Sequence[str], now: datetime, user: str, server: str):
        self.params, self.now, self.user, self.server = params, now, user, server
        self.row: Dict[str, Any] = {}


def parse_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip()
    for pattern in ("%Y-%m-%d-%H.%M.%S.%f", "%Y-%m-%d-%H.%M.%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S",
                    "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H.%M.%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise SqlError("SQL0181", "22007", f"Value '{text}' in date, time, or timestamp string not valid.")


def evaluate(expr: Expr, scope: Scope) -> Any:
    op = expr.op
    if op == "lit":
        return expr.value
    if op == "param":
        if expr.value >= len(scope.params):
            raise SqlError("SQL0313", "07001", "Number of host variables not valid.")
        return scope.params[expr.value]
    if op == "col":
        if expr.value not in scope.row:
            raise SqlError("SQL0206", "42703", f"Column or global variable {expr.value} not found.")
        return scope.row[expr.value]
    if op == "now":
        return {"TIMESTAMP": scope.now, "DATE": scope.now.date(), "TIME": scope.now.time().replace(microsecond=0),
                "USER": scope.user, "SERVER": scope.server}[expr.value]
    if op == "cast":
        value = evaluate(expr.args[0], scope)
        return _cast(value, expr.value)
    if op == "call":
        return _function(expr.value, [evaluate(a, scope) for a in expr.args])
    if op == "dur":
        return ("dur", expr.value, evaluate(expr.args[0], scope))
    if op == "binop":
        left, right = evaluate(expr.args[0], scope), evaluate(expr.args[1], scope)
        if expr.value == "||":
            return ("" if left is None else str(left)) + ("" if right is None else str(right))
        if isinstance(right, tuple) and right[:1] == ("dur",):
            return _add_duration(left, right, -1 if expr.value == "-" else 1)
        if left is None or right is None:
            return None
        left, right = Decimal(str(left)), Decimal(str(right))
        return left + right if expr.value == "+" else left - right
    raise ValueError(op)


def _add_duration(value: Any, duration: tuple, sign: int) -> Any:
    _, unit, amount = duration
    amount = float(amount)
    if unit in UNITS:
        delta = timedelta(days=amount * UNITS[unit])
    else:
        delta = timedelta(seconds=amount * TIME_UNITS[unit])
    if isinstance(value, datetime):
        return value + sign * delta
    if isinstance(value, date):
        return value + sign * timedelta(days=delta.days)
    return parse_timestamp(value) + sign * delta


def _cast(value: Any, target: str) -> Any:
    if value is None:
        return None
    if target == "TIMESTAMP":
        return parse_timestamp(value)
    if target == "DATE":
        return parse_timestamp(value).date()
    if target in ("INTEGER", "INT", "BIGINT", "SMALLINT"):
        return int(Decimal(str(value)))
    if target in ("DECIMAL", "DEC", "NUMERIC"):
        return Decimal(str(value))
    if target in ("CHAR", "VARCHAR", "CHARACTER"):
        return render(value)
    raise syntax_error(target, "CHAR DATE DECIMAL INTEGER TIMESTAMP VARCHAR")


def _function(name: str, args: List[Any]) -> Any:
    if name == "TIMESTAMP" and len(args) == 1:
        return parse_timestamp(args[0])
    if name == "DATE" and len(args) == 1:
        return parse_timestamp(args[0]).date()
    if name in ("UPPER", "UCASE") and len(args) == 1:
        return None if args[0] is None else str(args[0]).upper()
    if name in ("TRIM", "RTRIM", "LTRIM") and len(args) == 1:
        text = "" if args[0] is None else str(args[0])
        return {"TRIM": text.strip(), "RTRIM": text.rstrip(), "LTRIM": text.lstrip()}[name]
    if name == "COALESCE" and args:
        return next((a for a in args if a is not None), None)
    if name in ("TIMESTAMP", "DATE", "UPPER", "UCASE", "TRIM", "RTRIM", "LTRIM"):
        raise SqlError("SQL0170", "42605", f"Number of arguments for function {name} not valid.")
    raise SqlError("SQL0204", "42704", f"{name} in *LIBL type *N not found.")


def _comparable(left: Any, right: Any) -> Tuple[Any, Any]:
    if isinstance(left, datetime) or isinstance(right, datetime):
        return parse_timestamp(left), parse_timestamp(right)
    if isinstance(left, (int, Decimal)) and not isinstance(right, (int, Decimal)):
        return Decimal(str(left)), Decimal(str(right).strip() or "0")
    if isinstance(right, (int, Decimal)) and not isinstance(left, (int, Decimal)):
        return Decimal(str(left).strip() or "0"), Decimal(str(right))
    if isinstance(left, (int, Decimal)):
        return Decimal(str(left)), Decimal(str(right))
    return str(left).rstrip(), str(right).rstrip()


def test(pred: Pred, scope: Scope) -> Optional[bool]:
    """Three-valued: True, False or None (unknown)."""
    op = pred.op
    if op == "and":
        a, b = test(pred.args[0], scope), test(pred.args[1], scope)
        return False if a is False or b is False else (None if a is None or b is None else True)
    if op == "or":
        a, b = test(pred.args[0], scope), test(pred.args[1], scope)
        return True if a or b else (None if a is None or b is None else False)
    if op == "not":
        a = test(pred.args[0], scope)
        return None if a is None else not a
    if op == "null":
        return evaluate(pred.args[0], scope) is None
    if op == "like":
        value, pattern = evaluate(pred.args[0], scope), evaluate(pred.args[1], scope)
        if value is None or pattern is None:
            return None
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(pattern))
        return re.fullmatch(regex, str(value), re.DOTALL) is not None
    if op == "in":
        value = evaluate(pred.args[0], scope)
        if value is None:
            return None
        for candidate in pred.args[1]:
            other = evaluate(candidate, scope)
            if other is not None and _equal(value, other):
                return True
        return False
    if op == "cmp":
        symbol, left, right = pred.args
        a, b = evaluate(left, scope), evaluate(right, scope)
        if a is None or b is None:
            return None
        a, b = _comparable(a, b)
        return {"=": a == b, "<>": a != b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[symbol]
    raise ValueError(op)


def _equal(a: Any, b: Any) -> bool:
    a, b = _comparable(a, b)
    return a == b


def render(value: Any) -> Optional[str]:
    """A value as db2util prints it: every column a string (timestamps in IBM form [U]), NULL -> null."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d-%H.%M.%S.%f")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


# ---------------------------------------------------------------- objects


@dataclass
class Source:
    columns: Tuple[str, ...]
    rows: Callable[..., List[Dict[str, Any]]]               # (ctx, **args) -> rows
    params: Tuple[Tuple[str, Any], ...] = ()                # table function parameters (name, default)


VIEWS: Dict[Tuple[str, str], Source] = {}
FUNCTIONS: Dict[Tuple[str, str], Source] = {}


def view(schema: str, name: str, columns: Sequence[str]) -> Callable:
    def register(fn: Callable) -> Callable:
        VIEWS[(schema, name)] = Source(tuple(columns), fn)
        return fn
    return register


def table_function(schema: str, name: str, columns: Sequence[str], params: Sequence[Tuple[str, Any]]) -> Callable:
    def register(fn: Callable) -> Callable:
        FUNCTIONS[(schema, name)] = Source(tuple(columns), fn, tuple(params))
        return fn
    return register


class Context:
    """The system and the job a statement runs in."""

    def __init__(self, rt: Any, job: Any):
        self.rt, self.job, self.state = rt, job, rt.state
        offset = str(self.state.system_values.get("QUTCOFFSET", "+00:00"))
        sign = -1 if offset.startswith("-") else 1
        hours, _, minutes = offset.lstrip("+-").partition(":")
        self.offset = sign * timedelta(hours=int(hours or 0), minutes=int(minutes or 0))

    def local(self, moment: Optional[datetime]) -> Optional[datetime]:
        """An aware UTC instant as the system's local (naive) time."""
        if moment is None:
            return None
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return moment + self.offset

    def now(self) -> datetime:
        return self.local(self.rt.now())


def execute(rt: Any, job: Any, statement: str, params: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """Run STATEMENT in JOB; the rows as ordered dicts of upper-case column -> value."""
    from . import catalog  # noqa: F401  (registers the views and table functions)
    with rt.lock:
        rt.check(job)
        context = Context(rt, job)
        first = statement.strip().split(None, 1)[0].upper() if statement.strip() else ""
        if first == "CALL":
            return _call(context, statement, params)
        if first not in ("SELECT", "WITH", "VALUES"):
            if first in ("INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER"):
                raise SqlError("SQL0084", "42612", "SQL statement not allowed.")
            raise syntax_error(first or "<END-OF-STATEMENT>", "SELECT CALL VALUES WITH")
        parser = Parser(statement)
        query = parser.select()
        if parser.params != len(params):
            raise SqlError("SQL0313", "07001", "Number of host variables not valid.")
        return _run(context, query, params)


def _run(context: Context, query: Query, params: Sequence[str]) -> List[Dict[str, Any]]:
    schema, name, raw_args = query.source
    default_schema = context.job.user if context.job is not None else "QGPL"
    schema = schema or default_schema
    scope = Scope(params, context.now(), context.job.user if context.job else "QSYS", context.state.sysname)
    if query.function:
        source = FUNCTIONS.get((schema, name))
        if source is None:
            raise not_found(schema, name, "*N")
        rows = source.rows(context, **_bind(name, source, raw_args, scope))
    else:
        source = VIEWS.get((schema, name))
        if source is None:
            raise not_found(schema, name)
        rows = source.rows(context)
    if query.where is not None:
        kept = []
        for row in rows:
            scope.row = row
            if test(query.where, scope):
                kept.append(row)
        rows = kept
    for expr, descending in reversed(query.order):
        rows = sorted(rows, key=lambda r: _sort_key(_order_value(expr, r, scope, query)), reverse=descending)
    result = [_project(query, source.columns, row, scope) for row in rows]
    if query.distinct:
        unique: List[Dict[str, Any]] = []
        for row in result:
            if row not in unique:
                unique.append(row)
        result = unique
    if query.limit is not None:
        result = result[:query.limit]
    if not rows:          # still check the column list against the object
        scope.row = {c: None for c in source.columns}
        _project(query, source.columns, scope.row, scope)
    return result


def _bind(name: str, source: Source, args: List[Tuple[Optional[str], Expr]], scope: Scope) -> Dict[str, Any]:
    names = [p for p, _ in source.params]
    values: Dict[str, Any] = {p: d for p, d in source.params}
    if len(args) > len(names):
        raise SqlError("SQL0170", "42605", f"Number of arguments for function {name} not valid.")
    for i, (keyword, expr) in enumerate(args):
        key = keyword or names[i]
        if key not in values:
            raise SqlError("SQL0170", "42605", f"Number of arguments for function {name} not valid.")
        values[key] = evaluate(expr, scope)
    return {k.lower(): v for k, v in values.items()}


def _order_value(expr: Expr, row: Dict[str, Any], scope: Scope, query: Query) -> Any:
    scope.row = row
    if expr.op == "lit" and isinstance(expr.value, int):
        columns = _column_names(query, list(row))
        if not 1 <= expr.value <= len(columns):
            raise SqlError("SQL5001", "42702", f"Column qualifier or table {expr.value} undefined.")
        return row.get(columns[expr.value - 1])
    if expr.op == "col" and expr.value not in row:
        for item, alias in query.items:
            if alias == expr.value and item is not None:
                return evaluate(item, scope)
    return evaluate(expr, scope)


def _sort_key(value: Any) -> Tuple[int, Any]:
    if value is None:
        return (1, "")
    if isinstance(value, (int, Decimal)):
        return (0, (0, Decimal(str(value)), ""))
    if isinstance(value, datetime):
        return (0, (1, Decimal(0), value.isoformat()))
    return (0, (2, Decimal(0), str(value)))


def _column_names(query: Query, columns: List[str]) -> List[str]:
    names: List[str] = []
    for number, (expr, alias) in enumerate(query.items, start=1):
        if expr is None:
            names.extend(columns)
        else:
            names.append(alias or (expr.value if expr.op == "col" else f"{number:05d}"))
    return names


def _project(query: Query, columns: Sequence[str], row: Dict[str, Any], scope: Scope) -> Dict[str, Any]:
    scope.row = row
    out: Dict[str, Any] = {}
    for number, (expr, alias) in enumerate(query.items, start=1):
        if expr is None:
            out.update((c, row.get(c)) for c in columns)
            continue
        name = alias or (expr.value if expr.op == "col" else f"{number:05d}")
        out[name] = evaluate(expr, scope)
    return out


def _call(context: Context, statement: str, params: Sequence[str]) -> List[Dict[str, Any]]:
    parser = Parser(statement)
    parser.expect("CALL")
    schema, name = parser.qualified()
    parser.expect("(")
    args = parser.arguments()
    if (schema or "QSYS2", name) != ("QSYS2", "QCMDEXC"):
        raise not_found(schema or "*LIBL", name, "*N")
    if len(args) not in (1, 2):
        raise SqlError("SQL0440", "42884", f"Routine {name} in {schema or '*LIBL'} not found with specified parameters.")
    scope = Scope(params, context.now(), context.job.user, context.state.sysname)
    command = str(evaluate(args[0][1], scope))
    try:
        context.rt.run_command(context.job, command)
    except ClEscape as exc:
        raise SqlError("SQL0443", "38501",
                       f"Trigger program or external routine detected an error. {exc.escape.line()}") from None
    return []
