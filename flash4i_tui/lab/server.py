"""The lab as a whole: build the world from a topology, start every device front on loopback,
and write a flash4i configuration (with known_hosts and a client key) that points at them.

Host keys and the client key live in the lab's state folder: generated once, reused on every
start, so a configuration written earlier stays valid.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from ..paths import private_dir, write_private
from ..resources import data_file
from .control import ControlServer
from .faults import FaultRules
from .sshd import SshFront, load_or_create_key, public_line
from .world import World


def load_topology(path: Optional[Path] = None) -> dict:
    """The lab topology (the shipped demo datacenter by default)."""
    path = Path(path) if path else data_file("lab-topology.yaml")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or "flash4i" not in data:
        raise ValueError(f"{path}: not a lab topology (no 'flash4i' section)")
    return data


@dataclass
class Endpoints:
    hmcs: Dict[str, int] = field(default_factory=dict)        # HMC name -> port
    storage: Dict[str, int] = field(default_factory=dict)     # array name -> port
    ibmi: Dict[str, int] = field(default_factory=dict)        # IBM i address -> port
    control_url: str = ""


class Lab:
    def __init__(self, topology: dict, state_dir: Path, speed: Optional[float] = None,
                 faults: Optional[FaultRules] = None):
        self.topology = topology
        self.state_dir = private_dir(Path(state_dir))
        self.world = World(speed=speed or float(topology.get("speed", 60)), faults=faults)
        self.fronts: List[SshFront] = []
        self.endpoints = Endpoints()
        self.control: Optional[ControlServer] = None
        self.client_key = load_or_create_key(self.state_dir / "client_key")

    # ---------------------------------------------------------------- start and stop

    def start(self) -> "Lab":
        from .hmc.cli import HmcFront
        from .hmc.model import build_hmcs
        from .ibmi.front import IbmiFront
        from .ibmi.state import install_systems
        from .svc.cli import SvcFront
        from .svc.model import build_arrays

        world = self.world
        build_arrays(world, self.topology.get("storage", []))
        install_systems(world, self.topology.get("ibmi", []), key_dir=self.state_dir)
        build_hmcs(world, self.topology.get("hmcs", []))
        client = self.client_key.get_base64()
        for name, array in world.arrays.items():
            front = SvcFront(array, self._host_key(f"svc_{name}"), [client])
            self.endpoints.storage[name] = self._start(front)
        for name, hmc in world.hmcs.items():
            users = {user: {client} for user in hmc.users}
            front = HmcFront(world, hmc, self._host_key(f"hmc_{name}"), users)
            self.endpoints.hmcs[name] = self._start(front)
        for address in self.ibmi_addresses():
            self.endpoints.ibmi[address] = self._start(IbmiFront(world, address, {"*": {client}}))
        self.control = ControlServer(world, self.state)
        self.endpoints.control_url = self.control.start()
        world.start()
        world.record("lab", f"lab started at speed {world.clock.speed:g}")
        return self

    def _start(self, front: SshFront) -> int:
        self.fronts.append(front)
        return front.start()

    def _host_key(self, name: str):
        return load_or_create_key(self.state_dir / f"{name}.key")

    def stop(self) -> None:
        for front in self.fronts:
            front.stop()
        if self.control is not None:
            self.control.stop()
        self.world.stop()

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------------------- what the lab serves

    def ibmi_addresses(self) -> List[str]:
        """Every address an IBM i of the lab may answer at: the partitions' and the interfaces'."""
        addresses: List[str] = []
        for part in self.topology["flash4i"]["partitions"]:
            addresses.append(part["address"])
        for env in self.topology["flash4i"]["environments"]:
            addresses += [i["address"] for i in env.get("clone_identity", {}).get("interfaces", [])]
        for system in self.topology.get("ibmi", []):
            addresses += [i["address"] for i in system.get("interfaces", [])]
        return sorted(set(addresses))

    def known_hosts_lines(self) -> List[str]:
        lines = []
        for front in self.fronts:
            for key in front.known_keys():
                lines.append(f"[127.0.0.1]:{front.port} {public_line(key)}")
        return lines

    def config(self) -> dict:
        """A flash4i configuration for this lab (validated by `config import` as any other)."""
        spec = self.topology["flash4i"]
        files = self.files()
        auth = {"key_file": str(files["client_key"])}
        known = str(files["known_hosts"])
        hmcs = [{"name": name, "host": "127.0.0.1", "port": port, "user": spec.get("hmc_user", "hscroot"),
                 "auth": dict(auth), "known_hosts": known,
                 "managed_systems": sorted(self.world.hmcs[name].systems),
                 "description": "lab HMC"} for name, port in self.endpoints.hmcs.items()]
        storage = [{"name": name, "type": "svc", "host": "127.0.0.1", "port": port,
                    "user": spec.get("storage_user", "flash4i"), "auth": dict(auth), "known_hosts": known,
                    "description": "lab FlashSystem"} for name, port in self.endpoints.storage.items()]
        npiv_hosts = self._npiv_hosts()
        partitions = []
        for part in spec["partitions"]:
            partitions.append({
                "name": part["name"], "hmc": part["hmc"], "managed_system": part["managed_system"],
                "lpar_name": part["lpar_name"], "lpar_id": part["lpar_id"], "profile": part["profile"],
                "ssh": {"host": "127.0.0.1", "port": self.endpoints.ibmi[part["address"]],
                        "user": part.get("user", "FLASH4I"), "auth": dict(auth), "known_hosts": known},
                "address": part["address"],
                "storage_hosts": npiv_hosts.get((part["managed_system"], part["lpar_id"]), []),
                "description": part.get("description", "lab partition"),
            })
        return {"version": 1, "hmcs": hmcs, "storage": storage, "partitions": partitions,
                "environments": spec["environments"]}

    def _npiv_hosts(self) -> Dict[tuple, List[str]]:
        hosts: Dict[tuple, List[str]] = {}
        for array in self.topology.get("storage", []):
            for host in array.get("hosts", []):
                lpar = host.get("npiv_lpar")
                if lpar:
                    hosts.setdefault((lpar["system"], lpar["lpar_id"]), []).append(host["name"])
        return hosts

    def files(self) -> Dict[str, Path]:
        return {"client_key": self.state_dir / "client_key", "known_hosts": self.state_dir / "known_hosts"}

    def write_config(self, path: Path) -> Path:
        """Write known_hosts (the lab's keys) and the configuration; both mode 0600."""
        files = self.files()
        write_private(files["known_hosts"], "\n".join(self.known_hosts_lines()) + "\n")
        write_private(Path(path), "# written by `flash4i lab`: the lab's devices on loopback\n" +
                      yaml.safe_dump(self.config(), sort_keys=False))
        return Path(path)

    def state(self) -> dict:
        """A summary for the control API and `flash4i lab` output."""
        world = self.world
        with world.lock:
            lpars = [{"system": s.name, "id": lp.id, "name": lp.name, "state": lp.state, "refcode": lp.refcode}
                     for s in world.systems.values() for lp in s.lpars.values()]
            volumes = [{"array": a.name, "name": v.name, "capacity": v.capacity, "used": v.used_bytes,
                        "holds": (v.content.set_id if v.content else None)}
                       for a in world.arrays.values() for v in a.volumes.values()]
            network = {addr: getattr(owner, "label", str(owner)) for addr, owner in world.network.addresses().items()}
        return {"endpoints": self.endpoints.__dict__, "lpars": lpars, "volumes": volumes, "network": network,
                "conflicts": len(world.conflicts)}
