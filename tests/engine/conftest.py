"""Helpers for end-to-end runs on the lab (the `lab` and `lab_store` fixtures are in tests/conftest.py), and
the lab whose RCVPNT keeps generations (`gen_lab`: the engine's tests and the WRKFLRCVP panel's)."""
from __future__ import annotations

import copy
import threading
from pathlib import Path

import pytest

from flash4i_tui.config.store_io import import_config, load_config_file
from flash4i_tui.engine import runner
from flash4i_tui.engine.queue import submit_run
from flash4i_tui.lab.server import Lab, load_topology
from flash4i_tui.store import models as m
from flash4i_tui.store import open_store

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


GENERATIONS = 4
GEN_VOLUMES = [[f"RG{k}_00{i}" for k in range(1, GENERATIONS + 1)] for i in range(1, 5)]   # per pair


def generations_topology() -> dict:
    """The shipped lab, with generation volumes on the array and RCVPNT keeping GENERATIONS generations."""
    topo = copy.deepcopy(load_topology())
    array = topo["storage"][0]
    array["volumes"] += [{"name": v, "size_gib": 80, "thin": True} for targets in GEN_VOLUMES for v in targets]
    env = next(e for e in topo["flash4i"]["environments"] if e["name"] == "RCVPNT")
    env["generations"] = GENERATIONS
    for pair, targets in zip(env["volumes"], GEN_VOLUMES):
        pair["targets"] = targets
    return topo


@pytest.fixture
def gen_lab(tmp_path):
    """That lab running, with its configuration imported into tmp_path/store.db."""
    with Lab(generations_topology(), tmp_path / "lab", speed=LAB_SPEED) as running:
        config = running.write_config(tmp_path / "lab.yaml")
        db = open_store(f"sqlite:///{tmp_path / 'store.db'}")
        import_config(load_config_file(config))
        yield running
        db.close()


__all__ = ["run_now", "steps_of", "lpar", "ibmi_state", "Path", "LAB_SPEED", "GENERATIONS", "GEN_VOLUMES",
           "generations_topology", "gen_lab"]
