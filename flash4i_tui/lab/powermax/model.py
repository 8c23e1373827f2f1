"""A simulated Dell PowerMax: devices (5-hex ids), storage groups, initiator groups (hosts) with
masking views, SnapVX snapshots on storage groups and Unisphere jobs. State only, no I/O; the
REST front (rest.py) turns requests into calls on this model.

- establish captures the source storage group's content at that instant, consistently
  (world.capture). Writes to a source afterwards are kept by the snapshot (its delta: the
  snapshot's non-shared tracks), not written to linked targets.
- link / relink put the snapshot's content on the target storage group's volumes, in device
  order: that is when the targets change (world.volume_overwritten). A copy link copies in the
  background (percentageCopied); a nocopy link stays at 0 % and reads through the snapshot.
- unlink of a link that was not fully copied leaves the targets unusable; a linked generation
  cannot be terminated.
- A source device has at most snapshots_per_source snapshots (snapids): 256, 1024 on PowerMaxOS
  10 (microcode 6079 and later) [U]; the topology's `limits: {snapshots_per_source: N}` sets it.
- ASYNCHRONOUS requests become jobs: RUNNING for JOB_SECONDS lab seconds, then SUCCEEDED or
  FAILED with the action's error; a fault rule matching "JOB <description>" fails the job.

Model choices the reference does not settle are class attributes [U]: JOB_SECONDS,
LINK_COPY_BYTES, TARGET_USED_RESETS_ON_LINK, MODEL, UCODE. The Unisphere level (version answer,
API versions served) is the topology's `unisphere:` setting (levels.py).
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..blockarray import BlockArray, Host, MiB, Volume, _keys, topology_hosts, topology_users
from .errors import PmaxError
from .levels import UnisphereLevel, unisphere_level

TRACK_BYTES = 128 * 1024                  # [R] an FBA track
CYLINDER_BYTES = 15 * TRACK_BYTES         # [R] a cylinder: 15 tracks


def pmax_time(when: datetime) -> str:
    """Snapshot timestamps as Unisphere 10 prints them: 10:58:56 Tue, 09 Jul 2024 +0000."""
    return when.strftime("%H:%M:%S %a, %d %b %Y %z")


@dataclass
class StorageGroup:
    name: str
    volumes: List[Volume] = field(default_factory=list)

    def in_device_order(self) -> List[Volume]:
        return sorted(self.volumes, key=lambda v: v.id)


@dataclass
class View:
    """A masking view: HOST (an initiator group) sees storage group SG through a port group."""

    name: str
    host: Host
    sg: str
    port_group: str
    luns: Dict[str, int] = field(default_factory=dict)      # device id -> host LUN address


@dataclass
class LinkState:
    sg: str
    pairs: List[Tuple[Volume, Volume]]
    copy: bool
    created: datetime
    copied: List[float] = field(default_factory=list)

    def percent(self, i: int) -> int:
        source = self.pairs[i][0]
        return min(100, int(self.copied[i] * 100 // source.capacity)) if source.capacity else 100

    @property
    def complete(self) -> bool:
        return all(self.percent(i) >= 100 for i in range(len(self.pairs)))


@dataclass
class Generation:
    name: str
    snapid: int
    sg: str
    created: datetime
    sources: List[Volume]
    images: List[Any]
    delta: List[float]
    links: List[LinkState] = field(default_factory=list)
    states: List[str] = field(default_factory=lambda: ["Established"])

    @property
    def non_shared_tracks(self) -> int:
        return int(sum(-(-d // TRACK_BYTES) for d in self.delta))


@dataclass
class Job:
    id: str
    description: str
    resource: str
    created: datetime
    status: str = "RUNNING"
    result: str = ""
    completed: Optional[datetime] = None


class PmaxArray(BlockArray):
    kind = "powermax"
    JOB_SECONDS = 2.0                        # [U] lab seconds an asynchronous job runs
    LINK_COPY_BYTES = 64 * MiB               # [U] bytes per lab second of a copy link
    MODEL = "PowerMax_8500"                  # [U] what GET .../symmetrix/{sid} reports
    UCODE = "6079.175.0"                     # [U] PowerMaxOS 10 microcode (snapids: >= 5978.669)
    TARGET_USED_RESETS_ON_LINK = True        # a thin target holds only what the link copies
    FIRST_SNAPID = 118749976833

    def __init__(self, world: Any, name: str, sid: str, users: Dict[str, str],
                 level: Optional[UnisphereLevel] = None):
        super().__init__(world, name)
        self.level = level or unisphere_level(name)
        if len(sid) != 12 or not sid.isdigit():
            raise ValueError(f"storage {name}: symmetrix_id must be 12 digits")
        self.sid = sid
        self.users = dict(users)
        self.storage_groups: Dict[str, StorageGroup] = {}
        self.views: Dict[str, View] = {}
        self.snapshots: Dict[str, Dict[str, List[Generation]]] = {}     # sg -> name -> generations
        self.jobs: Dict[str, Job] = {}
        self.copy_scale = 1.0
        self._snapids = itertools.count(self.FIRST_SNAPID)
        self.snapshots_per_source = 1024 if int(self.UCODE.split(".")[0]) >= 6079 else 256     # [U]
        self._job_ids = itertools.count(1001)

    # ---------------------------------------------------------------- devices and groups

    def add_volume(self, vid: str, capacity: int, thin: bool = True, identifier: str = "") -> Volume:
        vid = str(vid).upper()
        if len(vid) != 5 or any(c not in "0123456789ABCDEF" for c in vid):
            raise ValueError(f"storage {self.name}: {vid!r} is not a PowerMax device id (5 hex digits)")
        cylinders = -(-int(capacity) // CYLINDER_BYTES)
        # The WWN: Dell's NAA prefix, the array's serial, then the device id in ASCII (as hex).
        uid = f"60000970{self.sid}53{vid.encode().hex().upper()}"
        volume = self.new_volume(vid, cylinders * CYLINDER_BYTES, thin, uid)
        volume.identifier = identifier
        return volume

    def need_volume(self, vid: str) -> Volume:
        volume = self.volumes.get(vid)
        if volume is None:
            raise PmaxError("no_volume", device=vid)
        return volume

    def need_sg(self, name: str) -> StorageGroup:
        sg = self.storage_groups.get(name)
        if sg is None:
            raise PmaxError("no_sg", sg=name)
        return sg

    def groups_of(self, volume: Volume) -> List[str]:
        return sorted(name for name, sg in self.storage_groups.items() if volume in sg.volumes)

    def create_sg(self, name: str) -> StorageGroup:
        with self.lock:
            if name in self.storage_groups:
                raise PmaxError("sg_exists", sg=name)
            sg = self.storage_groups[name] = StorageGroup(name)
            return sg

    def add_to_sg(self, name: str, devices: Sequence[str]) -> None:
        with self.lock:
            sg = self.need_sg(name)
            volumes = [self.need_volume(d) for d in devices]
            for volume in volumes:
                if volume in sg.volumes:
                    raise PmaxError("in_sg", device=volume.id, sg=name)
            sg.volumes.extend(volumes)
            self._number_luns()

    def remove_from_sg(self, name: str, devices: Sequence[str]) -> None:
        with self.lock:
            sg = self.need_sg(name)
            volumes = [self.need_volume(d) for d in devices]
            for volume in volumes:
                if volume not in sg.volumes:
                    raise PmaxError("not_in_sg", device=volume.id, sg=name)
            for volume in volumes:
                sg.volumes.remove(volume)
            self._number_luns()

    def delete_sg(self, name: str) -> None:
        with self.lock:
            self.need_sg(name)
            if any(v.sg == name for v in self.views.values()) or self.snapshots.get(name):
                raise PmaxError("bad_request", why=f"Storage Group {name} is in a masking view or has snapshots")
            del self.storage_groups[name]

    def add_view(self, name: str, host: Host, sg: str, port_group: str = "PG_FA") -> View:
        with self.lock:
            self.need_sg(sg)
            view = self.views[name] = View(name, host, sg, port_group)
            self._number_luns()
            return view

    def _number_luns(self) -> None:
        """Each view gives a new device of its storage group the lowest free LUN address."""
        for view in self.views.values():
            present = {v.id for v in self.storage_groups[view.sg].volumes}
            view.luns = {d: lun for d, lun in view.luns.items() if d in present}
            for volume in self.storage_groups[view.sg].volumes:
                if volume.id not in view.luns:
                    view.luns[volume.id] = next(n for n in itertools.count(1) if n not in view.luns.values())

    def host_volumes(self, host: Host) -> List[Volume]:
        seen: List[Tuple[int, Volume]] = []
        for view in self.views.values():
            if view.host is host:
                seen += [(view.luns[v.id], v) for v in self.storage_groups[view.sg].volumes]
        return [v for _, v in sorted(seen, key=lambda item: item[0])]

    # ---------------------------------------------------------------- SnapVX

    def generations(self, sg: str, name: str) -> List[Generation]:
        found = self.snapshots.get(sg, {}).get(name)
        if not found:
            raise PmaxError("no_snapshot", name=name, sg=sg)
        return found

    def generation(self, sg: str, name: str, snapid: int) -> Generation:
        for gen in self.generations(sg, name):
            if gen.snapid == snapid:
                return gen
        raise PmaxError("no_snapid", snapid=snapid, name=name)

    def establish(self, sg_name: str, name: str) -> Generation:
        with self.lock:
            sources = self.need_sg(sg_name).in_device_order()
            if not sources:
                raise PmaxError("snap_failed", action="establish", name=name, why=f"Storage Group {sg_name} is empty")
            for source in sources:
                have = sum(1 for by_name in self.snapshots.values() for gens in by_name.values() for g in gens
                           if source in g.sources)
                if have >= self.snapshots_per_source:
                    raise PmaxError("snap_limit", name=name, device=source.id, limit=self.snapshots_per_source)
            images = self.world.capture(sources)          # the point in time: now, for the whole group
            gen = Generation(name, next(self._snapids), sg_name, self.world.clock.now(), sources, images,
                             [0.0] * len(sources))
            self.snapshots.setdefault(sg_name, {}).setdefault(name, []).append(gen)
            self.world.record("device", f"{self.name}: SnapVX snapshot {name} (snapid {gen.snapid}) established on "
                                        f"{sg_name}")
            return gen

    def _linked_to(self, volume: Volume) -> Optional[Tuple[Generation, LinkState]]:
        for by_name in self.snapshots.values():
            for gens in by_name.values():
                for gen in gens:
                    for link in gen.links:
                        if any(t is volume for _, t in link.pairs):
                            return gen, link
        return None

    def link(self, sg_name: str, name: str, snapid: int, target_sg: str, copy: bool,
             relink: bool = False) -> List[Volume]:
        """Link (or relink) a generation to TARGET_SG. Returns the targets it overwrote."""
        action = "Relink" if relink else "Link"
        with self.lock:
            gen = self.generation(sg_name, name, snapid)
            targets = self.need_sg(target_sg).in_device_order()
            if len(targets) != len(gen.sources):
                raise PmaxError("snap_failed", action=action, name=name, why=f"Storage Group {target_sg} has "
                                f"{len(targets)} volumes, the snapshot {len(gen.sources)}")
            for source, target in zip(gen.sources, targets):
                if source.capacity != target.capacity:
                    raise PmaxError("snap_failed", action=action, name=name,
                                    why=f"target {target.id} is not the size of source {source.id}")
                if target in gen.sources:
                    raise PmaxError("snap_failed", action=action, name=name, why=f"{target.id} is a source")
            current = [self._linked_to(t) for t in targets]
            if any(link is not None and link[0] is gen for link in current):
                raise PmaxError("snap_failed", action=action, name=name, why=f"already linked to {target_sg}")
            if relink:
                olds = {id(c[1]): c for c in current if c is not None}
                foreign = any(old.name != name or old.sg != sg_name or link.sg != target_sg
                              for old, link in olds.values())
                if not olds or any(c is None for c in current) or foreign:
                    raise PmaxError("snap_failed", action=action, name=name,
                                    why=f"{target_sg} is not linked to another generation of {name}")
                for old, link in olds.values():
                    old.links.remove(link)
            elif any(c is not None for c in current):
                raise PmaxError("snap_failed", action=action, name=name,
                                why=f"a volume of {target_sg} is linked to another snapshot: relink or unlink it")
            link = LinkState(target_sg, list(zip(gen.sources, targets)), bool(copy), self.world.clock.now(),
                             [0.0] * len(targets))
            gen.links.append(link)
            for target, image in zip(targets, gen.images):
                target.content = image
                if target.thin and self.TARGET_USED_RESETS_ON_LINK:
                    target.used_bytes = 0
            self.world.record("device", f"{self.name}: SnapVX {name} (snapid {snapid}) {action.lower()}ed to "
                                        f"{target_sg} ({'copy' if copy else 'nocopy'})")
            return targets

    def unlink(self, sg_name: str, name: str, snapid: int, target_sg: str) -> None:
        with self.lock:
            gen = self.generation(sg_name, name, snapid)
            link = next((ln for ln in gen.links if ln.sg == target_sg), None)
            if link is None:
                raise PmaxError("snap_failed", action="Unlink", name=name, why=f"not linked to {target_sg}")
            gen.links.remove(link)
            if not link.complete:
                for _, target in link.pairs:
                    target.content = None     # partly defined targets are not a usable copy
            self.world.record("device", f"{self.name}: SnapVX {name} (snapid {snapid}) unlinked from {target_sg}")

    def terminate(self, sg_name: str, name: str, snapid: int) -> None:
        with self.lock:
            gen = self.generation(sg_name, name, snapid)
            if gen.links:
                raise PmaxError("snap_failed", action="terminate", name=name,
                                why=f"snapid {snapid} is linked to {', '.join(ln.sg for ln in gen.links)}")
            gens = self.snapshots[sg_name][name]
            gens.remove(gen)
            if not gens:
                del self.snapshots[sg_name][name]
            self.world.record("device", f"{self.name}: SnapVX {name} (snapid {snapid}) terminated")

    # ---------------------------------------------------------------- jobs

    def submit(self, description: str, resource: str, action: Callable[[], List[Volume]]) -> Job:
        """Run ACTION as an asynchronous job; the targets it returns are overwritten after it."""
        with self.lock:
            job = Job(str(next(self._job_ids)), description, resource, self.world.clock.now())
            self.jobs[job.id] = job
        threading.Thread(target=self._run_job, args=(job, action), name=f"pmax-{self.name}-job{job.id}",
                         daemon=True).start()
        return job

    def _run_job(self, job: Job, action: Callable[[], List[Volume]]) -> None:
        if not self.world.clock.sleep(self.JOB_SECONDS):
            return
        fault = self.world.faults.check(f"powermax:{self.name}", f"JOB {job.description}")
        targets: List[Volume] = []
        try:
            if fault is not None and fault.action == "fail":
                raise PmaxError("bad_request", why=fault.message or "the job failed")
            targets = action()
            status, result = "SUCCEEDED", "completed"
        except PmaxError as error:
            status, result = "FAILED", error.text
        with self.lock:
            job.status, job.result, job.completed = status, result, self.world.clock.now()
        self.world.record("device", f"{self.name}: job {job.id} ({job.description}) {status}")
        for target in targets:             # outside the lock: an overwritten disk crashes its partition
            self.world.volume_overwritten(target, f"SnapVX job {job.id}")

    # ---------------------------------------------------------------- writes and time

    def volume_written(self, volume: Volume, nbytes: int) -> None:
        with self.lock:
            volume._grow(nbytes)
            for by_name in self.snapshots.values():
                for gens in by_name.values():
                    for gen in gens:
                        for i, source in enumerate(gen.sources):
                            if source is volume:      # the snapshot keeps the tracks it had
                                gen.delta[i] = min(float(source.capacity), gen.delta[i] + nbytes)

    def tick(self, lab_seconds: float) -> None:
        with self.lock:
            for by_name in self.snapshots.values():
                for gens in by_name.values():
                    for gen in gens:
                        for link in gen.links:
                            if not link.copy:
                                continue
                            for i, (source, target) in enumerate(link.pairs):
                                add = min(self.LINK_COPY_BYTES * self.copy_scale * lab_seconds,
                                          source.capacity - link.copied[i])
                                if add > 0:
                                    before = int(link.copied[i])
                                    link.copied[i] = min(float(source.capacity), link.copied[i] + add + 1e-6)
                                    target._grow(int(link.copied[i]) - before)    # whole bytes


# -------------------------------------------------------------------- topology

_ARRAY_KEYS = {"name", "type", "symmetrix_id", "users", "password_env", "volumes", "hosts", "unisphere", "limits"}
_LIMIT_KEYS = {"snapshots_per_source"}
_VOLUME_KEYS = {"id", "name", "size_gib", "size_cyl", "thin"}
_HOST_KEYS = {"name", "npiv_lpar", "vios", "wwpns", "volumes"}


def build_powermax(world: Any, entry: dict, where: str = "storage") -> PmaxArray:
    """One PowerMax of the topology's `storage:` section (type powermax).

        - name: PMAX1
          type: powermax
          symmetrix_id: '000197900123'
          users: {flash4i: lab-password}
          password_env: FLASH4I_PMAX1_PASSWORD
          unisphere: '10.4'               # the Unisphere level (levels.py); 10.0 when left out
          volumes: [{id: '00201', name: PROD_001, size_cyl: 547, thin: false}, {id: '00301', size_gib: 1}]
          hosts: [{name: PROD_IG, npiv_lpar: {system: SYS, lpar_id: 3}, wwpns: [...], volumes: ['00201']}]

    Devices are thin unless `thin: false` (fully allocated). Each host gets a storage group
    <host>_SG with its volumes and a masking view <host>_MV.
    """
    entry = _keys(where, entry, _ARRAY_KEYS)
    array = PmaxArray(world, str(entry["name"]), str(entry.get("symmetrix_id") or "000197900123"),
                      topology_users(where, entry), unisphere_level(where, entry.get("unisphere")))
    limits = _keys(f"{where}.limits", entry.get("limits") or {}, _LIMIT_KEYS)
    if "snapshots_per_source" in limits:
        array.snapshots_per_source = int(limits["snapshots_per_source"])
    for j, item in enumerate(entry.get("volumes") or []):
        item = _keys(f"{where}.volumes[{j}]", item, _VOLUME_KEYS)
        if "size_cyl" in item:
            capacity = int(item["size_cyl"]) * CYLINDER_BYTES
        elif "size_gib" in item:
            capacity = int(float(item["size_gib"]) * 1024 ** 3)
        else:
            raise ValueError(f"{where}.volumes[{j}]: give size_cyl or size_gib")
        array.add_volume(str(item["id"]), capacity, thin=bool(item.get("thin", True)),
                         identifier=str(item.get("name") or ""))
    for item, npiv, vios in topology_hosts(where, entry, _HOST_KEYS):
        host = array.new_host(str(item["name"]), [str(w) for w in item.get("wwpns") or []], npiv, vios)
        sg = array.create_sg(f"{host.name}_SG")
        array.add_to_sg(sg.name, [str(v) for v in item.get("volumes") or []])
        array.add_view(f"{host.name}_MV", host, sg.name)
    return array
