"""DSPFLLOG: the logs kept with a run, a page at a time by sequence number.

One viewer for the four kinds of LogEntry: the clone's history log (QHST, like DSPLOG),
the joblog of the function's job (JOBLOG, like DSPJOBLOG), the product's own log
(INTERNAL) and the agent's log (AGENT). Only the visible page is read (the (run, kind,
seq) index); F17/F18 go to the top/bottom; Find searches with `queries.log_find`.
"""
from __future__ import annotations

from typing import Any, Hashable, List, Optional

from textual.app import ComposeResult

from .fmt import fmt_datetime, leader, local
from .layout import Anchor, Column, Page, Row, keyset_page
from .panel import DisplayPanel, ListPanel
from .widgets import Field, PromptRow

KINDS = ("QHST", "JOBLOG", "INTERNAL", "AGENT")
TITLES = {"QHST": "Display History Log Contents", "JOBLOG": "Display Job Log",
          "INTERNAL": "Display flash4i Log", "AGENT": "Display Agent Log"}
LOWEST, HIGHEST = -(2 ** 31), 2 ** 31 - 1      # sequence numbers are 32-bit integers in the store


class LogViewPanel(ListPanel):
    """The lines of one log of a run, oldest first. Type text in Find and press Enter to go
    to the next line that contains it; F16 finds the next one again. 5 on a line shows the
    whole message. F11 shows the date, severity and sender."""

    HEADER_HEIGHT = 2
    OPTIONS = (("5", "Display message"),)
    FKEYS = ((3, "Exit"), (5, "Refresh"), (11, "Display more"), (12, "Cancel"), (16, "Find next"),
             (17, "Top"), (18, "Bottom"))
    COLUMNS = (
        Column("time", "Time", 8),
        Column("msgid", "Msg ID", 7),
        Column("date", "Date", 8, view=2),
        Column("sev", "Sev", 3, view=2, align="right"),
        Column("source", "From", 10, view=2),
        Column("text", "Message text", 0, min_width=60),
    )
    EMPTY_TEXT = "(No lines in this log)"

    def __init__(self, run_id: int, kind: str, **kw):
        super().__init__(**kw)
        self.run_id, self.kind = run_id, kind.upper().lstrip("*")
        self.last_find = ""
        self.found_seq: Optional[int] = None

    def panel_title(self) -> str:
        return TITLES.get(self.kind, "Display Log")

    def compose_header_fields(self) -> ComposeResult:
        yield PromptRow("Find", "", 40, "find", label_width=15, id="find")

    def on_mount(self) -> None:
        super().on_mount()
        if self.kind not in KINDS:
            self.message(f"Value '*{self.kind}' for parameter LOG not valid.")
        self.load(self.header, self.set_header, group="header")

    def header(self) -> List[str]:
        from flash4i_tui.store import queries
        run = queries.run(self.run_id)
        return [" " + leader("Run", 14) + f"  {run.id:<12}" + leader("Environment", 16) + f"  {run.env_name}",
                " " + leader("Log", 14) + f"  *{self.kind:<11}" + leader("Run state", 16) + f"  {run.state}"]

    # ---- pages by sequence number
    def page(self, anchor: Anchor, limit: int) -> Page:
        from flash4i_tui.store import queries
        tz = self.flash.tz

        def fetch(direction: str, key: Any, n: int) -> List[Row]:
            if direction == "before":
                rows = queries.log_page(self.run_id, self.kind, HIGHEST if key is None else key, n, backwards=True)
            else:
                start = LOWEST if key is None else key + (1 if direction == "after" else 0)
                rows = queries.log_page(self.run_id, self.kind, start, n)
            return [self.line_row(e, tz) for e in rows]
        return keyset_page(fetch, anchor, limit)

    @staticmethod
    def line_row(entry: Any, tz) -> Row:
        when = local(entry.logged_at, tz) if entry.logged_at else None
        return Row(entry.seq, {
            "time": when.strftime("%H:%M:%S") if when else "", "date": when.strftime("%m/%d/%y") if when else "",
            "msgid": entry.msg_id, "sev": str(entry.severity) if entry.severity else "", "source": entry.source,
            "text": entry.text.replace("\n", " "),
        }, {"text": "alert"} if entry.severity >= 40 else {}, order=entry.seq)

    # ---- find
    @property
    def find_field(self) -> Field:
        return self.query_one("#find", PromptRow).field

    def press_enter(self) -> None:
        text = self.find_field.value.strip()
        if text and text != self.last_find and not self.subfile.typed() and not \
                (self.command_line and self.command_line.value.strip()):
            self.clear_message()
            top = self.subfile.rows[0].key if self.subfile.rows else LOWEST
            self.find(text, int(top) - 1)
            return
        super().press_enter()

    def fkey_16(self) -> None:
        text = self.find_field.value.strip() or self.last_find
        if not text:
            self.message("Type the text to find in the Find field.")
            return
        start = self.found_seq if self.found_seq is not None and text == self.last_find else (
            int(self.subfile.rows[0].key) - 1 if self.subfile.rows else LOWEST)
        self.find(text, start)

    def find(self, text: str, after_seq: int) -> None:
        from flash4i_tui.store import queries
        self.last_find = text
        self.load(lambda: queries.log_find(self.run_id, self.kind, text, after_seq),
                  lambda seq: self.found(text, seq), group="find")

    def found(self, text: str, seq: Optional[int]) -> None:
        if seq is None:
            self.message(f"'{text}' not found.")
            return
        self.found_seq = seq
        self.subfile.found = seq
        self.reload(("from", seq), cursor_key=seq)

    # ---- 5=Display message
    def option_5(self, keys: List[Hashable]) -> None:
        run_id, kind, seq, tz = self.run_id, self.kind, int(keys[0]), self.flash.tz
        self.open(DisplayPanel("Display Message Details", loader=lambda: message_lines(run_id, kind, seq, tz)),
                  self.option_done)


def message_lines(run_id: int, kind: str, seq: int, tz) -> List[str]:
    from flash4i_tui.store import models as m
    e = m.LogEntry.get((m.LogEntry.run == run_id) & (m.LogEntry.kind == kind) & (m.LogEntry.seq == seq))
    lines = [" " + leader(label, 24) + "  " + value for label, value in (
        ("Message ID", e.msg_id), ("Severity", str(e.severity)), ("Date and time", fmt_datetime(e.logged_at, tz, True)),
        ("From", e.source), ("Line", str(e.seq)))]
    return lines + ["", " Message:"] + ["   " + line for line in e.text.splitlines()]
