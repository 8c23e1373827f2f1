"""FLDSPHST: one line per run, newest first, paged by keyset on the run id (cheap at any depth)."""
from __future__ import annotations

from typing import Any, Hashable, List, Optional

from .fmt import fmt_bytes, fmt_datetime, fmt_proven, fmt_seconds, leader
from .layout import Anchor, Column, Page, Row, keyset_page, state_style
from .panel import ListPanel


class FlDspHstPanel(ListPanel):
    """The runs of all environments (or of one: FLDSPHST ENV(name)), newest first, with
    their total duration, the time production was suspended, the space used on the
    targets, and (F11) whether the clone is proven a copy taken in the window. 5 shows the steps of a run with their durations; 7, 8 and 9 its logs."""

    TITLE_TEXT = "Display Flash History"
    OPTIONS = (("5", "Display steps"), ("7", "History log"), ("8", "Job log"), ("9", "Product log"))
    FKEYS = ((3, "Exit"), (4, "Prompt"), (5, "Refresh"), (9, "Retrieve"), (11, "Display more"),
             (12, "Cancel"), (17, "Top"), (18, "Bottom"))
    COLUMNS = (
        Column("id", "Run", 7, align="right"),
        Column("env", "Environment", 11),
        Column("function", "Function", 8, view=2),
        Column("start", "Start", 14),
        Column("duration", "Duration", 8, view=1, align="right"),
        Column("suspended", "Suspended", 9, view=1, align="right"),
        Column("space", "Space", 9, view=1, align="right"),
        Column("requested_by", "Requested", 10, view=2),
        Column("proven", "Proven", 6, view=2),
        Column("state", "Status", 9),
        Column("message", "Message", 0, view=2),
    )
    EMPTY_TEXT = "(No runs)"

    def __init__(self, env: Optional[str] = None, **kw):
        super().__init__(**kw)
        self.env = env

    def on_mount(self) -> None:
        super().on_mount()
        self.set_header(["", " " + leader("Environment", 20) + "  " + (self.env or "*ALL")])
        if self.env:
            self.load(self._check_env, lambda _: None, group="check")

    def _check_env(self) -> None:
        from flash4i_tui.store import queries
        from flash4i_tui.store import models as m
        if m.Environment.get_or_none(m.Environment.name == self.env) is None and not queries.runs_page(self.env, limit=1):
            from flash4i_tui.errors import NotFound
            raise NotFound(f"Environment {self.env} not found.")

    def page(self, anchor: Anchor, limit: int) -> Page:
        from flash4i_tui.store import queries
        tz, now = self.flash.tz, self.flash.now()

        def fetch(direction: str, key: Any, n: int) -> List[Row]:
            if direction == "after":
                runs = queries.runs_page(self.env, before_id=key, limit=n)
            elif direction == "from":
                runs = queries.runs_page(self.env, before_id=key + 1, limit=n)
            else:                                  # the n runs just newer than KEY, or the oldest n
                runs = queries.runs_page(self.env, after_id=0 if key is None else key, limit=n)
            return [self.run_row(r, tz, now) for r in runs]
        return keyset_page(fetch, anchor, limit)

    @staticmethod
    def run_row(r: Any, tz, now) -> Row:
        duration = r.duration
        if duration is None and r.started_at is not None and r.state == "RUNNING":
            duration = (now - r.started_at).total_seconds()      # so far
        return Row(r.id, {
            "id": str(r.id), "env": r.env_name, "function": r.function,
            "start": fmt_datetime(r.started_at or r.requested_at, tz), "duration": fmt_seconds(duration),
            "suspended": fmt_seconds(r.suspended_seconds), "space": fmt_bytes(r.space_used_bytes),
            "requested_by": r.requested_by, "proven": fmt_proven(r.proven), "state": r.state, "message": (r.message or "").splitlines()[0]
            if r.message else "",
        }, state_style(r.state), order=-r.id)

    def option_5(self, keys: List[Hashable]) -> None:
        from .runpanel import RunPanel
        self.open(RunPanel(run_id=int(keys[0])), self.option_done)

    def _log(self, key: Hashable, kind: str) -> None:
        from .logview import LogViewPanel
        self.open(LogViewPanel(int(key), kind), self.option_done)

    def option_7(self, keys: List[Hashable]) -> None:
        self._log(keys[0], "QHST")

    def option_8(self, keys: List[Hashable]) -> None:
        self._log(keys[0], "JOBLOG")

    def option_9(self, keys: List[Hashable]) -> None:
        self._log(keys[0], "INTERNAL")
