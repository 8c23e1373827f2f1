"""Test helpers for the simulated IBM i: fake volumes, a fake array, a fake LPAR, and a lab
built from the shipped topology without any socket (the storage and HMC models are not needed)."""
from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import yaml

from flash4i_tui.lab import ibmi
from flash4i_tui.lab.ibmi import pase
from flash4i_tui.lab.world import DiskImage, World

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = yaml.safe_load((REPO / "data" / "lab-topology.yaml").read_text())
PROD_VOLUMES = ["PROD_001", "PROD_002", "PROD_003", "PROD_004"]
CLONE_VOLUMES = ["CLN1_001", "CLN1_002", "CLN1_003", "CLN1_004"]
SPEED = 20000.0


class FakeVolume:
    def __init__(self, name: str):
        self.name, self.content, self.written = name, None, 0

    def write(self, nbytes: int) -> None:
        self.written += nbytes


class FakeArray:
    def __init__(self, names: List[str]):
        self.name = "FS9500"
        self.volumes = {n: FakeVolume(n) for n in names}

    def volume(self, name: str) -> Optional[FakeVolume]:
        return self.volumes.get(name)


class FakeLpar:
    """An lpar_ref: identity and the two calls the IBM i makes back to the HMC side."""

    def __init__(self, system: str, name: str, lpar_id: int, serial: str = "78AB12C"):
        self.system, self.name, self.id, self.serial = system, name, lpar_id, serial
        self.type_model = "9105-42A"
        self.refcodes: List[str] = []
        self.power_offs: List[tuple] = []
        self.powered_off = threading.Event()

    def set_refcode(self, code: str) -> None:
        self.refcodes.append(code)

    def power_off(self, restart: bool, immediate: bool) -> None:
        self.power_offs.append((restart, immediate))
        self.powered_off.set()


class Lab:
    """A world with the topology's IBM i installed on fake volumes."""

    def __init__(self, speed: float = SPEED, start_ticker: bool = False):
        self.world = World(speed=speed)
        names = [v["name"] for v in TOPOLOGY["storage"][0]["volumes"]]
        self.array = FakeArray(names)
        self.world.arrays["FS9500"] = self.array
        ibmi.install_systems(self.world, copy.deepcopy(TOPOLOGY["ibmi"]))
        if start_ticker:
            self.world.start()

    def volumes(self, names: List[str]) -> List[FakeVolume]:
        return [self.array.volume(n) for n in names]

    def boot(self, names: List[str], lpar: FakeLpar, instant: bool = True, codes: Optional[list] = None,
             cancel: Optional[threading.Event] = None) -> Any:
        return ibmi.boot(self.world, lpar, self.volumes(names), report=(codes.append if codes is not None else None),
                         cancel=cancel, instant=instant)

    def prod(self) -> Any:
        runtime = self.boot(PROD_VOLUMES, FakeLpar("P10-PROD", "PROD", 3))
        wait_for(lambda: "QBATCH" in runtime.subsystems)
        return runtime

    def flash(self, sources: List[str], targets: List[str]) -> None:
        """What a FlashCopy does: the targets receive a point-in-time copy of the sources."""
        images = self.world.capture(self.volumes(sources))
        for volume, image in zip(self.volumes(targets), images):
            volume.content = image

    def stop(self) -> None:
        self.world.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def job(runtime: Any, user: str = "FLASH4I", subsystem: str = "QUSRWRK", name: str = "QP0ZSPWP") -> Any:
    return runtime.new_job(user, name, "BCI", subsystem)


def system(runtime: Any, command: str, in_job: Any = None) -> tuple:
    """`system 'COMMAND'` in a new SSH-like job: (stdout, stderr, exit status)."""
    return pase.system_command(runtime, in_job or job(runtime), command)


def sql(runtime: Any, statement: str, params: tuple = (), in_job: Any = None) -> List[Dict[str, Any]]:
    out, err, status = pase.db2util_command(runtime, in_job or job(runtime), statement, params)
    assert status == 0, err
    return json.loads(out)["records"]


def disk_image(state: Any, units: int = 4, consistency: str = "clean") -> List[FakeVolume]:
    volumes = []
    for unit in range(1, units + 1):
        volume = FakeVolume(f"V{unit}")
        volume.content = DiskImage("SET", unit, units, state, consistency)
        volumes.append(volume)
    return volumes


class Served:
    """Production booted and its address served by an IbmiFront on loopback, with a client key
    and a known_hosts file holding the system's host key."""

    def __init__(self, tmp_path: Path, address: str = "10.10.1.10"):
        import os

        import paramiko

        from flash4i_tui.lab.sshd import public_line

        self.lab = Lab()
        self.prod = self.lab.prod()
        self.address = address
        client = paramiko.ECDSAKey.generate(bits=256)
        self.key_file = tmp_path / "client_key"
        client.write_private_key_file(str(self.key_file))
        os.chmod(self.key_file, 0o600)
        self.fronts = []
        self.front = self.serve(address, client)
        self.known_hosts = tmp_path / "known_hosts"
        self.known_hosts.write_text("".join(f"[127.0.0.1]:{front.port} {public_line(key)}\n"
                                            for front in self.fronts for key in front.known_keys()))
        self.client = client

    def serve(self, address: str, client: Any) -> Any:
        from flash4i_tui.lab.ibmi.front import IbmiFront
        front = IbmiFront(self.lab.world, address, {"FLASH4I": {client.get_base64()}})
        front.start()
        self.fronts.append(front)
        return front

    @property
    def port(self) -> int:
        return self.front.port

    def endpoint(self, name: str = "PROD", user: str = "FLASH4I") -> Any:
        from flash4i_tui.devices.ssh import Endpoint
        return Endpoint(name=name, host="127.0.0.1", port=self.port, user=user,
                        auth={"key_file": str(self.key_file)}, known_hosts=str(self.known_hosts),
                        connect_timeout=5.0)

    def stop(self) -> None:
        for front in self.fronts:
            front.stop()
        self.lab.stop()
