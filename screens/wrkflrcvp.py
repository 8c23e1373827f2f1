"""WRKFLRCVP: Work with Flash Recovery Points, the generations an environment keeps (issue 13).

One line per generation (`flash4i rcvpnt list` on a panel); 5 shows one with its targets, 9 boots
it (the emergency boot) after a confirmation that names the generation and the partition.

The boot is `flash4i rcvpnt boot` in a process of its own, started and waited for from an
app-level thread worker, so the panel stays responsive and the boot goes to its end even if the
terminal closes half-way (its disks copied but the clone not yet at its console would be the worst
place to stop). Panels never import drivers, and the boot talks to the HMC and the storage; what
the command prints (the generation, then what to type at the console) is what the result panel
shows, and its error line is what the message line shows.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Dict, Hashable, List, Optional

from rich.text import Text
from textual.widgets import Static
from textual.worker import get_current_worker

from .fmt import fmt_bytes, fmt_datetime, fmt_proven, leader
from .layout import Anchor, Column, Page, Row, heading_above, page_of, state_style
from .panel import ConfirmPanel, DisplayPanel, EXIT, ListPanel
from .theme import HEADING_STYLE


# ------------------------------------------------------------------ the store (worker threads)

def check_environment(name: str) -> Any:
    """The environment NAME, if it keeps generations; NotFound or ValidationError with the reason."""
    from flash4i_tui.engine.generations import generations_of
    from flash4i_tui.errors import ValidationError
    from flash4i_tui.store import queries
    env = queries.environment(name)
    if generations_of(env) <= 1:
        raise ValidationError(f"Environment {env.name} keeps no recovery points in generations (generations: "
                              f"{generations_of(env)}): WRKFLRCVP shows environments that keep several.")
    return env


def _clone_text(env: Any) -> str:
    clone = env.clone
    return f"{clone.name} ({clone.lpar_name} on {clone.managed_system.name})"


def header_lines(name: str) -> List[str]:
    env = check_environment(name)
    return ["", " " + leader("Environment", 20) + "  " + env.name,
            " " + leader("Clone partition", 20) + "  " + _clone_text(env)]


def points_of(name: str) -> List[Dict[str, Any]]:
    """`generations.listing` of NAME; none for an environment that is gone or keeps no generations
    (the header's check says which)."""
    from flash4i_tui.engine.generations import generations_of, listing
    from flash4i_tui.store import models as m
    env = m.Environment.get_or_none(m.Environment.name == name)
    return listing(env) if env is not None and generations_of(env) > 1 else []


def point_row(point: Dict[str, Any], tz) -> Row:
    gen = point["generation"]
    return Row(gen, {
        "gen": str(gen), "group": point["consistency_group"], "taken": fmt_datetime(point["taken_at"], tz),
        "run": str(point["run"] or ""), "state": point["state"], "space": fmt_bytes(point["space_used_bytes"]),
        "proven": fmt_proven(point["proven"]),
    }, state_style(point["run_state"]), order=gen)


@dataclass
class BootTarget:
    """What the confirmation names: the generation and the partition it is booted on."""
    env: str
    generation: int
    taken: str
    run: str
    clone: str
    lpar_name: str
    system: str
    disks: List[str]


def boot_target(name: str, generation: int, tz) -> BootTarget:
    """Generation GENERATION of NAME, refused here (before the confirmation) when it holds nothing."""
    from flash4i_tui.errors import NotFound
    from flash4i_tui.store import models as m
    env = check_environment(name)
    point = next((p for p in points_of(name) if p["generation"] == generation), None)
    if point is None or point["taken_at"] is None:
        state = point["state"] if point is not None else "never used"
        raise NotFound(f"Generation {generation} of {env.name} holds no recovery point ({state}).")
    clone = env.clone
    disks = [p.target for p in env.volume_pairs.order_by(m.VolumePair.seq)]
    return BootTarget(env.name, generation, fmt_datetime(point["taken_at"], tz, seconds=True), str(point["run"] or ""),
                      clone.name, clone.lpar_name, clone.managed_system.name, disks)


def point_lines(name: str, generation: int, tz) -> List[Any]:
    """5=Display: one generation in full, with its targets."""
    from flash4i_tui.store import models as m
    env = check_environment(name)
    point = next(p for p in points_of(name) if p["generation"] == generation)

    def line(label: str, value: Any) -> str:
        return " " + leader(label, 28) + "  " + ("" if value is None else str(value))
    pairs = list(env.volume_pairs.order_by(m.VolumePair.seq))
    lines: List[Any] = [
        line("Environment", env.name), line("Generation", generation),
        line("Consistency group", point["consistency_group"]),
        line("Taken", fmt_datetime(point["taken_at"], tz, seconds=True)), line("Run", point["run"]),
        line("Run status", point["run_state"]), line("State on the storage", point["state"]),
        line("Space used", fmt_bytes(point["space_used_bytes"])), line("Proven", fmt_proven(point["proven"])),
        line("Clone partition", _clone_text(env)), "",
        Text("   Target      Copy of     Booted onto", style=HEADING_STYLE),
    ]
    for target, pair in zip(point["targets"], pairs):          # per pair, in order
        lines.append(f"   {target:<10}  {pair.source:<10}  {pair.target}")
    if not point["targets"]:
        lines.append("   (none: a targetless snapshot of the sources)")
    return lines


# ------------------------------------------------------------------ the boot (its own process)

def run_boot(db_url: str, env: str, generation: int, cancelled: Callable[[], bool] = lambda: False) -> List[str]:
    """`flash4i rcvpnt boot ENV --generation G` in a process of its own: the lines it printed, or a
    Flash4iError with its error line. The process has its own session and writes to files, not
    pipes, so neither a closed terminal nor the panels ending (CANCELLED() turns true: this stops
    waiting) stops it half-way. The store URL goes in the environment, never on the command line
    (it may hold a password)."""
    from flash4i_tui.errors import Flash4iError
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "flash4i_tui", "rcvpnt", "boot", env, "--generation",
                                 str(generation)], env=dict(os.environ, FLASH4I_DB=db_url), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, start_new_session=True, close_fds=True)
        while True:
            try:
                code = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if cancelled():
                    raise Flash4iError(f"The boot goes on in process {proc.pid}: see the clone's console.")
        out.seek(0)
        err.seek(0)
        printed, errors = (f.read().decode("utf-8", "replace").splitlines() for f in (out, err))
    if code == 0:
        return printed
    errors = [line[len("flash4i: "):] if line.startswith("flash4i: ") else line for line in errors if line.strip()]
    raise Flash4iError(errors[0] if errors else f"flash4i rcvpnt boot ended with code {code}.")


