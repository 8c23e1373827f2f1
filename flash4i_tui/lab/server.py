"""The lab as a whole: build the world from a topology, start every device front on loopback,
and write a flash4i configuration (with known_hosts and a client key) that points at them.

Host keys, the client key and the TLS CA of the REST arrays (DS8000, PowerMax) live in the
lab's state folder: generated once, reused on every start, so a configuration written earlier
stays valid. REST arrays authenticate with a user and password: the configuration names an
environment variable (password_env), and `passwords()` says what to set it to.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from ..families import named
from ..paths import private_dir, write_private
from ..resources import data_file
from .control import ControlServer
from .faults import FaultRules, Latency
from .https import load_or_create_tls
from . import TOPOLOGIES
from .sshd import SshFront, load_or_create_key, public_line
from .world import World


def load_topology(path: Optional[Path] = None, storage: str = "svc") -> dict:
    """The lab topology: PATH, or the shipped datacenter of the STORAGE family."""
    path = Path(path) if path else data_file(TOPOLOGIES[storage])
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or "flash4i" not in data:
        raise ValueError(f"{path}: not a lab topology (no 'flash4i' section)")
    return data


@dataclass
class Endpoints:
    hmcs: Dict[str, int] = field(default_factory=dict)        # HMC name -> port
    storage: Dict[str, int] = field(default_factory=dict)     # array name -> port (SSH, or HTTPS for REST)
    ibmi: Dict[str, int] = field(default_factory=dict)        # IBM i address -> port
    control_url: str = ""
    storage_urls: Dict[str, str] = field(default_factory=dict)   # REST array name -> https://127.0.0.1:port


REST_TYPES = named(transport="rest")


class Lab:
    def __init__(self, topology: dict, state_dir: Path, speed: Optional[float] = None,
                 faults: Optional[FaultRules] = None):
        self.topology = topology
        self.state_dir = private_dir(Path(state_dir))
        self.world = World(speed=speed or float(topology.get("speed", 60)), faults=faults,
                           latency=Latency.parse(topology.get("latency")))    # zero unless the topology sets it
        self.fronts: List[SshFront] = []
        self.rest_fronts: list = []             # the HTTPS fronts of the REST arrays
        self.tls = None                         # the lab's CA and server certificate, when REST arrays exist
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
        storage = self.topology.get("storage", []) or []
        build_arrays(world, [e for e in storage if e.get("type", "svc") == "svc"])
        rest_arrays = self._build_rest_arrays(storage)
        install_systems(world, self.topology.get("ibmi", []), key_dir=self.state_dir)
        build_hmcs(world, self.topology.get("hmcs", []))
        client = self.client_key.get_base64()
        for name, array in world.arrays.items():
            if name in rest_arrays:
                continue
            front = SvcFront(array, self._host_key(f"svc_{name}"), [client])
            self.endpoints.storage[name] = self._start(front)
        for name, front in rest_arrays.items():
            self.rest_fronts.append(front)
            self.endpoints.storage[name] = front.start()
            self.endpoints.storage_urls[name] = front.url
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

    def _build_rest_arrays(self, storage: List[dict]) -> Dict[str, object]:
        """The DS8000 and PowerMax arrays of the topology, each with its HTTPS front (not started)."""
        from .ds8000 import Ds8000Front, build_ds8000
        from .powermax import PowerMaxFront, build_powermax
        fronts: Dict[str, object] = {}
        for i, entry in enumerate(storage):
            kind = entry.get("type", "svc")
            if kind not in REST_TYPES:
                continue
            if self.tls is None:
                self.tls = load_or_create_tls(self.state_dir)
            if kind == "ds8000":
                fronts[str(entry["name"])] = Ds8000Front(build_ds8000(self.world, entry, f"storage[{i}]"), self.tls)
            else:
                fronts[str(entry["name"])] = PowerMaxFront(build_powermax(self.world, entry, f"storage[{i}]"),
                                                           self.tls)
        return fronts

    def _start(self, front: SshFront) -> int:
        self.fronts.append(front)
        return front.start()

    def _host_key(self, name: str):
        return load_or_create_key(self.state_dir / f"{name}.key")

    def stop(self) -> None:
        for front in self.fronts + self.rest_fronts:
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
        storage = [self._storage_config(name, port, spec, auth, known) for name, port in self.endpoints.storage.items()]
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

    def _storage_entry(self, name: str) -> dict:
        return next((e for e in self.topology.get("storage", []) or [] if str(e.get("name")) == name), {})

    def _storage_config(self, name: str, port: int, spec: dict, auth: dict, known: str) -> dict:
        entry = self._storage_entry(name)
        kind = entry.get("type", "svc")
        if kind not in REST_TYPES:
            return {"name": name, "type": "svc", "host": "127.0.0.1", "port": port,
                    "user": spec.get("storage_user", "flash4i"), "auth": dict(auth), "known_hosts": known,
                    "description": "lab FlashSystem"}
        # REST: a user and a password read from password_env (the lab's own password, see passwords()),
        # TLS verified against the lab's CA.
        options = {"verify_tls": True, "ca_file": str(self.tls.ca_cert)}
        if kind == "powermax":
            options["symmetrix_id"] = self.world.arrays[name].sid
        return {"name": name, "type": kind, "host": "127.0.0.1", "port": port, "user": next(iter(entry["users"])),
                "auth": {"password_env": self.password_env(name)}, "options": options,
                "description": {"ds8000": "lab DS8000", "powermax": "lab PowerMax"}[kind]}

    def password_env(self, name: str) -> str:
        """The environment variable the written configuration names for a REST array's password."""
        return str(self._storage_entry(name).get("password_env") or f"FLASH4I_LAB_{name.upper()}_PASSWORD")

    def passwords(self) -> Dict[str, str]:
        """password_env variable -> the lab password of its array's configured user. The lab's
        passwords are its own (in the topology); set these before a flash4i process talks to it."""
        result = {}
        for name in self.endpoints.storage_urls:
            users = self._storage_entry(name)["users"]
            result[self.password_env(name)] = str(next(iter(users.values())))
        return result

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
                "conflicts": len(world.conflicts), "latency": world.latency.as_dict()}
