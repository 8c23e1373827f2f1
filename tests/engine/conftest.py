"""Helpers for end-to-end runs on the lab (the `lab` and `lab_store` fixtures are in tests/conftest.py)."""
from __future__ import annotations

import threading
from pathlib import Path

from flash4i_tui.engine import runner
from flash4i_tui.engine.queue import submit_run
from flash4i_tui.lab.server import Lab
from flash4i_tui.store import models as m

from ..conftest import LAB_SPEED  # noqa: F401  (the fixtures lab and lab_store live in tests/conftest.py)


def run_now(env: str, poll: float = 0.05, cancel: threading.Event | None = None) -> m.Run:
    """Queue a run of ENV and execute it in this process, as a worker would; return the ended run."""
    run = submit_run(env, "pytest")
    m.Run.update(state="RUNNING", worker="pytest").where(m.Run.id == run.id).execute()
    runner.execute(run.id, cancel or threading.Event(), poll=poll)
    return m.Run.get_by_id(run.id)


def steps_of(run: m.Run) -> dict:
    return {s.name: s for s in run.steps}


def lpar(lab: Lab, name: str):
    system = lab.world.systems["P10-PROD"]
    return next(lp for lp in system.lpars.values() if lp.name == name)


def ibmi_state(lab: Lab, lpar_name: str):
    """The running IBM i's on-disk state of an LPAR (production: PROD)."""
    system = lab.world.systems["P10-PROD"]
    lp = lpar(lab, lpar_name)
    return lab.world.running[(system.name, lp.id)].state


__all__ = ["run_now", "steps_of", "lpar", "ibmi_state", "Path", "LAB_SPEED"]
