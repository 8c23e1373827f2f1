"""The 5250 panel: CUA layout, function keys, the subfile list with its Opt column, paging.

Every panel is a Screen laid out as IBM i draws a list panel (80x24; 132x27 moves the
bottom block down and shows more rows):

    1      title centred, system name right-aligned
    2-4    header (date/time right on line 2 for live panels; `Field . . :` lines)
    5      Type options, press Enter.            (list panels)
    6-7    option legend (F23 shows more when it does not fit)
    8-9    group heading, column headings (Opt first)
    10-18  subfile rows
    19     More... / Bottom, right-aligned
    20-21  Parameters or command / ===>
    22-23  function-key legend (F24 shows more)
    24     message line

Panels read the store only in thread workers (`Panel.load`), never in the event loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, Hashable, Iterable, List, Optional, Sequence, Tuple

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from .command import COMMANDS, CommandError, build, parse_raw, prompt_values
from .fmt import fmt_date_time, leader

if TYPE_CHECKING:  # pragma: no cover
    from .app import Flash4iApp

EXIT = "exit"            # a panel's result when F3 left it: the whole function ends

Anchor = Tuple[str, Any]  # ("top"|"bottom"|"after"|"before"|"from", key)
TOP: Anchor = ("top", None)
BOTTOM: Anchor = ("bottom", None)


# ------------------------------------------------------------------ values

@dataclass(frozen=True)
class Column:
    key: str
    heading: str
    width: int                       # 0: takes the rest of the line
    view: int = 0                    # 0 always; 1 normal view; 2 the F11 alternate view
    align: str = "left"
    min_width: int = 12              # a rest-of-line column needs at least this much to show all columns


@dataclass
class Row:
    key: Hashable
    cells: Dict[str, str]
    styles: Dict[str, str] = field(default_factory=dict)   # column key -> alert | bright | warn
    order: Any = None                # display order of the key across pages (options run top-down)


@dataclass
class Page:
    rows: List[Row]
    more_after: bool


def fit_columns(columns: Sequence[Column], width: int, view: int) -> List[Column]:
    """The columns shown at WIDTH: all of them when they fit, else view 0 plus the chosen view."""
    room = width - 6                  # " __   " before the first column
    def need(cols: Sequence[Column]) -> int:
        return sum((c.width or c.min_width) + 1 for c in cols)
    chosen = list(columns) if need(columns) <= room else [c for c in columns if c.view in (0, view)]
    fixed = sum(c.width + 1 for c in chosen if c.width)
    flex = max(8, room - fixed - 1)
    return [c if c.width else Column(c.key, c.heading, flex, c.view, c.align, c.min_width) for c in chosen]


def has_alternate_view(columns: Sequence[Column], width: int) -> bool:
    room = width - 6
    return any(c.view for c in columns) and sum((c.width or c.min_width) + 1 for c in columns) > room


def format_cells(cols: Sequence[Column], cells: Dict[str, str]) -> List[Tuple[str, str]]:
    """(column key, text padded to the column) for each column."""
    out = []
    for c in cols:
        value = str(cells.get(c.key, "") or "")[:c.width]
        out.append((c.key, value.rjust(c.width) if c.align == "right" else value.ljust(c.width)))
    return out


def heading_line(cols: Sequence[Column], width: int) -> str:
    text = " Opt  " + " ".join(v for _, v in format_cells(cols, {c.key: c.heading for c in cols}))
    return text[:width].rstrip()


def legend_pages(items: Sequence[str], width: int, max_lines: int, more: str, indent: int = 1) -> List[List[str]]:
    """Flow `F3=Exit`-style items three blanks apart over MAX_LINES lines; when they do not
    fit, split them into pages that each end with MORE (F24=More keys / F23 for options)."""
    def flow(its: Sequence[str]) -> Optional[List[str]]:
        lines: List[str] = []
        line = ""
        for item in its:
            candidate = item if not line else line + "   " + item
            if indent + len(candidate) <= width - 1:
                line = candidate
            else:
                lines.append(line)
                line = item
        lines.append(line)
        return [" " * indent + x for x in lines] if len(lines) <= max_lines else None
    if not items:
        return [[]]
    whole = flow(items)
    if whole is not None:
        return [whole]
    pages, rest = [], list(items)
    while rest:
        take = len(rest)
        while take > 1 and flow(rest[:take] + [more]) is None:
            take -= 1
        pages.append(flow(rest[:take] + [more]) or [" " * indent + more])
        rest = rest[take:]
    return pages


# ------------------------------------------------------------------ widgets

class TitleLine(Widget):
    """Line 1: the title centred, the system name right-aligned."""

    DEFAULT_CSS = "TitleLine { height: 1; }"

    def __init__(self, title: str, system_name: str, **kw):
        super().__init__(**kw)
        self.title_text, self.system_name = title, system_name

    def render(self) -> Text:
        width = self.size.width or 80
        line = list(self.title_text.center(width - 1).ljust(width))
        name = self.system_name[:max(0, width - 2)]
        line[width - 1 - len(name):width - 1] = list(name)
        return Text("".join(line).rstrip())


class Lines(Widget):
    """A fixed block of lines; RIGHT (date and time) is right-aligned on the first line."""

    DEFAULT_CSS = "Lines { height: auto; }"

    def __init__(self, lines: Sequence[Any] = (), height: int = 0, **kw):
        super().__init__(**kw)
        self.lines: List[Any] = list(lines)
        self.right = ""
        if height:
            self.styles.height = height

    def set(self, lines: Sequence[Any], right: Optional[str] = None) -> None:
        self.lines = list(lines)
        if right is not None:
            self.right = right
        self.refresh(layout=True)

    def render(self) -> Text:
        width = self.size.width or 80
        out = [Text(line) if isinstance(line, str) else line for line in self.lines] or [Text("")]
        if self.right:
            first = out[0].copy()
            pad = max(1, width - 1 - len(self.right) - len(first.plain))
            first.append(" " * pad + self.right)
            out[0] = first
        return Text("\n").join(out)


class Legend(Widget):
    """An option or function-key legend; pages with F23 / F24 when it does not fit."""

    DEFAULT_CSS = "Legend { height: 2; }"

    def __init__(self, items: Sequence[str], more: str, indent: int = 1, **kw):
        super().__init__(**kw)
        self.items, self.more, self.indent, self.page = list(items), more, indent, 0

    def pages(self) -> List[List[str]]:
        height = self.styles.height.value if self.styles.height and self.styles.height.value else 2
        return legend_pages(self.items, self.size.width or 80, int(height), self.more, self.indent)

    def next_page(self) -> bool:
        pages = self.pages()
        if len(pages) < 2:
            return False
        self.page = (self.page + 1) % len(pages)
        self.refresh()
        return True

    def render(self) -> Text:
        pages = self.pages()
        return Text("\n".join(pages[self.page % len(pages)]))


class Field(Input):
    """An input field: green, underlined, reverse image when in error (DSPATR(RI))."""

    DEFAULT_CSS = """
    Field { border: none; height: 1; padding: 0; margin: 0; background: $background; }
    Field:focus { border: none; background: $background; }
    """

    def __init__(self, value: str = "", width: int = 10, path: str = "", max_length: int = 0, **kw):
        kw.setdefault("compact", True)
        kw["classes"] = ("field " + kw.get("classes", "")).strip()   # a class added later costs a restyle
        super().__init__(value=value, max_length=max_length or width, **kw)
        self.path = path
        self.error_text = ""
        self.styles.width = width + 1

    def set_error(self, text: str) -> None:
        self.error_text = text
        self.set_class(bool(text), "-error")


class CommandLine(Field):
    """The `===>` command line."""


class PromptRow(Horizontal):
    """`Label . . . . . . :  value____  hint`, the prompter's line (CL prompt, environment editor)."""

    DEFAULT_CSS = "PromptRow { height: 1; }"
    LABEL_WIDTH = 34

    def __init__(self, label: str, value: str, width: int, path: str, hint: str = "", max_length: int = 0,
                 label_width: int = 0, **kw):
        super().__init__(**kw)
        self.label, self.text, self.field_width, self.path, self.hint = label, value, width, path, hint
        self.max_length, self.label_width = max_length or width, label_width or self.LABEL_WIDTH

    def compose(self) -> ComposeResult:
        yield Static(" " + leader(self.label, self.label_width - 1) + " ", classes="label")
        yield Field(self.text, self.field_width, self.path, max_length=self.max_length)
        if self.hint:
            yield Static(" " + self.hint, classes="hint")

    @property
    def field(self) -> Field:
        return self.query_one(Field)


