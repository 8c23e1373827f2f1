"""WRKFLENV: Work with Environments, the panel the operator starts on."""
from __future__ import annotations

from datetime import timezone
from typing import Any, Hashable, List, Sequence

from .fmt import fmt_datetime
from .layout import Column, Page, Row, keyset_page, state_style
from .panel import ConfirmPanel, EXIT, ListPanel


class WrkFlEnvPanel(ListPanel):
    """Each line is one environment: a production partition, the clone partition
    it is copied onto, and what runs on the clone. Type an option beside one or
    more lines and press Enter; the options run top-down. F6 creates an
    environment. 13 works with the recovery points of an environment that keeps
    several generations (WRKFLRCVP)."""

    TITLE_TEXT = "Work with Environments"
    SHOW_CLOCK = True
    OPTIONS = (("1", "Start"), ("2", "Change"), ("3", "Copy"), ("4", "Delete"), ("5", "Display"),
               ("8", "Work with run"), ("12", "History"), ("13", "Work with recovery points"))
    BATCH_OPTIONS = frozenset({"4"})
    FKEYS = ((3, "Exit"), (4, "Prompt"), (5, "Refresh"), (6, "Create"), (9, "Retrieve"),
             (11, "Display more"), (12, "Cancel"), (17, "Top"), (18, "Bottom"))
    COLUMNS = (
        Column("name", "Environment", 11),
        Column("function", "Function", 8),
        Column("source", "Source", 10, view=1),
        Column("clone", "Clone", 10, view=1),
        Column("next", "Next run", 14, view=1),
        Column("schedule", "Schedule", 13, view=2),
        Column("last_start", "Last run", 14, view=2),
        Column("last_id", "Run", 7, view=2, align="right"),
        Column("state", "Status", 9),
        Column("description", "Text", 0, view=2),
    )
    EMPTY_TEXT = "(No environments: press F6 to create one)"

    def page(self, anchor, limit: int) -> Page:
        from flash4i_tui.store import queries

        def fetch(direction: str, key: Any, n: int) -> List[Row]:
            if direction == "before":
                envs = queries.environments_page(before=key, limit=n) if key is not None \
                    else queries.environments_last(n)
            else:
                envs = queries.environments_page(after=key, limit=n, inclusive=direction == "from")
            return self.rows_of(envs)
        return keyset_page(fetch, anchor, limit)

    def rows_of(self, envs: Sequence[Any]) -> List[Row]:
        from flash4i_tui.store import queries
        if not envs:
            return []
        names = queries.partition_names()
        last = queries.newest_runs([e.id for e in envs])
        now = self.flash.now().replace(tzinfo=timezone.utc)
        rows = []
        for e in envs:
            run = last.get(e.id)
            rows.append(Row(e.name, {
                "name": e.name, "function": e.function, "source": names.get(e.source_id, ""),
                "clone": names.get(e.clone_id, ""), "next": self._next_run(e, now),
                "schedule": e.schedule or "", "description": e.description,
                "last_start": fmt_datetime(run.started_at or run.requested_at, self.flash.tz) if run else "",
                "last_id": str(run.id) if run else "", "state": run.state if run else "",
            }, state_style(run.state if run else None), order=e.name))
        return rows

    def _next_run(self, env, now) -> str:
        """When the scheduler will start ENV (its cron in the scheduler's zone), shown in local time."""
        if not env.schedule:
            return ""
        from flash4i_tui.engine.schedule import next_run
        due = next_run(env, now)
        return fmt_datetime(due, self.flash.tz) if due else "?"

    # ---- options
    def option_1(self, keys: List[Hashable]) -> None:
        self.flash.start_environment(str(keys[0]), self, then=self.option_done)

    def option_2(self, keys: List[Hashable]) -> None:
        self._edit("change", str(keys[0]))

    def option_3(self, keys: List[Hashable]) -> None:
        self._edit("copy", str(keys[0]))

    def fkey_6(self) -> None:
        from .envedit import EnvEditPanel
        self.open(EnvEditPanel("create"), self._edited)

    def _edit(self, mode: str, name: str) -> None:
        from .envedit import EnvEditPanel

        def returned(result: Any) -> None:
            self._edited(result)
            self.option_done(result)
        self.open(EnvEditPanel(mode, name), returned)

    def _edited(self, result: Any) -> None:
        if isinstance(result, str) and result != EXIT:
            self.message(result)
            self.reload()

    def option_4(self, keys: List[Hashable]) -> None:
        from .envedit import delete_environments
        rows = [self.row_cache.get(k) or Row(k, {"name": str(k)}) for k in keys]
        cols = [Column("name", "Environment", 11), Column("function", "Function", 8),
                Column("description", "Text", 50)]

        def confirmed(ok: Any) -> None:
            if ok is not True:
                self.option_done(ok)
                return
            names = [str(k) for k in keys]
            self.load(lambda: delete_environments(names), lambda text: (self.message(text), self.option_done()),
                      group="delete", exclusive=False)
        self.open(ConfirmPanel("Confirm Delete of Environments", "4=Delete", cols, rows), confirmed)

    def option_5(self, keys: List[Hashable]) -> None:
        from .envedit import display_panel
        self.open(display_panel(str(keys[0])), self.option_done)

    def option_8(self, keys: List[Hashable]) -> None:
        from .runpanel import RunPanel
        self.open(RunPanel(env=str(keys[0])), self.option_done)

    def option_12(self, keys: List[Hashable]) -> None:
        from .fldsphst import FlDspHstPanel
        self.open(FlDspHstPanel(env=str(keys[0])), self.option_done)

    def option_13(self, keys: List[Hashable]) -> None:
        """WRKFLRCVP ENV(name); an environment that keeps one generation gets the reason instead."""
        self.flash.work_with_recovery_points(str(keys[0]), self, then=self.option_done)
