"""What every lab block array shares with the others: volumes (the Storage Virtualize model's
Volume: capacity, thin growth, content, write), host objects that are an NPIV client partition
or a VIOS (its Host), and the views the world asks for (volume_by_uid, npiv_volumes,
vios_volumes). The DS8000 and PowerMax models build on it; they differ in how hosts see
volumes (DS8000: LUN mappings per host; PowerMax: masking views of storage groups) and in
their copy services.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .svc.model import GiB, Host, Volume, _keys

MiB = 1024 ** 2


class BlockArray:
    kind = "block"                   # the topology's storage type

    def __init__(self, world: Any, name: str):
        self.world, self.name = world, name
        self.lock = world.lock
        self.volumes: Dict[str, Volume] = {}      # by id (the name flash4i uses)
        self.hosts: Dict[str, Host] = {}          # by name
        with world.lock:
            if name in world.arrays:
                raise ValueError(f"storage {name} is defined twice")
            world.arrays[name] = self
        world.add_ticker(self.tick)

    # ---------------------------------------------------------------- lookups the world uses

    def volume(self, key: str) -> Optional[Volume]:
        """A volume by id, by nickname or by uid; None if there is none."""
        with self.lock:
            found = self.volumes.get(str(key))
            if found is None:
                found = next((v for v in self.volumes.values() if getattr(v, "nickname", None) == key), None)
            return found or self.volume_by_uid(str(key))

    def volume_by_uid(self, uid: str) -> Optional[Volume]:
        with self.lock:
            return next((v for v in self.volumes.values() if v.uid.upper() == uid.upper()), None)

    def npiv_volumes(self, system: str, lpar_id: int) -> List[Volume]:
        """Volumes an NPIV client partition sees, in LUN order."""
        return self._seen_by(lambda h: h.npiv_lpar == (system, int(lpar_id)))

    def vios_volumes(self, system: str, vios_name: str) -> List[Volume]:
        """Volumes a VIOS sees (its hdisks after cfgdev), in LUN order."""
        return self._seen_by(lambda h: h.vios == (system, vios_name))

    def _seen_by(self, wanted: Callable[[Host], bool]) -> List[Volume]:
        with self.lock:
            volumes: List[Volume] = []
            for host in sorted(self.hosts.values(), key=lambda h: h.id):
                if wanted(host):
                    volumes.extend(self.host_volumes(host))
            return volumes

    def host_volumes(self, host: Host) -> List[Volume]:
        """What HOST sees, in LUN order (by default its own LUN mappings)."""
        return host.volumes_in_scsi_order()

    # ---------------------------------------------------------------- what Volume asks its array

    def volume_status(self, volume: Volume) -> str:
        return "online"

    def volume_written(self, volume: Volume, nbytes: int) -> None:
        with self.lock:
            volume._grow(nbytes)

    def tick(self, lab_seconds: float) -> None:
        """Advance background work by LAB_SECONDS (called by the world's ticker, lock held)."""

    # ---------------------------------------------------------------- building

    def new_volume(self, vid: str, capacity: int, thin: bool, uid: str, pool: str = "P0") -> Volume:
        with self.lock:
            if vid in self.volumes:
                raise ValueError(f"storage {self.name}: volume {vid} is defined twice")
            # rsize 0: thin real capacity is what was written (extent or track allocation).
            volume = Volume(self, vid, vid, int(capacity), bool(thin), pool, uid, 0.0)
            self.volumes[vid] = volume
            return volume

    def new_host(self, name: str, wwpns: Sequence[str], npiv_lpar: Optional[Tuple[str, int]] = None,
                 vios: Optional[Tuple[str, str]] = None) -> Host:
        with self.lock:
            if name in self.hosts:
                raise ValueError(f"storage {self.name}: host {name} is defined twice")
            host = Host(len(self.hosts), name, wwpns, npiv_lpar, vios)
            self.hosts[name] = host
            return host


# -------------------------------------------------------------------- topology helpers

def topology_hosts(where: str, entry: dict, keys: set) -> List[Tuple[dict, Optional[Tuple[str, int]],
                                                                     Optional[Tuple[str, str]]]]:
    """The `hosts:` of a topology entry: (item, npiv_lpar, vios) each, exactly one of the two."""
    result = []
    for j, item in enumerate(entry.get("hosts") or []):
        item = _keys(f"{where}.hosts[{j}]", item, keys)
        npiv, vios = item.get("npiv_lpar"), item.get("vios")
        if (npiv is None) == (vios is None):
            raise ValueError(f"{where}.hosts[{j}]: give exactly one of npiv_lpar and vios")
        result.append((item, (str(npiv["system"]), int(npiv["lpar_id"])) if npiv else None,
                       (str(vios["system"]), str(vios["lpar"])) if vios else None))
    return result


def topology_users(where: str, entry: dict) -> Dict[str, str]:
    """`users: {name: password}` of a REST device (the lab's own, never a real password)."""
    users = entry.get("users") or {}
    if not isinstance(users, dict) or not users or not all(isinstance(v, str) and v for v in users.values()):
        raise ValueError(f"{where}: users must map each user name to its lab password")
    return {str(k): str(v) for k, v in users.items()}


def size_bytes(where: str, item: dict) -> int:
    if "size_gib" not in item:
        raise ValueError(f"{where}: size_gib is required")
    return int(float(item["size_gib"]) * GiB)


__all__ = ["BlockArray", "GiB", "Host", "MiB", "Volume", "size_bytes", "topology_hosts", "topology_users"]
