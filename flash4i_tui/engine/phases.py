"""The phases of a run as data: one table of phase x event -> next phase, and the steps each
phase allows. The steps, the runner and the recovery after a worker restart all go through it,
so a run can never take a path the table does not have (a second flash, a step that needs the
copy before it exists).
"""
from __future__ import annotations

from typing import Dict, FrozenSet, Tuple

from ..errors import Flash4iError

PHASES = ("NEW", "PREPARED", "SUSPENDING", "SUSPENDED", "FLASHED", "RESUMED", "RESUMED_NO_FLASH", "CLONE_STARTED",
          "DONE")

# Production may be suspended in these: every way out of them goes through the cleanup step.
SUSPEND_WINDOW = ("SUSPENDING", "SUSPENDED", "FLASHED")

TRANSITIONS: Dict[Tuple[str, str], str] = {
    ("NEW", "prepared"): "PREPARED",
    ("PREPARED", "prepared"): "PREPARED",              # PREPARE_FLASH run again after a restart
    ("PREPARED", "suspending"): "SUSPENDING",
    ("SUSPENDING", "suspended"): "SUSPENDED",
    ("SUSPENDING", "resumed"): "RESUMED_NO_FLASH",     # the suspend failed, or its answer was lost
    ("SUSPENDED", "flashed"): "FLASHED",
    ("SUSPENDED", "resumed"): "RESUMED_NO_FLASH",
    ("FLASHED", "resumed"): "RESUMED",
    # The start command got no answer (or its worker died) and the storage shows the group
    # started: the copy exists, taken while production was suspended.
    ("RESUMED_NO_FLASH", "flash_confirmed"): "RESUMED",
    ("RESUMED", "clone_started"): "CLONE_STARTED",
    ("CLONE_STARTED", "clone_started"): "CLONE_STARTED",   # START_CLONE run again after a restart
    ("NEW", "done"): "DONE",                           # a run refused before it touched anything
    ("PREPARED", "done"): "DONE",
    ("RESUMED", "done"): "DONE",
    ("CLONE_STARTED", "done"): "DONE",
}

_BEFORE = frozenset({"CHECK", "STOP_CLONE", "UNMAP_VIOS", "PREPARE_FLASH", "WRITE_CLONE_ORDER"})
_AFTER = frozenset({"ACTIVATE_TARGETS", "MAP_VIOS", "START_CLONE", "FUNCTION", "COLLECT_LOGS", "FINISH"})

STEPS_ALLOWED: Dict[str, FrozenSet[str]] = {
    "NEW": _BEFORE,
    "PREPARED": _BEFORE | {"QUIESCE"},
    "SUSPENDING": frozenset({"QUIESCE", "RESUME"}),
    "SUSPENDED": frozenset({"FLASH", "RESUME"}),
    "FLASHED": frozenset({"RESUME"}),
    "RESUMED": _AFTER,
    "CLONE_STARTED": _AFTER,
    "RESUMED_NO_FLASH": frozenset(),
    "DONE": frozenset(),
}


class PhaseError(Flash4iError):
    """A step or event that the phase table does not allow: a bug, never a device's fault."""


def next_phase(phase: str, event: str) -> str:
    try:
        return TRANSITIONS[(phase, event)]
    except KeyError:
        raise PhaseError(f"event {event!r} is not allowed in phase {phase}") from None


def allows(phase: str, step: str) -> bool:
    return step in STEPS_ALLOWED.get(phase, frozenset())


def check_table() -> None:
    """Every phase named in the table is declared, and every declared phase has its steps."""
    named = {phase for phase, _ in TRANSITIONS} | set(TRANSITIONS.values())
    unknown = (named - set(PHASES)) | (set(STEPS_ALLOWED) ^ set(PHASES))
    if unknown:
        raise PhaseError(f"phase table names undeclared phases: {sorted(unknown)}")
