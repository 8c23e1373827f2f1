"""Plans: the list of steps of a run, per function, each with its bound.

The same definitions serve the runner and `flash4i plan`, so what the plan prints is what
the run does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Union

from . import functions, steps
from .context import Defs, RunContext
from .phases import PHASES, SUSPEND_WINDOW  # noqa: F401  (re-exported: the plan's vocabulary)


@dataclass(frozen=True)
class StepDef:
    name: str
    run: Callable[[RunContext], Optional[str]]
    bound: Callable[[Defs], float]               # seconds
    applies: Callable[[Defs], bool] = lambda defs: True
    why_skipped: Union[str, Callable[[Defs], str]] = ""
    # The step every path out of the suspend window goes through (the resume). It is never
    # cancelled, and runs only while the phase is inside the window.
    cleanup: bool = False
    # Runs while production is suspended: a stopping worker ends its hung command at once.
    inside_suspend: bool = False
    # Must not happen twice (a second flash would overwrite the first copy). When it fails or
    # its worker died, CONFIRM asks the device whether it happened after all: a detail if so,
    # None if not.
    never_twice: bool = False
    confirm: Optional[Callable[[RunContext], Optional[str]]] = None

    def skip_reason(self, defs: Defs) -> str:
        return self.why_skipped(defs) if callable(self.why_skipped) else self.why_skipped


def _fixed(seconds: float) -> Callable[[Defs], float]:
    return lambda defs: seconds


_RECOVERY_POINT = "generations: the run takes a recovery point; the clone and its disks are not touched"

STEPS: List[StepDef] = [
    StepDef("CHECK", steps.check, _fixed(300)),
    StepDef("STOP_CLONE", steps.stop_clone, _fixed(3600), lambda d: d.generation is None, _RECOVERY_POINT),
    StepDef("UNMAP_VIOS", steps.unmap_vios, _fixed(600), lambda d: d.vscsi and d.generation is None,
            lambda d: "NPIV attachment" if d.generation is None else _RECOVERY_POINT),
    StepDef("PREPARE_FLASH", steps.prepare_flash,
            lambda d: float((d.storage.options or {}).get("prepare_timeout", 300)) + 120),
    StepDef("WRITE_CLONE_ORDER", steps.write_clone_order, _fixed(120)),
    StepDef("QUIESCE", steps.quiesce, lambda d: d.env["quiesce"]["timeout"] + steps.QUIESCE_LOCK_WAIT + 120,
            inside_suspend=True),
    # Production is suspended: fail fast, resume.
    StepDef("FLASH", steps.flash, _fixed(60), inside_suspend=True, never_twice=True, confirm=steps.flash_confirmed),
    StepDef("RESUME", steps.resume, _fixed(300), cleanup=True),
    # Only in plans of families whose targets change after the flash (PowerMax: link the snapshot).
    # A generation is a targetless snapshot there: linked only when booted (flash4i rcvpnt boot).
    StepDef("ACTIVATE_TARGETS", steps.activate_targets, _fixed(900), lambda d: d.generation is None,
            "generations: a targetless snapshot, linked only when booted"),
    StepDef("MAP_VIOS", steps.map_vios, _fixed(600), lambda d: d.vscsi and d.starts_clone,
            "NPIV attachment, or the clone is not started"),
    StepDef("START_CLONE", steps.start_clone, lambda d: float(d.env["ipl_timeout"]) + 60,
            lambda d: d.starts_clone, "function *NONE: the clone is not started"),
    StepDef("FUNCTION", functions.run_function, functions.bound, lambda d: d.starts_clone,
            "function *NONE: flash only"),
    StepDef("COLLECT_LOGS", functions.collect_logs, _fixed(3600), lambda d: d.starts_clone,
            "function *NONE: no clone logs"),
    StepDef("FINISH", steps.finish, _fixed(3700)),
]

STEP_NAMES = [s.name for s in STEPS]


def plan_for(defs: Defs) -> List[StepDef]:
    """Every step, in order (skipped ones included, so the record shows why they were skipped).
    ACTIVATE_TARGETS belongs to the plans of the storage families that need it only."""
    from ..devices.storage import ACTIVATING_FAMILIES
    activating = defs.storage.type in ACTIVATING_FAMILIES
    return [s for s in STEPS if s.name != "ACTIVATE_TARGETS" or activating]


def step_named(name: str) -> StepDef:
    return next(s for s in STEPS if s.name == name)


CLEANUP = next(s for s in STEPS if s.cleanup)
