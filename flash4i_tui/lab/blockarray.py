"""What every lab block array shares with the others: volumes (Volume: capacity, thin growth,
content, write), host objects that are an NPIV client partition or a VIOS (Host), the views the
world asks for (volume_by_uid, npiv_volumes, vios_volumes) and the topology helpers. The
Storage Virtualize model (svc/model.py) uses Volume and Host; the DS8000 and PowerMax models
build on BlockArray as well. They differ in how hosts see volumes (SVC and DS8000: LUN mappings
per host; PowerMax: masking views of storage groups) and in their copy services.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

GiB = 1024 ** 3
MiB = 1024 ** 2


class Volume:
    """A volume of any lab array (an SVC vdisk, a DS8000 volume, a PowerMax device). `content` is
    what it holds (a world.DiskImage) or None (blank or unusable). ARRAY answers its status and
    takes its writes (volume_status, volume_written)."""

    def __init__(self, array: Any, vid: Any, name: str, capacity: int, thin: bool, pool: str,
                 uid: str, rsize_percent: float = 2.0):
        self.array, self.id, self.name = array, vid, name
        self.capacity, self.thin, self.pool, self.uid = capacity, thin, pool, uid
        self.rsize_percent = rsize_percent          # thin: real capacity kept ahead of used
        self.used_bytes = 0 if thin else capacity
        self.content: Any = None

    @property
    def real_bytes(self) -> int:
        if not self.thin:
            return self.capacity
        return min(self.capacity, self.used_bytes + int(self.capacity * self.rsize_percent / 100))

    @property
    def free_bytes(self) -> int:
        return self.real_bytes - self.used_bytes

    @property
    def status(self) -> str:
        return self.array.volume_status(self)

    def write(self, nbytes: int) -> None:
        """The partition using this volume wrote NBYTES (the IBM i model calls this)."""
        self.array.volume_written(self, nbytes)

    def _grow(self, nbytes: float) -> None:
        if self.thin:
            self.used_bytes = int(min(self.capacity, self.used_bytes + nbytes))

    def __repr__(self) -> str:
        return f"Volume({self.id}, {self.name!r})"


class Host:
    """A host object: an NPIV client partition (npiv_lpar) or a VIOS (vios), with its mappings."""

    def __init__(self, hid: int, name: str, wwpns: Sequence[str], npiv_lpar: Optional[Tuple[str, int]] = None,
                 vios: Optional[Tuple[str, str]] = None):
        self.id, self.name, self.wwpns = hid, name, list(wwpns)
        self.npiv_lpar, self.vios = npiv_lpar, vios
        self.mappings: Dict[int, Volume] = {}       # SCSI id -> volume

    def volumes_in_scsi_order(self) -> List[Volume]:
        return [self.mappings[scsi] for scsi in sorted(self.mappings)]

    def __repr__(self) -> str:
        return f"Host({self.id}, {self.name!r})"


def _keys(where: str, item: Any, allowed: set) -> dict:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a mapping")
    unknown = set(item) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    return item


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