def wrapped(lines: List[str], width: int = 78) -> List[str]:
    """The command's lines for the panel: wrapped, a numbered step's continuation under its text."""
    out: List[str] = []
    for line in lines:
        hang = len(re.match(r"\s*(\d+\.\s+)?", line).group(0))
        out += textwrap.wrap(line[hang:].strip(), width - 1, initial_indent=" " + line[:hang],
                             subsequent_indent=" " * (hang + 1), break_on_hyphens=False) or [""]
    return out


# ------------------------------------------------------------------ panels

class ConfirmBootPanel(ConfirmPanel):
    """Enter boots the generation shown onto the clone partition; F12 goes back, changing nothing."""

    COLUMNS = (Column("env", "Environment", 11), Column("gen", "Gen", 3, align="right"),
               Column("taken", "Taken", 17), Column("run", "Run", 7, align="right"),
               Column("clone", "Clone", 10), Column("system", "Managed system", 20))

    def __init__(self, target: BootTarget, **kw):
        row = Row(target.generation, {"env": target.env, "gen": str(target.generation), "taken": target.taken,
                                      "run": target.run, "clone": target.clone, "system": target.system})
        super().__init__("Confirm Boot of Recovery Point", "9=Boot", self.COLUMNS, [row], **kw)
        self.target = target

    def compose_body(self):
        yield from super().compose_body()
        t = self.target
        text = (f"Generation {t.generation} of environment {t.env}, taken {t.taken}, is booted on clone partition "
                f"{t.clone} ({t.lpar_name} on managed system {t.system}). The clone's own disks "
                f"({', '.join(t.disks)}) are overwritten with generation {t.generation}; then {t.clone} IPLs in "
                "manual mode: it stops at its console, so its startup program does not run and TCP/IP does not "
                f"start. Production's disks and generation {t.generation} itself are not changed.")
        yield Static(Text("\n".join([""] + wrapped([text]))), id="warning")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#body").styles.height = "auto"      # the explanation follows the line it is about
        self.query_one("#warning").styles.height = "1fr"


