"""A running lab (real sockets) and a store holding its configuration, for end-to-end runs."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flash4i_tui.config.store_io import import_config, load_config_file
from flash4i_tui.engine import runner
from flash4i_tui.engine.queue import submit_run
from flash4i_tui.lab.server import Lab, load_topology
from flash4i_tui.store import models as m
from flash4i_tui.store import open_store

LAB_SPEED = 600.0     # an IPL of 10 lab minutes takes one real second


@pytest.fixture
def lab(tmp_path):
    """The shipped demo datacenter, started on loopback ports."""
    with Lab(load_topology(), tmp_path / "lab", speed=LAB_SPEED) as running:
        yield running


@pytest.fixture
def lab_store(lab, tmp_path):
    """A SQLite store with the lab's configuration imported."""
    config = lab.write_config(tmp_path / "lab.yaml")
    db = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    import_config(load_config_file(config))
    yield db
    db.close()


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