class Subfile(Widget, can_focus=True):
    """The list of a WRK panel: one page of rows, each with its Opt input field.

    Typed options are kept by row key across pages (as a 5250 subfile keeps changed
    records) and are processed top-down when Enter is pressed.
    """

    COMPONENT_CLASSES = {"subfile--field", "subfile--cursor", "subfile--error", "subfile--alert",
                         "subfile--bright", "subfile--warn", "subfile--found"}
    DEFAULT_CSS = "Subfile { height: 1fr; }"     # the colours and attributes are in flash4i.tcss

    class Resized(Message):
        def __init__(self, rows: int):
            super().__init__()
            self.rows = rows

    def __init__(self, opt_width: int = 2, empty_text: str = "", **kw):
        super().__init__(**kw)
        self.opt_width, self.empty_text = opt_width, empty_text
        self.rows: List[Row] = []
        self.columns: List[Column] = []
        self.cursor, self.col = 0, 0
        self.options: Dict[Hashable, str] = {}
        self.option_order: Dict[Hashable, Any] = {}
        self.errors: set = set()
        self.found: Optional[Hashable] = None

    # ---- content
    def set_rows(self, rows: Sequence[Row], cursor_key: Optional[Hashable] = None) -> None:
        self.rows = list(rows)
        keys = [r.key for r in self.rows]
        self.cursor = keys.index(cursor_key) if cursor_key in keys else min(self.cursor, max(0, len(rows) - 1))
        self.refresh()

    def update_rows(self, rows: Sequence[Row]) -> None:
        """Keyed update (live panels): replace rows in place, keep the cursor on its key."""
        key = self.current_key()
        self.set_rows(rows, cursor_key=key)

    def current_key(self) -> Optional[Hashable]:
        return self.rows[self.cursor].key if 0 <= self.cursor < len(self.rows) else None

    def current_row(self) -> Optional[Row]:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def typed(self) -> List[Tuple[Hashable, str]]:
        """The options typed, top-down, blanks left out."""
        entries = [(k, v.strip()) for k, v in self.options.items() if v.strip()]
        return sorted(entries, key=lambda kv: self.option_order.get(kv[0], 0))

    def clear_options(self, keys: Optional[Iterable[Hashable]] = None) -> None:
        for key in list(keys if keys is not None else self.options):
            self.options.pop(key, None)
            self.errors.discard(key)
        self.refresh()

    def mark_error(self, key: Hashable) -> None:
        self.errors = {key}
        keys = [r.key for r in self.rows]
        if key in keys:
            self.cursor, self.col = keys.index(key), 0
        self.refresh()

    # ---- drawing
    def _style(self, name: str):
        return self.get_component_rich_style(f"subfile--{name}")

    def render(self) -> Text:
        width = self.size.width or 80
        out = []
        for i in range(max(1, self.size.height)):
            if i < len(self.rows):
                out.append(self._render_row(i, width))
            elif i == 0 and self.empty_text:
                out.append(Text("  " + self.empty_text))
            else:
                out.append(Text(""))
        return Text("\n").join(out)

    def _render_row(self, i: int, width: int) -> Text:
        row = self.rows[i]
        value = self.options.get(row.key, "").ljust(self.opt_width)[:self.opt_width]
        line = Text(" ")
        style = self._style("error") if row.key in self.errors else self._style("field")
        for pos, ch in enumerate(value):
            here = self.has_focus and i == self.cursor and pos == self.col
            line.append(ch, self._style("cursor") + style if here else style)
        line.append("   ")
        highlight = self._style("found") if row.key == self.found else None
        for key, text in format_cells(self.columns, row.cells):
            cell_style = self._style(row.styles[key]) if key in row.styles else None
            if highlight is not None:
                cell_style = highlight if cell_style is None else cell_style + highlight
            line.append(text, cell_style)
            line.append(" ")
        line.truncate(width)
        line.rstrip()
        return line

    # ---- keys
    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized(event.size.height))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        if 0 <= event.y < len(self.rows):
            self.cursor, self.col = event.y, 0
            self.focus()
            self.refresh()

    def _put(self, ch: str) -> None:
        row = self.current_row()
        if row is None:
            return
        value = list(self.options.get(row.key, "").ljust(self.opt_width)[:self.opt_width])
        value[self.col] = ch
        self.options[row.key] = "".join(value).rstrip()
        self.option_order[row.key] = row.order if row.order is not None else row.key
        self.errors.discard(row.key)
        if ch != " ":
            self.col += 1
            if self.col >= self.opt_width:      # a full field advances, as on a 5250
                self._move(1)

    def _move(self, delta: int) -> None:
        target = self.cursor + delta
        self.col = 0
        if target < 0:
            self.screen.focus_previous()
        elif target >= len(self.rows):
            self.screen.focus_next()
        else:
            self.cursor = target

    def on_key(self, event: events.Key) -> None:
        key, ch = event.key, event.character
        if ch is not None and ch.isdigit():
            self._put(ch)
        elif key == "backspace":
            if self.col > 0:
                self.col -= 1
            self._put(" ")
        elif key in ("delete", "space"):
            self._put(" ")
            if key == "space":
                self.col = min(self.col + 1, self.opt_width - 1)
        elif key == "left":
            self.col = max(0, self.col - 1)
        elif key == "right":
            self.col = min(self.opt_width - 1, self.col + 1)
        elif key in ("up", "down"):
            self._move(-1 if key == "up" else 1)
        elif key == "home":
            self.cursor, self.col = 0, 0
        elif key == "end":
            self.cursor, self.col = max(0, len(self.rows) - 1), 0
        else:
            return
        event.stop()
        event.prevent_default()
        self.refresh()


