"""The base screens of the 5250 panels: Panel (title, header, message line, function keys,
command line), ListPanel (a WRK-style list over a subfile, paged through the store), and the
small standard panels every function uses: display, help (F1), confirmation and select (F4).

Layout is in `screens.layout` (no Textual), the widgets in `screens.widgets`, the store workers
and their result messages in `screens.workers`. A panel knows its application only as the
`PanelHost` it asks for services; it never imports `screens.app`, which imports the panels.

Panels read the store only in thread workers (`Panel.load`), never in the event loop.
"""
from __future__ import annotations

from datetime import datetime, tzinfo
from functools import partial
from typing import Any, Callable, ClassVar, Dict, Hashable, List, Optional, Protocol, Sequence, Tuple, cast

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker

from .command import COMMANDS, CommandError, CommandSpec, build, parse_raw, prompt_values
from .fmt import fmt_date_time
from .layout import (BOTTOM, TOP, Anchor, Column, Page, Row, confirm_lines, fit_columns, has_alternate_view,
                     heading_line, more_text, page_of)
from .theme import HEADING_STYLE
from .widgets import CommandLine, Legend, Lines, Subfile, TitleLine
from .workers import StoreWorkers, WorkEnded

EXIT = "exit"            # a panel's result when F3 left it: the whole function ends


class PanelHost(Protocol):
    """What a panel asks of the application it runs in (`screens.app.Flash4iApp`)."""

    system_name: str
    tz: Optional[tzinfo]
    db_url: str
    command_history: List[str]

    def now(self) -> datetime: ...

    def is_base(self, panel: "Panel") -> bool: ...

    def run_command(self, text: str, origin: "Panel") -> bool: ...

    def report_error(self, exc: BaseException, panel: Optional["Panel"] = None) -> None: ...

    def store_job(self, fn: Callable[[], Any], done: Callable[[Any], None],
                  failed: Callable[[BaseException], None], description: str = "") -> Worker: ...

    def start_environment(self, env_name: str, origin: "Panel",
                          then: Optional[Callable[[Any], None]] = None) -> None: ...

    def work_with_recovery_points(self, env_name: str, origin: "Panel",
                                  then: Optional[Callable[[Any], None]] = None) -> None: ...

    def end_run(self, run_id: int, origin: "Panel") -> None: ...

    def prompt_for(self, spec: CommandSpec, values: Dict[str, str]) -> "Panel": ...


# ------------------------------------------------------------------ panels

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
        self.workers_of_panel = StoreWorkers(self)
        self._retrieve_at = 0
        self.message_text = ""

    @property
    def flash(self) -> PanelHost:
        return cast(PanelHost, self.app)

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
        self.query_one("#more", Static).update(more_text(more, self.size.width or 80))

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
        return self.workers_of_panel.start(fn, then, on_error, group=group, exclusive=exclusive,
                                           description=f"{type(self).__name__}:{group}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.workers_of_panel.state_changed(event)

    @on(WorkEnded)
    def work_ended(self, message: WorkEnded) -> None:
        self.workers_of_panel.deliver(message)

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
        spec = COMMANDS[name]

        def prompted(values: Optional[Dict[str, str]]) -> None:
            if values is not None:
                self.flash.run_command(build(spec, values), self)
        self.open(self.flash.prompt_for(spec, prompt_values(spec, typed)), prompted)


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
        lines += ["", Text(" Options", style=HEADING_STYLE)] + [f"   {o}={t}" for o, t in options]
    lines += ["", Text(" Function keys", style=HEADING_STYLE)] + [f"   F{n}={t}" for n, t in panel.FKEYS]
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
        lines = confirm_lines(self.option, self.columns, self.rows)
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
