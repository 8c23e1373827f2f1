"""Test helpers for the HMC lab and driver: a stand-in array, a fake IBM i boot, a lab world
built from the real `hmcs:` section of data/lab-topology.yaml, and an SSH front on loopback."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import paramiko
import yaml

from flash4i_tui.lab.hmc.model import Lpar, build_hmcs
from flash4i_tui.lab.world import World

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "data" / "lab-topology.yaml"
SPEED = 20000.0            # lab seconds per real second: a 10-minute IPL takes 30 ms


@dataclass
class FakeVolume:
    name: str
    uid: str
    content: Any = None


class FakeArray:
    """What the HMC model asks of an array: volumes mapped to a VIOS or to an NPIV partition."""

    def __init__(self, storage: dict):
        self.volumes = {v["name"]: FakeVolume(v["name"], f"600507680C8101A8{i:016X}")
                        for i, v in enumerate(storage["volumes"])}
        self.vios_hosts: Dict[Tuple[str, str], List[str]] = {}
        self.npiv_hosts: Dict[Tuple[str, int], List[str]] = {}
        for host in storage["hosts"]:
            if "vios" in host:
                self.vios_hosts[(host["vios"]["system"], host["vios"]["lpar"])] = list(host["volumes"])
            else:
                self.npiv_hosts[(host["npiv_lpar"]["system"], host["npiv_lpar"]["lpar_id"])] = list(host["volumes"])

    def vios_volumes(self, system: str, vios_name: str) -> List[FakeVolume]:
        return [self.volumes[n] for n in self.vios_hosts.get((system, vios_name), [])]

    def npiv_volumes(self, system: str, lpar_id: int) -> List[FakeVolume]:
        return [self.volumes[n] for n in self.npiv_hosts.get((system, lpar_id), [])]

    def volume_by_uid(self, uid: str) -> Optional[FakeVolume]:
        return next((v for v in self.volumes.values() if v.uid == uid), None)


class FakeBootFailure(Exception):
    def __init__(self, refcode: str, message: str, state: str = "Error"):
        super().__init__(message)
        self.refcode, self.message, self.state = refcode, message, state


class FakeRuntime:
    def __init__(self, lpar_ref: Any, volumes: List[Any]):
        self.lpar_ref, self.volumes = lpar_ref, volumes
        self.halts: List[Tuple[bool, str]] = []
        self.crashes: List[str] = []

    def halt(self, immediate: bool, reason: str) -> None:
        self.halts.append((immediate, reason))

    def crash(self, reason: str) -> None:
        self.crashes.append(reason)


class FakeBoot:
    """Stands in for flash4i_tui.lab.ibmi.boot.boot: LIC then OS codes, 00000000, a runtime."""

    LIC = (("C6003900", 30.0), ("C6003910", 30.0), ("C6004031", 120.0), ("C6004500", 60.0))
    OS = (("C9002810", 120.0), ("C9002967", 60.0), ("C900297C", 60.0))

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []
        self.runtimes: List[FakeRuntime] = []

    def __call__(self, world: World, lpar_ref: Any, volumes: List[Any], report: Callable[[str], Any],
                 cancel: Any, instant: bool = False) -> FakeRuntime:
        self.calls.append({"lpar": lpar_ref.name, "id": lpar_ref.id, "serial": lpar_ref.serial,
                           "system": lpar_ref.system, "volumes": [v.name for v in volumes], "instant": instant,
                           "ref": lpar_ref})
        if not volumes:
            raise FakeBootFailure("B2003110", "no load source disk unit", "Error")
        for code, seconds in self.LIC + self.OS:
            report(code)
            if not instant and not world.clock.sleep(seconds, cancel):
                raise FakeBootFailure(code, "IPL cancelled")
        report("00000000")
        runtime = FakeRuntime(lpar_ref, volumes)
        self.runtimes.append(runtime)
        return runtime


def install_fake_boot(monkeypatch) -> FakeBoot:
    boot = FakeBoot()
    monkeypatch.setattr(Lpar, "boot_loader", staticmethod(lambda: (boot, FakeBootFailure)))
    return boot


def topology() -> dict:
    return yaml.safe_load(TOPOLOGY.read_text())


def make_world(speed: float = SPEED) -> World:
    """A world with the lab topology's array (stand-in) and HMCs."""
    data = topology()
    world = World(speed=speed)
    world.arrays[data["storage"][0]["name"]] = FakeArray(data["storage"][0])
    build_hmcs(world, data["hmcs"])
    return world


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)


# ---------------------------------------------------------------- SSH front on loopback


@dataclass
class RunningFront:
    front: Any
    port: int
    key_file: Path
    known_hosts: Path

    def endpoint(self, user: str = "hscroot"):
        from flash4i_tui.devices.ssh import Endpoint
        return Endpoint(name="HMC1", host="127.0.0.1", port=self.port, user=user,
                        auth={"key_file": str(self.key_file)}, known_hosts=str(self.known_hosts))


def start_hmc_front(world: World, tmp_path: Path, hmc: str = "HMC1") -> RunningFront:
    from flash4i_tui.lab.hmc.cli import HmcFront
    host_key = paramiko.ECDSAKey.generate(bits=256)
    client_key = paramiko.ECDSAKey.generate(bits=256)
    key_file = tmp_path / "id_hmc"
    client_key.write_private_key_file(str(key_file))
    key_file.chmod(0o600)
    front = HmcFront(world, world.hmcs[hmc], host_key, {"hscroot": {client_key.get_base64()}})
    port = front.start()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.get_name()} {host_key.get_base64()}\n")
    return RunningFront(front, port, key_file, known_hosts)
