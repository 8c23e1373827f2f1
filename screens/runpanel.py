"""WRKFLRUN: the live run panel (option 8 of WRKFLENV, shown after a start, 5 on a history line).

The panel polls the store every POLL_SECONDS in a thread worker while the run is queued or
running (the worker process writes the steps; this process only reads them), and updates
the step lines by key inside `app.batch_update()`, so the cursor stays where it was.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Hashable, List, Optional, Tuple

from .fmt import fmt_bytes, fmt_clock, fmt_datetime, fmt_seconds, leader, progress_bar
from .layout import Anchor, Column, Row, page_of
from .panel import ConfirmPanel, DisplayPanel, ListPanel

ACTIVE = ("QUEUED", "RUNNING")
STEP_STYLES = {"FAILED": "alert", "RUNNING": "bright", "SKIPPED": "warn"}
LOG_KEYS = {7: "QHST", 8: "JOBLOG", 10: "INTERNAL", 14: "AGENT"}


@dataclass
class RunView:
    """What the panel shows of a run, read in one go by the poller."""
    run_id: Optional[int]
    header: List[str]
    rows: List[Row]
    active: bool
    state: str = ""
    current_seq: Optional[int] = None      # the step running now


def header_line(*fields: Tuple[str, str]) -> str:
    """Two `Label . . . :  value` fields at fixed columns (2 and 39)."""
    widths = ((15, 19), (17, 18))
    parts = [leader(label, lw) + "  " + value.ljust(vw) for (label, value), (lw, vw) in zip(fields, widths)]
    return (" " + " ".join(parts)).rstrip()


class RunPanel(ListPanel):
    """The steps of one run with their status, start time, duration and progress. The panel
    follows the run while it is queued or running. 5 on a step shows its detail; F7, F8,
    F10 and F14 open the run's logs; F16 asks the run to end at its next safe point."""

    TITLE_TEXT = "Work with Flash Run"
    HEADER_HEIGHT = 6
    SHOW_CLOCK = True
    GROUP_HEADING = None
    LEGEND_HEIGHT = 1
    OPTIONS = (("5", "Display details"),)
    FKEYS = ((3, "Exit"), (5, "Refresh"), (7, "History log"), (8, "Job log"), (10, "Product log"),
             (12, "Cancel"), (14, "Agent log"), (16, "End run"))
    COLUMNS = (
        Column("seq", "Seq", 3, align="right"),
        Column("name", "Step", 17),
        Column("status", "Status", 7),
        Column("start", "Started", 8),
        Column("duration", "Duration", 8, align="right"),
        Column("progress", "Progress / detail", 0),
    )
    EMPTY_TEXT = "(No steps yet: the run waits for a worker)"
    TOP_BOTTOM = False
    POLL_SECONDS = 1.0

    def __init__(self, run_id: Optional[int] = None, env: Optional[str] = None, note: str = "", **kw):
        super().__init__(**kw)
        self.run_id, self.env, self.note = run_id, env, note
        self.view_data: Optional[RunView] = None
        self.current_seq: Optional[int] = None
        self._timer = None

    def on_mount(self) -> None:
        super().on_mount()
        if self.note:
            self.message(self.note)

    # ---- polling
    def reload(self, anchor: Optional[Anchor] = None, cursor_key: Optional[Hashable] = None) -> None:
        """A roll (ANCHOR given) or a poll/refresh (None). A poll shows the page the operator is on
        when its answer arrives, so it never undoes a roll made while it was reading."""
        if not self.page_size:
            return
        now, tz = self.flash.now(), self.flash.tz
        if anchor is None:
            self.load(lambda: self.snapshot(now, tz), lambda view: self.apply(view, self.position, cursor_key),
                      group="poll")
        else:
            self.load(lambda: self.snapshot(now, tz), lambda view: self.apply(view, anchor, cursor_key),
                      group="page")

    def snapshot(self, now: datetime, tz) -> RunView:
        """Read the run and its steps (worker thread)."""
        from flash4i_tui.errors import NotFound
        from flash4i_tui.store import queries
        run = queries.run(self.run_id) if self.run_id is not None else queries.latest_run(self.env)
        if run is None:
            raise NotFound(f"No runs for environment {self.env}." if self.env else "No runs yet.")
        rows = [self.step_row(s, now, tz) for s in queries.steps(run)]
        suspended = ""
        if run.suspended_seconds is not None:
            suspended = fmt_seconds(run.suspended_seconds)
            if run.suspend_started_at:
                suspended += f" at {fmt_clock(run.suspend_started_at, tz)}"
        end = run.ended_at or (now if run.started_at else None)
        duration = run.duration if run.duration is not None else (
            (end - run.started_at).total_seconds() if run.started_at and end else None)
        reasons = (run.proof or {}).get("reasons") if isinstance(run.proof, dict) else None
        note = run.message or (f"Clone NOT proven: {reasons[0]}" if run.proven is False and reasons else "")
        header = [
            " " + note[:58] if note else "",
            header_line(("Run", str(run.id)), ("Environment", run.env_name)),
            header_line(("Function", run.function), ("State", run.state)),
            header_line(("Started", fmt_datetime(run.started_at, tz, seconds=True)), ("Step", run.current_step or "")),
            header_line(("Duration", fmt_seconds(duration)), ("Suspended", suspended)),
            header_line(("Space used", fmt_bytes(run.space_used_bytes)), ("User", run.requested_by)),
        ]
        running = [r.key for r in rows if r.cells["status"] == "RUNNING"]
        return RunView(run.id, header, rows, run.state in ACTIVE, run.state, running[-1] if running else None)

    def step_row(self, step: Any, now: datetime, tz) -> Row:
        duration = step.duration
        if duration is None and step.started_at is not None and step.status == "RUNNING":
            duration = (now - step.started_at).total_seconds()
        running_bar = step.progress is not None and step.status == "RUNNING"
        return Row(step.seq, {
            "seq": str(step.seq), "name": step.name, "status": step.status,
            "start": fmt_clock(step.started_at, tz), "duration": fmt_seconds(duration),
            "progress": progress_bar(step.progress) if running_bar else step.detail.splitlines()[0]
            if step.detail else "",
        }, {"status": STEP_STYLES[step.status]} if step.status in STEP_STYLES else {}, order=step.seq)

    def apply(self, view: RunView, anchor: Anchor, cursor_key: Optional[Hashable]) -> None:
        self.view_data = view
        self.run_id = view.run_id
        self.subfile.empty_text = self.EMPTY_TEXT if view.state == "QUEUED" else "(No steps recorded for this run)"
        self.set_header(view.header)
        idle = self.subfile.cursor == 0 and not self.subfile.options
        if view.current_seq != self.current_seq and view.current_seq is not None and anchor == self.position \
                and idle and view.current_seq in [r.key for r in view.rows]:
            # the run moved on to a step on another page and the operator is not working on this
            # page: follow the run (a cursor the operator moved stays where it is)
            keys = [r.key for r in view.rows]
            start = keys.index(view.current_seq) // self.page_size * self.page_size
            anchor = ("from", keys[start])
        self.current_seq = view.current_seq
        self.show_page(anchor, cursor_key, page_of(view.rows, anchor, self.page_size))
        if view.active:
            self._arm()

    def _arm(self) -> None:
        if self._timer is None:
            self._timer = self.set_timer(self.POLL_SECONDS, self._poll)

    def _poll(self) -> None:
        self._timer = None
        if self.is_current:
            self.reload()
        else:                       # another panel is on top: look again later, read nothing now
            self._arm()

    def on_screen_resume(self) -> None:
        self.reload()

    # ---- options and keys
    def option_5(self, keys: List[Hashable]) -> None:
        run_id, seq = self.run_id, int(keys[0])
        tz = self.flash.tz
        self.open(DisplayPanel("Display Step Details", loader=lambda: step_lines(run_id, seq, tz)), self.option_done)

    def _log(self, number: int) -> None:
        from .logview import LogViewPanel
        if self.run_id is None:
            self.message("No run to show the log of.")
            return
        self.open(LogViewPanel(self.run_id, LOG_KEYS[number]))

    def fkey_7(self) -> None:
        self._log(7)

    def fkey_8(self) -> None:
        self._log(8)

    def fkey_10(self) -> None:
        self._log(10)

    def fkey_14(self) -> None:
        self._log(14)

    def fkey_16(self) -> None:
        if self.view_data is None or not self.view_data.active:
            self.message("The run is not active.")
            return
        run_id = self.view_data.run_id
        row = Row(run_id, {"run": str(run_id), "state": self.view_data.state})

        def confirmed(ok: Any) -> None:
            if ok is True and run_id is not None:
                self.flash.end_run(run_id, self)
        self.open(ConfirmPanel("Confirm End of Run", "4=End", [Column("run", "Run", 7), Column("state", "State", 9)],
                               [row]), confirmed)


def step_lines(run_id: Optional[int], seq: int, tz) -> List[str]:
    from flash4i_tui.store import models as m
    step = m.Step.get((m.Step.run == run_id) & (m.Step.seq == seq))
    lines = [
        " " + leader("Run", 24) + f"  {run_id}",
        " " + leader("Step", 24) + f"  {step.seq} {step.name}",
        " " + leader("Status", 24) + f"  {step.status}",
        " " + leader("Started", 24) + f"  {fmt_datetime(step.started_at, tz, seconds=True)}",
        " " + leader("Ended", 24) + f"  {fmt_datetime(step.ended_at, tz, seconds=True)}",
        " " + leader("Duration", 24) + f"  {fmt_seconds(step.duration)}",
        " " + leader("Time limit", 24) + f"  {fmt_seconds(step.bound_seconds)}",
        " " + leader("Progress", 24) + f"  {progress_bar(step.progress)}",
        "",
        " Detail:",
    ]
    return lines + ["   " + line for line in (step.detail or "").splitlines()]