# ------------------------------------------------------------------ panels

def in_store(fn: Callable[[], Any]) -> Any:
    """Run FN in this worker thread with its own store connection (peewee connections are per thread)."""
    from flash4i_tui.store import database
    with database.obj.connection_context():    # the bound object, not the proxy: enter and exit must match
        return fn()


Callbacks = Tuple[Callable[[Any], None], Callable[[BaseException], None]]


def store_worker(node: Any, pending: Dict[Worker, Callbacks], fn: Callable[[], Any], done: Callable[[Any], None],
                 failed: Callable[[BaseException], None], **options: Any) -> Worker:
    """Run FN (store work) in a thread worker of NODE; `settle` later calls DONE or FAILED on the UI thread."""
    worker = node.run_worker(partial(in_store, fn), thread=True, exit_on_error=False, **options)
    pending[worker] = (done, failed)
    return worker


def settle(pending: Dict[Worker, Callbacks], event: Worker.StateChanged) -> None:
    """Call the callback a finished worker of PENDING asked for (nothing for other workers)."""
    if event.worker not in pending or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                          WorkerState.CANCELLED):
        return
    done, failed = pending.pop(event.worker)
    if event.state == WorkerState.SUCCESS:
        done(event.worker.result)
    elif event.state == WorkerState.ERROR:
        failed(event.worker.error)


