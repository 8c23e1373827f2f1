"""Fixtures for the monitoring tests: the sample configuration in a store, runs with fixed
timestamps, and lab devices (Storage Virtualize and HMC fronts on loopback) the store points at."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional, Sequence, Tuple

import paramiko
import pytest

from flash4i_tui.config.store_io import import_config, load_config_file
from flash4i_tui.store import models as m

from ..conftest import SAMPLE
from ..lab.hmc_support import SPEED, install_fake_boot, topology, wait_for

NOW = datetime(2024, 6, 2, 8, 0, 0)           # naive UTC, like the store
NIGHTLY_PAIRS = [("PROD_001", "CLN1_001"), ("PROD_002", "CLN1_002"), ("PROD_003", "CLN1_003"),
                 ("PROD_004", "CLN1_004")]


@pytest.fixture
def sample(sqlite_store):
    import_config(load_config_file(SAMPLE))
    return sqlite_store


def add_run(env_name: str, state: str, ended: Optional[datetime] = None, duration: Optional[float] = 812.0,
            suspended: Optional[float] = 0.42, space: Optional[int] = 123456789, message: str = "",
            phase: str = "DONE", heartbeat: Optional[datetime] = None, current_step: Optional[str] = None,
            steps: Sequence[Tuple[str, str, Optional[datetime], Optional[float]]] = (),
            requested: Optional[datetime] = None, proven: Optional[bool] = None) -> m.Run:
    """A run of ENV_NAME with fixed timestamps; STEPS: (name, status, started_at, bound_seconds)."""
    env = m.Environment.get(m.Environment.name == env_name)
    started = (ended - timedelta(seconds=duration or 0)) if ended else (requested or NOW - timedelta(minutes=30))
    run = m.Run.create(environment=env, env_name=env.name, function=env.function, state=state,
                       requested_by="test", requested_at=requested or started - timedelta(seconds=5),
                       started_at=None if state == "QUEUED" else started, ended_at=ended,
                       duration=duration if ended else None, suspended_seconds=suspended, space_used_bytes=space,
                       message=message, phase=phase, heartbeat_at=heartbeat, current_step=current_step,
                       proven=proven)
    for seq, (name, status, step_started, bound) in enumerate(steps):
        m.Step.create(run=run, seq=seq, name=name, status=status, started_at=step_started, bound_seconds=bound)
    return run


class MonitorLab:
    """The topology's FS9500 and HMC1 in one lab world, served on 127.0.0.1, with the store's
    HMC and storage rows pointing at them (a client key and a known_hosts file in TMP)."""

    def __init__(self, tmp: Path, monkeypatch):
        from flash4i_tui.lab.hmc.cli import HmcFront
        from flash4i_tui.lab.hmc.model import build_hmcs
        from flash4i_tui.lab.svc import SvcFront, build_arrays
        from flash4i_tui.lab.world import World

        self.boot = install_fake_boot(monkeypatch)
        data = topology()
        self.world = World(speed=SPEED)            # no ticker: the copy progresses only when a test says so
        build_arrays(self.world, copy.deepcopy(data["storage"]))
        build_hmcs(self.world, copy.deepcopy(data["hmcs"]))
        self.array = self.world.arrays["FS9500"]
        client = paramiko.ECDSAKey.generate(bits=256)
        self.key_file = tmp / "id_lab"
        client.write_private_key_file(str(self.key_file))
        self.key_file.chmod(0o600)
        svc_key, hmc_key = paramiko.ECDSAKey.generate(bits=256), paramiko.ECDSAKey.generate(bits=256)
        self.svc = SvcFront(self.array, svc_key, [client.get_base64()])
        self.hmc = HmcFront(self.world, self.world.hmcs["HMC1"], hmc_key, {"hscroot": {client.get_base64()}})
        self.svc_port, self.hmc_port = self.svc.start(), self.hmc.start()
        self.known_hosts = tmp / "known_hosts"
        self.known_hosts.write_text(
            f"[127.0.0.1]:{self.svc_port} {svc_key.get_name()} {svc_key.get_base64()}\n"
            f"[127.0.0.1]:{self.hmc_port} {hmc_key.get_name()} {hmc_key.get_base64()}\n")
        auth = {"key_file": str(self.key_file)}
        m.Hmc.update(host="127.0.0.1", port=self.hmc_port, auth=auth, known_hosts=str(self.known_hosts)).execute()
        m.StorageSystem.update(host="127.0.0.1", port=self.svc_port, auth=auth,
                               known_hosts=str(self.known_hosts)).execute()

    def clone(self, name: str = "CLONE1"):
        return self.world.systems["P10-PROD"].lpar(name=name)

    def flash(self, group: str = "FL_NIGHTLY", pairs=NIGHTLY_PAIRS, copyrate: int = 50,
              lab_seconds: float = 0.0) -> None:
        """Make, prepare and start GROUP in the array model, then let the background copy run."""
        array = self.array
        array.mkfcconsistgrp(group)
        for source, target in pairs:
            array.mkfcmap(source, target, consistgrp=group, copyrate=copyrate)
        array.prestartfcconsistgrp(group)
        array.tick(array.prepare_delay)
        array.startfcconsistgrp(group)
        if lab_seconds:
            array.tick(lab_seconds)

    def break_clone(self) -> None:
        """CLONE1 loses its disks and fails its IPL: state Error, reference code B2003110."""
        for _, target in NIGHTLY_PAIRS:
            self.array.unmap_volume("CLONE1_FC", target)
        clone = self.clone()
        clone.activate("normal")
        wait_for(lambda: clone.state == "Error", what="CLONE1 in Error")

    def start_clone(self) -> None:
        clone = self.clone()
        clone.activate("normal")
        wait_for(lambda: clone.state == "Running" and clone.refcode.code == "00000000", what="CLONE1 up")

    def close(self) -> None:
        self.svc.stop()
        self.hmc.stop()
        self.world.stop()


@pytest.fixture
def lab(sample, tmp_path, monkeypatch):
    devices = MonitorLab(tmp_path, monkeypatch)
    yield devices
    devices.close()
