"""The flash4i panels: the Textual app, its keys and commands (the theme is in screens.theme).

The app reads the store and queues runs; it never talks to a device. Starting a run is
`engine.queue.submit_run` followed by the ensure-worker hook (a worker process does the
run, so closing the terminal changes nothing).

Keys: every 5250 function key is an app-level priority binding whose id is the key's
name (`f1` ... `f24`, plus `enter`, `roll-up`, `roll-down`). F13-F24 answer to `f13` ...
`f24` and to `shift+f1` ... `shift+f12` (xterm sends the latter). A user keymap
(`$FLASH4I_HOME/keymap.yaml`, else `~/.config/flash4i/keymap.yaml`) maps binding ids
to keys, e.g. `f3: f3,ctrl+x`.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker

from flash4i_tui.errors import Flash4iError

from .command import CommandError, CommandSpec, fkey_of, parse
from .panel import EXIT, Panel
from .theme import GREEN_SCREEN
from .workers import StoreWorkers, WorkEnded

EnsureWorker = Callable[[Optional[str]], None]

FKEY_MEANING = {1: "Help", 3: "Exit", 4: "Prompt", 5: "Refresh", 9: "Retrieve", 12: "Cancel",
                17: "Top", 18: "Bottom", 23: "More options", 24: "More keys"}


def fkey_bindings() -> List[Binding]:
    out = []
    for n in range(1, 25):
        keys = f"f{n}" if n <= 12 else f"f{n},shift+f{n - 12}"
        if n == 12:
            keys = "f12,escape"            # Esc also cancels: some terminals have no F12 to spare
        out.append(Binding(keys, f"fkey({n})", FKEY_MEANING.get(n, f"F{n}"), show=False, priority=True,
                           id=f"f{n}"))
    out += [Binding("enter", "enter", "Enter", show=False, priority=True, id="enter"),
            Binding("pagedown", "roll(True)", "Roll up", show=False, priority=True, id="roll-up"),
            Binding("pageup", "roll(False)", "Roll down", show=False, priority=True, id="roll-down")]
    return out


def keymap_path() -> Path:
    home = os.environ.get("FLASH4I_HOME")
    if home and (Path(home) / "keymap.yaml").exists():
        return Path(home) / "keymap.yaml"
    return Path.home() / ".config" / "flash4i" / "keymap.yaml"


def load_keymap(path: Path) -> Dict[str, str]:
    """binding id -> keys ("f3,ctrl+x" or a list); raises ValueError with a short reason."""
    import yaml
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError("expected a mapping of binding id to keys")
    known = {b.id for b in fkey_bindings()}
    out: Dict[str, str] = {}
    for ident, keys in data.items():
        if ident not in known:
            raise ValueError(f"unknown binding id {ident!r} (known: f1..f24, enter, roll-up, roll-down)")
        if isinstance(keys, list):
            keys = ",".join(str(k) for k in keys)
        if not isinstance(keys, str) or not keys.strip():
            raise ValueError(f"{ident}: give the keys as text, e.g. 'f3,ctrl+x'")
        out[str(ident)] = keys.replace(" ", "")
    return out


def default_system_name() -> str:
    """The name on line 1 when none is given: $FLASH4I_SYSTEM_NAME, else this host's name."""
    name = os.environ.get("FLASH4I_SYSTEM_NAME") or socket.gethostname().split(".")[0]
    return name.upper()[:8]


