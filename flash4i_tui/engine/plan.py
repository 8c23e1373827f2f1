"""Plans: the list of steps of a run, per function, each with its bound.

The same definitions serve the runner and `flash4i plan`, so what the plan prints is what
the run does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional

from . import functions, steps
from .context import Defs, RunContext

# Phases of a run, in order. The runner uses them to decide what to do after a failure or a
# worker restart: production is resumed whenever the phase is inside the suspend window.
PHASES = ("NEW", "PREPARED", "SUSPENDING", "SUSPENDED", "FLASHED", "RESUMED", "RESUMED_NO_FLASH",
          "CLONE_STARTED", "DONE")
SUSPEND_WINDOW = ("SUSPENDING", "SUSPENDED", "FLASHED")


@dataclass(frozen=True)
class StepDef:
    name: str
    run: Callable[[RunContext], Optional[str]]
    bound: Callable[[Defs], float]               # seconds
    applies: Callable[[Defs], bool] = lambda defs: True
    why_skipped: str = ""


def _fixed(seconds: float) -> Callable[[Defs], float]:
    return lambda defs: seconds


STEPS: List[StepDef] = [
    StepDef("CHECK", steps.check, _fixed(300)),
    StepDef("STOP_CLONE", steps.stop_clone, _fixed(3600)),
    StepDef("UNMAP_VIOS", steps.unmap_vios, _fixed(600), lambda d: d.vscsi, "NPIV attachment"),
    StepDef("PREPARE_FLASH", steps.prepare_flash,
            lambda d: float((d.storage.options or {}).get("prepare_timeout", 300)) + 120),
    StepDef("WRITE_CLONE_ORDER", steps.write_clone_order, _fixed(120)),
    StepDef("QUIESCE", steps.quiesce, lambda d: d.env["quiesce"]["timeout"] + steps.QUIESCE_LOCK_WAIT + 120),
    StepDef("FLASH", steps.flash, _fixed(60)),       # production is suspended: fail fast, resume
    StepDef("RESUME", steps.resume, _fixed(300)),
    # Only in plans of families whose targets change after the flash (PowerMax: link the snapshot).
    StepDef("ACTIVATE_TARGETS", steps.activate_targets, _fixed(900)),
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
