"""A run leaves no connection open: the engine closes its storage drivers (StorageDriver.close)
and its SSH sessions when the run ends, on every family. Judged by the lab's own count of the
connections its servers hold (handshakes made, connections ended)."""
from __future__ import annotations

import time

import pytest

from .conftest import run_now
from .test_run_families import _family_lab

pytestmark = pytest.mark.lab


def open_after_the_run(lab, bound: float = 5.0) -> dict:
    """The connections the lab still holds once the servers have seen the client go (bounded)."""
    deadline = time.monotonic() + bound
    while lab.world.stats.open_connections() and time.monotonic() < deadline:
        time.sleep(0.05)
    return lab.world.stats.open_connections()


def test_an_svc_run_closes_every_connection(lab, lab_store):
    run = run_now("RCVPNT")
    assert run.state == "SUCCEEDED", run.message
    assert lab.world.stats.handshakes.get("svc:FS9500"), lab.world.stats.as_dict()
    assert open_after_the_run(lab) == {}


@pytest.fixture(params=["ds8000", "powermax"])
def family(request, tmp_path, monkeypatch):
    yield from _family_lab(request.param, tmp_path, monkeypatch)


def test_a_rest_run_closes_every_connection(family):
    name, lab, env = family
    run = run_now(env)
    assert run.state == "SUCCEEDED", run.message
    assert any(device.startswith(name) for device in lab.world.stats.handshakes), lab.world.stats.as_dict()
    assert open_after_the_run(lab) == {}