class Flash4iApp(App):
    """The 5250-style panels over the store.

    Hooks for tests and the demo: `clock` (naive UTC now), `tz` (the panels' time zone),
    `ensure_worker` (called with the store URL after a run is queued), `system_name`,
    `keymap_file`.
    """

    CSS_PATH = "flash4i.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = fkey_bindings()

    def __init__(self, db_url: Optional[str] = None, start: Optional[str] = None, *,
                 system_name: Optional[str] = None, clock: Optional[Callable[[], datetime]] = None,
                 tz: Optional[tzinfo] = None, ensure_worker: Optional[EnsureWorker] = None,
                 keymap_file: Optional[Path] = None, open_db: bool = True, greeting: str = ""):
        super().__init__()
        self.greeting = greeting            # shown on the message line of the first panel
        from flash4i_tui.store.db import resolve_url, utcnow
        self.db_url = resolve_url(db_url)
        self.start_command = start
        self.system_name = system_name or default_system_name()
        self.clock = clock or utcnow
        self.tz = tz
        self.ensure_worker = ensure_worker
        self.keymap_file = keymap_file
        self.open_db = open_db
        self.command_history: List[str] = []
        self.base_panel: Optional[Panel] = None
        self.jobs = StoreWorkers(self)
        self.register_theme(GREEN_SCREEN)
        self.theme = GREEN_SCREEN.name      # before the first paint: the stylesheet is built once

    def now(self) -> datetime:
        return self.clock()

    # ---- start-up
    def on_mount(self) -> None:
        problem = self._apply_keymap()
        if self.open_db:
            from flash4i_tui.store import open_store
            open_store(self.db_url)
        panel, error = self._start_panel()
        self.base_panel = panel
        self.push_screen(panel)
        note = error or problem or self.greeting
        if note:
            self.call_after_refresh(panel.message, note)

    def _apply_keymap(self) -> str:
        path = self.keymap_file or keymap_path()
        if not path.exists():
            return ""
        try:
            self.set_keymap(load_keymap(path))
        except (OSError, ValueError) as exc:
            return f"Keymap {path} not used: {exc}"
        except Exception as exc:       # a YAML syntax error: the panels still start
            return f"Keymap {path} not used: {str(exc).splitlines()[0]}"
        return ""

    def _start_panel(self) -> tuple:
        from .wrkflenv import WrkFlEnvPanel
        if self.start_command:
            try:
                cmd = parse(self.start_command)
                if cmd.name not in ("STRFLENV", "ENDFLRUN"):
                    return self.panel_for(cmd.name, cmd.values), ""
            except CommandError as exc:
                return WrkFlEnvPanel(), str(exc)
        return WrkFlEnvPanel(), ""

    def is_base(self, panel: Panel) -> bool:
        return panel is self.base_panel

    # ---- keys
    def _panel(self) -> Optional[Panel]:
        screen = self.screen
        return screen if isinstance(screen, Panel) else None

    def action_fkey(self, number: int) -> None:
        panel = self._panel()
        if panel is not None:
            panel.fkey(number)

    def action_enter(self) -> None:
        panel = self._panel()
        if panel is not None:
            # Enter is a priority binding, so it reaches the app before the focused field has taken
            # the keys typed just before it (a fast typist, a script, a paste): queue the Enter
            # behind them on that field.
            (self.focused or panel).call_later(panel.press_enter)

    def action_roll(self, forward: bool) -> None:
        panel = self._panel()
        if panel is not None:
            panel.roll(forward)

    # ---- commands
    def panel_for(self, name: str, values: Dict[str, str]) -> Panel:
        from .fldsphst import FlDspHstPanel
        from .logview import LogViewPanel
        from .runpanel import RunPanel
        from .wrkfldfn import WrkFlDfnPanel
        from .wrkflenv import WrkFlEnvPanel
        env = values.get("ENV")
        env = None if env in (None, "*ALL") else env
        if name == "WRKFLENV":
            return WrkFlEnvPanel()
        if name == "FLDSPHST":
            return FlDspHstPanel(env=env)
        if name == "WRKFLRUN":
            run = values.get("RUN", "*LAST")
            return RunPanel(run_id=None if run == "*LAST" else int(run), env=env)
        if name == "DSPFLLOG":
            return LogViewPanel(int(values["RUN"]), values.get("LOG", "*QHST").lstrip("*"))
        if name == "WRKFLDFN":
            return WrkFlDfnPanel()
        if name == "WRKFLRCVP":
            from .wrkflrcvp import WrkFlRcvpPanel
            return WrkFlRcvpPanel(values["ENV"])
        raise CommandError(f"CPD0030 Command {name} not found.")

    def prompt_for(self, spec: CommandSpec, values: Dict[str, str]) -> Panel:
        """F4: the prompt panel of a command, with the VALUES typed so far."""
        from .prompt import CommandPrompt
        return CommandPrompt(spec, values)

    def run_command(self, text: str, origin: Panel) -> bool:
        """Run a command line typed on ORIGIN; False (and the reason on the message line) if it failed."""
        number = fkey_of(text)
        if number is not None:
            origin.fkey(number)
            return True
        self.command_history.append(text)
        try:
            cmd = parse(text)
            if cmd.name == "STRFLENV":
                self.start_environment(cmd.values["ENV"], origin)
            elif cmd.name == "ENDFLRUN":
                self.end_run(int(cmd.values["RUN"]), origin)
            elif cmd.name == "WRKFLRCVP":
                self.work_with_recovery_points(cmd.values["ENV"], origin)
            else:
                origin.open(self.panel_for(cmd.name, cmd.values))
        except CommandError as exc:
            origin.message(str(exc))
            if origin.command_line is not None:
                origin.command_line.value = text
            return False
        return True

    # ---- services the panels share (app-level workers: they finish even if the panel goes)
    def store_job(self, fn: Callable[[], Any], done: Callable[[Any], None],
                  failed: Callable[[BaseException], None], description: str = "") -> Worker:
        return self.jobs.start(fn, done, failed, group="jobs", description=description)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.jobs.state_changed(event)

    @on(WorkEnded)
    def job_ended(self, message: WorkEnded) -> None:
        self.jobs.deliver(message)

    def report_error(self, exc: BaseException, panel: Optional[Panel] = None) -> None:
        """The one place worker and option errors become a message-line text."""
        if isinstance(exc, Flash4iError):
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        else:
            text = f"Internal error: {type(exc).__name__}: {exc}"
        target = panel if panel is not None and panel.is_attached else self._panel()
        if target is not None:
            target.message(text)

    def start_environment(self, env_name: str, origin: Panel,
                          then: Optional[Callable[[Any], None]] = None) -> None:
        """STRFLENV / option 1: queue a run, make sure a worker runs it, show the live run panel."""
        from .runpanel import RunPanel

        def work() -> tuple:
            from flash4i_tui.engine.queue import submit_run
            run = submit_run(env_name)
            return run.id, self.start_worker()

        def done(result: tuple) -> None:
            run_id, note = result
            if origin.is_attached:
                origin.open(RunPanel(run_id=run_id, note=note or f"Run {run_id} of {env_name} queued."), then)

        def failed(exc: BaseException) -> None:
            self.report_error(exc, origin)
            if then is not None:
                then(EXIT)          # a refused start ends the option processing, as a 5250 error does

        self.store_job(work, done, failed, description=f"start {env_name}")

    def work_with_recovery_points(self, env_name: str, origin: Panel,
                                  then: Optional[Callable[[Any], None]] = None) -> None:
        """WRKFLRCVP typed on a panel, or WRKFLENV's option 13: its panel once the environment is known
        to keep generations; otherwise the reason on ORIGIN's message line, rather than an empty panel
        (THEN, the option processing, then ends as after any refused option)."""
        from .wrkflrcvp import WrkFlRcvpPanel, check_environment

        def done(_: Any) -> None:
            if origin.is_attached:
                origin.open(WrkFlRcvpPanel(env_name), then)

        def failed(exc: BaseException) -> None:
            self.report_error(exc, origin)
            if then is not None:
                then(EXIT)
        self.store_job(lambda: check_environment(env_name), done, failed, description=f"check {env_name}")

    def start_worker(self) -> str:
        """Call the ensure-worker hook (in a worker thread); a note for the operator if it failed."""
        hook = self.ensure_worker
        if hook is None:
            try:      # the light launcher: importing the worker itself would pull in every driver
                from flash4i_tui.engine.launch import ensure_worker as hook
            except ImportError as exc:
                return f"Run queued, but no worker could be started: {exc}."
        try:
            hook(self.db_url)
        except Exception as exc:
            return f"Run queued, but no worker could be started: {exc}"
        return ""

    def end_run(self, run_id: int, origin: Panel) -> None:
        """ENDFLRUN / F16 on the run panel: ask the run to stop at its next safe point."""
        def work() -> str:
            from flash4i_tui.engine.queue import request_cancel
            from flash4i_tui.store import queries
            queries.run(run_id)
            run = request_cancel(run_id)
            if run.state == "CANCELLED":
                return f"Run {run_id} cancelled."
            if run.state == "RUNNING":
                return f"End of run {run_id} requested; it stops at the next safe point."
            return f"Run {run_id} already ended ({run.state})."

        self.store_job(work, origin.message, lambda exc: self.report_error(exc, origin),
                       description=f"end run {run_id}")


def run_app(db_url: Optional[str] = None, start: Optional[str] = None, *, system_name: Optional[str] = None,
            ensure_worker: Optional[EnsureWorker] = None, greeting: str = "") -> int:
    """Open the panels on the store at DB_URL (the CLI's `flash4i` / `flash4i tui`).

    START is a command to open first (`FLDSPHST ENV(NIGHTLY)`; default WRKFLENV); SYSTEM_NAME
    the name on line 1 (default $FLASH4I_SYSTEM_NAME or the host name); ENSURE_WORKER replaces
    `engine.launch.ensure_worker` (the demo passes its own).
    """
    from flash4i_tui.store import open_store
    open_store(db_url)                 # a store that cannot be opened is one CLI error line, before the screen
    app = Flash4iApp(db_url, start, system_name=system_name, ensure_worker=ensure_worker, open_db=False,
                     greeting=greeting)
    app.run()
    return int(app.return_code or 0)