class WrkFlRcvpPanel(ListPanel):
    """The recovery points of an environment that keeps generations (WRKFLRCVP ENV(name)):
    one line per generation with the time it was taken, the run that took it, its state on
    the storage, the space it uses and whether its copy was proven. 5 shows a generation and
    its target volumes. 9 boots it after a confirmation (the emergency boot): the clone's own
    disks are overwritten with that generation and the clone IPLs in manual mode, stopping at
    its console; the panel then shows what to type there."""

    TITLE_TEXT = "Work with Flash Recovery Points"
    OPTIONS = (("5", "Display"), ("9", "Boot"))
    FKEYS = ((3, "Exit"), (4, "Prompt"), (5, "Refresh"), (9, "Retrieve"), (12, "Cancel"), (17, "Top"),
             (18, "Bottom"))
    COLUMNS = (                                  # 74 columns: all of them fit on 80
        Column("gen", "Gen", 3, align="right"),
        Column("group", "group", 15),                # a group name has 15 characters at most
        Column("taken", "Taken", 14),
        Column("run", "Run", 6, align="right"),
        Column("state", "State", 14),                # idle_or_copied
        Column("space", "used", 9, align="right"),
        Column("proven", "Proven", 6),
    )
    GROUP_HEADING = heading_above(COLUMNS, {"group": "Consistency", "space": "Space"})
    EMPTY_TEXT = "(No recovery points)"

    def __init__(self, env: str, **kw):
        super().__init__(**kw)
        self.env = env
        self.booting: Optional[int] = None        # the generation whose boot runs now

    def on_mount(self) -> None:
        super().on_mount()
        self.set_header(["", " " + leader("Environment", 20) + "  " + self.env])
        self.load(lambda: header_lines(self.env), self.set_header, group="check")

    def page(self, anchor: Anchor, limit: int) -> Page:
        tz = self.flash.tz
        return page_of([point_row(p, tz) for p in points_of(self.env)], anchor, limit)

    def option_5(self, keys: List[Hashable]) -> None:
        env, gen, tz = self.env, int(str(keys[0])), self.flash.tz
        self.open(DisplayPanel("Display Recovery Point", loader=lambda: point_lines(env, gen, tz)), self.option_done)

    def option_9(self, keys: List[Hashable]) -> None:
        if self.booting is not None:
            self.message(f"Generation {self.booting} of {self.env} is being booted: wait for it to end.")
            self.option_done(EXIT)
            return
        env, gen, tz = self.env, int(str(keys[0])), self.flash.tz
        self.load(lambda: boot_target(env, gen, tz), self._confirm, group="boot",
                  failed=lambda _: self.option_done(EXIT))

    def _confirm(self, target: BootTarget) -> None:
        def confirmed(ok: Any) -> None:
            if ok is True:
                self._boot(target)
            self.option_done(None if ok is True else ok)
        self.open(ConfirmBootPanel(target), confirmed)

    def _boot(self, target: BootTarget) -> None:
        self.booting = target.generation
        self.message(f"Booting generation {target.generation} of {target.env} on {target.clone}: it may take "
                     "minutes; the panel stays usable.")
        url = self.flash.db_url

        def done(lines: List[str]) -> None:
            self.booting = None
            result = DisplayPanel("Recovery Point Booted", wrapped(lines))
            if self.is_attached:
                self.open(result, lambda _: self.reload())
            else:                   # the operator left this panel meanwhile: the next steps still show
                self.app.push_screen(result)

        def failed(exc: BaseException) -> None:
            self.booting = None
            self.flash.report_error(exc, self)

        def work() -> List[str]:
            worker = get_current_worker()              # the app's, cancelled when the panels end
            return run_boot(url, target.env, target.generation, cancelled=lambda: worker.is_cancelled)

        self.flash.store_job(work, done, failed,
                             description=f"boot {target.env} generation {target.generation}")