class Panel(Screen):
    """A 5250 panel. Subclasses set the class attributes and compose their body."""

    TITLE_TEXT: ClassVar[str] = ""
    FKEYS: ClassVar[Sequence[Tuple[int, str]]] = ((3, "Exit"), (12, "Cancel"))
    HAS_COMMAND_LINE: ClassVar[bool] = False
    IS_DIALOG: ClassVar[bool] = False      # F3 from a dialog's child ends the dialog too
    HEADER_HEIGHT: ClassVar[int] = 0
    SHOW_CLOCK: ClassVar[bool] = False
    INSTRUCTIONS: ClassVar[str] = ""

    BINDINGS = [Binding("down", "app.focus_next", show=False), Binding("up", "app.focus_previous", show=False)]

    def __init__(self, **kw):
        super().__init__(**kw)
        self._loads: Dict[Worker, Callbacks] = {}
        self._retrieve_at = 0
        self.message_text = ""

    @property
    def flash(self) -> "Flash4iApp":
        return self.app  # type: ignore[return-value]

    # ---- layout
    def panel_title(self) -> str:
        return self.TITLE_TEXT

    def compose(self) -> ComposeResult:
        yield TitleLine(self.panel_title(), self.flash.system_name, id="title", classes="title")
        if self.HEADER_HEIGHT:
            yield Lines(height=self.HEADER_HEIGHT, id="header")
        yield from self.compose_header_fields()
        if self.INSTRUCTIONS:
            yield Static(" " + self.INSTRUCTIONS, id="instructions", classes="instructions")
        yield from self.compose_body()
        yield Static("", id="more", classes="more")
        if self.HAS_COMMAND_LINE:
            yield Static(" Parameters or command", id="cmd-label")
            with Horizontal(id="cmd-row"):
                yield Static(" ===> ", id="cmd-prompt")
                yield CommandLine("", 153, id="cmdline")
        yield Legend([f"F{n}={text}" for n, text in self.FKEYS], "F24=More keys", id="fkeys", classes="fkeys")
        yield Static("", id="message", classes="message")

    def compose_header_fields(self) -> ComposeResult:
        """Input fields in the header (`Find . . :`), under the header lines."""
        return iter(())

    def compose_body(self) -> ComposeResult:
        yield Static("")

    def on_mount(self) -> None:
        self.refresh_clock()

    def refresh_clock(self) -> None:
        if self.SHOW_CLOCK and self.HEADER_HEIGHT:
            self.query_one("#header", Lines).set(self.query_one("#header", Lines).lines,
                                                  right=fmt_date_time(self.flash.now(), self.flash.tz))

    def set_header(self, lines: Sequence[Any]) -> None:
        header = self.query_one("#header", Lines)
        header.set(lines)
        self.refresh_clock()

    def set_more(self, more: Optional[bool]) -> None:
        """More... / Bottom on the last line of the list; None shows nothing."""
        text = "" if more is None else ("More..." if more else "Bottom")
        width = self.size.width or 80
        self.query_one("#more", Static).update(text.rjust(width - 1))

    # ---- message line
    def message(self, text: str) -> None:
        self.message_text = text.splitlines()[0] if text else ""
        self.query_one("#message", Static).update(Text(" " + self.message_text))

    def clear_message(self) -> None:
        self.message("")

    # ---- workers
    def load(self, fn: Callable[[], Any], then: Callable[[Any], None], group: str = "load",
             exclusive: bool = True, failed: Optional[Callable[[BaseException], None]] = None) -> Worker:
        """Run FN (store reads) in a thread worker; call THEN with its result on the UI thread.
        An error goes to the message line (and to FAILED, for a panel that must undo a state)."""
        def on_error(exc: BaseException) -> None:
            self.flash.report_error(exc, self)
            if failed is not None:
                failed(exc)
        return store_worker(self, self._loads, fn, then, on_error, group=group, exclusive=exclusive,
                            description=f"{type(self).__name__}:{group}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        settle(self._loads, event)

    # ---- opening and leaving panels
    def open(self, panel: "Panel", then: Optional[Callable[[Any], None]] = None) -> None:
        """Show PANEL over this one; THEN gets its result. F3 inside a dialog ends the dialog too."""
        def returned(result: Any) -> None:
            if result == EXIT and self.IS_DIALOG:
                self.dismiss(EXIT)
                return
            if then is not None:
                then(result)
        self.app.push_screen(panel, returned)

    def leave(self, result: Any = None) -> None:
        if self.flash.is_base(self):
            self.app.exit(0)
        else:
            self.dismiss(result)

    # ---- keys (called by the app's priority bindings)
    def fkey(self, number: int) -> None:
        self.clear_message()
        handler = getattr(self, f"fkey_{number}", None)
        if handler is None or not self.fkey_allowed(number):
            self.message("Function key not allowed.")
            return
        handler()

    def fkey_allowed(self, number: int) -> bool:
        return number in (1, 23, 24) or any(n == number for n, _ in self.FKEYS) or number in self.hidden_fkeys()

    def hidden_fkeys(self) -> Sequence[int]:
        """Keys that work without being in the legend (the legend has no room for all of them)."""
        return (4, 9) if self.HAS_COMMAND_LINE else ()

    def fkey_1(self) -> None:
        self.open(help_panel(self))

    def fkey_3(self) -> None:
        self.leave(EXIT)

    def fkey_12(self) -> None:
        self.leave(None)

    def fkey_24(self) -> None:
        if not self.query_one("#fkeys", Legend).next_page():
            self.message("Function key not allowed.")

    def fkey_23(self) -> None:
        legends = self.query("#options")
        if not legends or not legends.first(Legend).next_page():
            self.message("Function key not allowed.")

    def press_enter(self) -> None:
        self.clear_message()
        if not self.run_command_line():
            self.enter_default()

    def enter_default(self) -> None:
        """Enter with nothing typed on the command line."""

    def roll(self, forward: bool) -> None:
        self.clear_message()
        scroller = self.query(VerticalScroll)
        if scroller:
            body = scroller.first(VerticalScroll)
            at_end = body.scroll_y >= body.max_scroll_y if forward else body.scroll_y <= 0
            if at_end:
                self.message(f"You have reached the {'bottom' if forward else 'top'} of the list.")
            elif forward:
                body.scroll_page_down(animate=False)
            else:
                body.scroll_page_up(animate=False)
            return
        self.message("Roll keys not allowed.")

    # ---- command line
    @property
    def command_line(self) -> Optional[CommandLine]:
        found = self.query(CommandLine)
        return found.first(CommandLine) if found else None

    def run_command_line(self) -> bool:
        """Run what is typed on the command line; False when it is empty."""
        cmd = self.command_line
        if cmd is None or not cmd.value.strip():
            return False
        text = cmd.value.strip()
        cmd.value = ""
        self._retrieve_at = 0
        self.flash.run_command(text, self)
        return True

    def fkey_9(self) -> None:
        """Retrieve: each F9 brings back the command before the one shown."""
        cmd = self.command_line
        history = self.flash.command_history
        if cmd is None or not history:
            self.message("No command to retrieve." if cmd is not None else "Function key not allowed.")
            return
        self._retrieve_at = self._retrieve_at % len(history) + 1
        cmd.value = history[-self._retrieve_at]
        cmd.cursor_position = len(cmd.value)
        cmd.focus()

    def fkey_4(self) -> None:
        """Prompt the command typed on the command line (or choose one when it is empty)."""
        cmd = self.command_line
        if cmd is None:
            self.message("Function key not allowed.")
            return
        text = cmd.value.strip()
        if not text:
            rows = [Row(name, {"name": name, "text": spec.title}) for name, spec in COMMANDS.items()]
            self.open(SelectPanel("Select Command", rows, [Column("name", "Command", 10), Column("text", "Text", 0)]),
                      lambda name: name and self._prompt(name, {}))
            return
        try:
            spec, typed = parse_raw(text)
        except CommandError as exc:
            self.message(str(exc))
            return
        self._prompt(spec.name, typed)

    def _prompt(self, name: str, typed: Dict[str, str]) -> None:
        from .prompt import CommandPrompt
        spec = COMMANDS[name]

        def prompted(values: Optional[Dict[str, str]]) -> None:
            if values is not None:
                self.flash.run_command(build(spec, values), self)
        self.open(CommandPrompt(spec, prompt_values(spec, typed)), prompted)


class ListPanel(Panel):
    """A WRK-style list: options on rows, paging through the store a page at a time."""

    HAS_COMMAND_LINE = True
    HEADER_HEIGHT = 3
    INSTRUCTIONS = "Type options, press Enter."
    OPTIONS: ClassVar[Sequence[Tuple[str, str]]] = ()
    BATCH_OPTIONS: ClassVar[frozenset] = frozenset()     # one call for all rows (4=Delete confirms them together)
    COLUMNS: ClassVar[Sequence[Column]] = ()
    GROUP_HEADING: ClassVar[Optional[str]] = ""           # None: no line above the column headings
    EMPTY_TEXT: ClassVar[str] = "(No entries)"
    TOP_BOTTOM: ClassVar[bool] = True                     # F17/F18
    LEGEND_HEIGHT: ClassVar[int] = 2                      # lines 6-7, even when the options fit on one

    def __init__(self, **kw):
        super().__init__(**kw)
        self.view = 1
        self.position: Anchor = TOP
        self.page_size = 0
        self.more_after = False
        self.row_cache: Dict[Hashable, Row] = {}
        self._queue: List[Tuple[str, List[Hashable]]] = []

    def compose_body(self) -> ComposeResult:
        items = [f"{o}={t}" for o, t in self.OPTIONS]
        legend = Legend(items, "...", indent=3, id="options", classes="instructions")
        legend.styles.height = self.LEGEND_HEIGHT
        yield legend
        headings = Static("", id="headings", classes="headings")
        headings.styles.height = 1 if self.GROUP_HEADING is None else 2
        yield headings
        yield Subfile(empty_text=self.EMPTY_TEXT, id="list")

    @property
    def subfile(self) -> Subfile:
        return self.query_one("#list", Subfile)

    def on_mount(self) -> None:
        super().on_mount()
        self.subfile.focus()

    def on_resize(self, event: events.Resize) -> None:
        self.relayout()

    def relayout(self) -> None:
        width = self.size.width or 80
        cols = fit_columns(self.list_columns(), width, self.view)
        self.subfile.columns = cols
        lines = ([] if self.GROUP_HEADING is None else [self.GROUP_HEADING]) + [heading_line(cols, width)]
        self.query_one("#headings", Static).update(Text("\n".join(lines)))
        self.subfile.refresh()
        self.set_more(self.more_after if self.page_size else None)

    def list_columns(self) -> Sequence[Column]:
        return self.COLUMNS

    def on_subfile_resized(self, event: Subfile.Resized) -> None:
        if event.rows != self.page_size and event.rows > 0:
            self.page_size = event.rows
            self.reload()

    # ---- paging
    def page(self, anchor: Anchor, limit: int) -> Page:
        """One page at ANCHOR (runs in a worker thread)."""
        raise NotImplementedError

    def reload(self, anchor: Optional[Anchor] = None, cursor_key: Optional[Hashable] = None) -> None:
        if not self.page_size:
            return
        anchor = anchor or self.position
        limit = self.page_size
        self.load(lambda: self.page(anchor, limit), partial(self.show_page, anchor, cursor_key), group="page")

    def show_page(self, anchor: Anchor, cursor_key: Optional[Hashable], page: Page) -> None:
        if not page.rows and anchor[0] in ("after", "before"):
            self.message(f"You have reached the {'bottom' if anchor[0] == 'after' else 'top'} of the list.")
            return
        if not page.rows and anchor[0] == "from":      # the rows went away: show the first page
            self.reload(TOP)
            return
        self.position = ("from", page.rows[0].key) if page.rows else TOP
        self.more_after = page.more_after
        self.row_cache.update({r.key: r for r in page.rows})
        self.refresh_clock()
        if cursor_key is None:      # a refresh keeps the cursor on its row; a roll starts at the top
            cursor_key = self.subfile.current_key() if anchor[0] == "from" else (
                page.rows[0].key if page.rows else None)
        with self.app.batch_update():
            self.subfile.set_rows(page.rows, cursor_key=cursor_key)
            self.set_more(page.more_after)
            self.page_shown(page)
        if not page.rows and self.subfile.has_focus and self.command_line is not None:
            self.command_line.focus()

    def page_shown(self, page: Page) -> None:
        """Hook: a page is on the panel (header updates, tests)."""

    def roll(self, forward: bool) -> None:
        self.clear_message()
        rows = self.subfile.rows
        if forward and (not self.more_after or not rows):
            self.message("You have reached the bottom of the list.")
        elif forward:
            self.reload(("after", rows[-1].key))
        elif rows:
            self.reload(("before", rows[0].key))

    def fkey_5(self) -> None:
        self.reload()

    def fkey_17(self) -> None:
        self.reload(TOP)

    def fkey_18(self) -> None:
        self.reload(BOTTOM)

    def hidden_fkeys(self) -> Sequence[int]:
        return tuple(super().hidden_fkeys()) + (5,) + ((17, 18) if self.TOP_BOTTOM else ())

    def fkey_11(self) -> None:
        if not has_alternate_view(self.list_columns(), self.size.width or 80):
            self.message("All columns are shown at this width.")
            return
        self.view = 2 if self.view == 1 else 1
        self.relayout()

    # ---- options
    def press_enter(self) -> None:
        self.clear_message()
        typed = self.subfile.typed()
        if typed:
            self.process_options(typed)
        elif not self.run_command_line():
            self.enter_default()

    def process_options(self, typed: List[Tuple[Hashable, str]]) -> None:
        valid = {o for o, _ in self.OPTIONS}
        for key, opt in typed:
            if opt not in valid:
                self.subfile.mark_error(key)
                self.subfile.focus()
                self.message(f"Option {opt} not valid.")
                return
        queue: List[Tuple[str, List[Hashable]]] = []
        batches: Dict[str, List[Hashable]] = {}
        for key, opt in typed:
            if opt in self.BATCH_OPTIONS:
                if opt not in batches:
                    batches[opt] = []
                    queue.append((opt, batches[opt]))
                batches[opt].append(key)
            else:
                queue.append((opt, [key]))
        self.subfile.clear_options()
        self._queue = queue
        self.next_option()

    def next_option(self) -> None:
        if not self._queue:
            self.reload()                 # show what the options changed
            return
        opt, keys = self._queue.pop(0)
        try:
            getattr(self, f"option_{opt}")(keys)
        except Exception as exc:          # an option that fails ends the processing, like a 5250 error
            self._queue.clear()
            self.flash.report_error(exc, self)

    def option_done(self, result: Any = None) -> None:
        """Handlers call this (directly or as a panel's result callback) to go on with the next option."""
        if result == EXIT:
            self._queue.clear()
        self.next_option()


def page_of(rows: Sequence[Row], anchor: Anchor, limit: int) -> Page:
    """Paging of a short list already in memory (definitions, steps of a run, command names)."""
    keys = [r.key for r in rows]
    kind, key = anchor
    start = 0
    if kind == "bottom":
        start = max(0, len(rows) - limit)
    elif kind in ("after", "from") and key in keys:
        start = keys.index(key) + (1 if kind == "after" else 0)
    elif kind == "before" and key in keys:
        if keys.index(key) == 0:
            return Page([], True)
        start = max(0, keys.index(key) - limit)
    return Page(list(rows[start:start + limit]), start + limit < len(rows))


def keyset_page(fetch: Callable[[str, Any, int], List[Row]], anchor: Anchor, limit: int) -> Page:
    """A page through FETCH(direction, key, n), which returns rows in display order:
    'after' (the first n after KEY, or from the start), 'from' (at or after KEY) and
    'before' (the last n before KEY, or up to the end). One extra row tells More/Bottom."""
    kind, key = anchor
    if kind in ("top", "after", "from"):
        rows = fetch("from" if kind == "from" else "after", key, limit + 1)
        return Page(rows[:limit], len(rows) > limit)
    rows = fetch("before", key if kind == "before" else None, limit)
    if kind == "before" and rows and len(rows) < limit:
        return keyset_page(fetch, TOP, limit)      # near the top: show a full first page
    return Page(rows, kind == "before")            # before KEY: KEY itself follows


# ------------------------------------------------------------------ small standard panels

class DisplayPanel(Panel):
    """A display-only panel (`Display ...`): lines, rolled with PageDown/PageUp."""

    FKEYS = ((3, "Exit"), (12, "Cancel"))
    HEADER_HEIGHT = 1

    def __init__(self, title: str, lines: Sequence[Any] = (), loader: Optional[Callable[[], Sequence[Any]]] = None,
                 **kw):
        super().__init__(**kw)
        self.title_text, self.lines, self.loader = title, list(lines), loader

    def panel_title(self) -> str:
        return self.title_text

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body", can_focus=False):
            yield Static(Text("\n").join([Text(x) if isinstance(x, str) else x for x in self.lines]),
                         id="text")

    def on_mount(self) -> None:
        super().on_mount()
        body = self.query_one("#body", VerticalScroll)
        self.watch(body, "scroll_y", lambda _: self._more(), init=False)
        if self.loader is not None:
            self.load(self.loader, self.show_lines)
        else:
            self.call_after_refresh(self._more)

    def show_lines(self, lines: Sequence[Any]) -> None:
        self.lines = list(lines)
        self.query_one("#text", Static).update(Text("\n").join([Text(x) if isinstance(x, str) else x
                                                                for x in self.lines]))
        self.call_after_refresh(self._more)

    def _more(self) -> None:
        body = self.query_one("#body", VerticalScroll)
        self.set_more(body.scroll_y < body.max_scroll_y)

    def enter_default(self) -> None:
        self.leave(None)


def help_panel(panel: Panel) -> DisplayPanel:
    """F1: the panel's own description, its options and its function keys."""
    import textwrap
    text = textwrap.dedent("    " + (type(panel).__doc__ or "").strip()).strip()
    lines: List[Any] = [" " + line for line in text.splitlines()]
    options = getattr(panel, "OPTIONS", ())
    if options:
        lines += ["", Text(" Options", style="bold #ffffff")] + [f"   {o}={t}" for o, t in options]
    lines += ["", Text(" Function keys", style="bold #ffffff")] + [f"   F{n}={t}" for n, t in panel.FKEYS]
    lines += ["   F24=More keys (when the legend does not fit)",
              "   PageDown/PageUp roll the list; a typed F3, F5 or F12 on the command line works too."]
    return DisplayPanel(f"Help: {panel.panel_title()}", lines)


class ConfirmPanel(Panel):
    """`Confirm Delete of ...`: Enter confirms, F12 goes back to change the choices."""

    FKEYS = ((12, "Cancel"),)
    IS_DIALOG = True

    def __init__(self, title: str, option: str, headings: Sequence[Column], rows: Sequence[Row], **kw):
        super().__init__(**kw)
        self.title_text, self.option, self.columns, self.rows = title, option, list(headings), list(rows)

    def panel_title(self) -> str:
        return self.title_text

    def compose_body(self) -> ComposeResult:
        width = 80
        lines = [f" Press Enter to confirm your choices for {self.option}.",
                 " Press F12=Cancel to return to change your choices.", "",
                 heading_line(self.columns, width)]
        for row in self.rows:
            number = self.option.split("=")[0]
            lines.append(f"  {number:<2}  " + " ".join(t for _, t in format_cells(self.columns, row.cells)).rstrip())
        with VerticalScroll(id="body", can_focus=False):
            yield Static(Text("\n".join(lines)), id="text")

    def enter_default(self) -> None:
        self.dismiss(True)


class SelectPanel(ListPanel):
    """A list of values to pick from (F4 on a field or on an empty command line): 1=Select."""

    OPTIONS = (("1", "Select"),)
    FKEYS = ((3, "Exit"), (12, "Cancel"))
    HAS_COMMAND_LINE = False
    HEADER_HEIGHT = 1
    IS_DIALOG = True

    def __init__(self, title: str, rows: Sequence[Row], columns: Sequence[Column], **kw):
        super().__init__(**kw)
        self.title_text, self.all_rows, self.columns = title, list(rows), list(columns)

    def list_columns(self) -> Sequence[Column]:
        return self.columns

    def panel_title(self) -> str:
        return self.title_text

    def page(self, anchor: Anchor, limit: int) -> Page:
        return page_of(self.all_rows, anchor, limit)

    def option_1(self, keys: List[Hashable]) -> None:
        self._queue.clear()
        self.dismiss(keys[0])

    def enter_default(self) -> None:
        self.message("Type option 1 to select a value.")
