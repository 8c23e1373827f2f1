"""A simulated IBM Storage Virtualize array (SVC / Storwize / FlashSystem): state, no I/O.

Volumes, hosts with their volume mappings (Volume and Host are the shared ones of
lab/blockarray.py), FlashCopy mappings and consistency groups, and the FlashCopy state
machine of reference §1.4. The CLI front (cli.py) turns command lines
into calls on this model; tests drive it directly.

Time: preparing -> prepared (cache flush), stopping -> stopped and the background copy
advance in lab seconds through `tick()`, which the array registers as a world ticker.

Model choices that the reference does not settle are class attributes, so a lab topology
or a test can change them:

- PREPARE_DELAY / STOP_DELAY: lab seconds of the flush and of the stopping phase.
- COPY_RATE_BASE: background copy model. Each step of 10 in copyrate doubles the speed,
  copyrate 1-10 copying COPY_RATE_BASE bytes per lab second (128 KiB/s, so 41-50 gives
  2 MiB/s, 141-150 gives 2 GiB/s, as IBM's copy rate table). `copy_rate_scale` multiplies
  it (tests use a large factor to reach 100 % in moments).
- PREP_AFTER_PRESTART_FAILS [U]: `startfcconsistgrp -prep` on a group already prepared by an
  explicit prestart fails (as documented for startfcmap) when True; starts it when False.
- STOP_IDLE_NOOP [U]: stop on idle_or_copied is a no-op (newer code levels, documented for
  stopfcmap) when True; CMMVC5903E (the transition table) when False.
- TARGET_OFFLINE_STATES [U]: mapping states in which the target volume reads offline.
- TARGET_USED_RESETS_ON_START: a thin target's used capacity restarts from 0 at the flash
  (it then holds only the grains split since), a lab simplification.

Code level: a topology setting (`code_level: "8.4"` ... `"8.7"`, or a full level string) that
the CLI front reads where levels really print differently (CODE_LEVELS below; the columns
that change are in cli.py).
"""
from __future__ import annotations

import re
import zlib
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ..blockarray import GiB, Host, Volume, _keys
from .errors import SvcError, not_found_for_action, not_found_for_listing, wrong_state

STATES = ("idle_or_copied", "preparing", "prepared", "copying", "stopping", "stopped", "suspended")
GROUP_STATES = STATES + ("empty",)
# While a group is in one of these, its membership cannot change (chfcmap doc).
ACTIVE_STATES = ("preparing", "prepared", "copying", "suspended", "stopping")
STOPPABLE_STATES = ("prepared", "copying", "stopping", "suspended")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9 ._\-]*")
_UID = re.compile(r"[0-9A-Fa-f]{32}")
Key = Union[str, int]

# The code levels the lab can be: the short form a topology gives -> the level string lssystem
# prints. 8.4 and 8.5 are levels seen in IBM's Ansible collection's unit data (ibm.storage_virtualize
# 2.4.1, tests/unit/plugins/modules/test_ibm_svc_manage_callhome.py and test_ibm_sv_manage_ip_partnership.py);
# the 8.6 and 8.7 build numbers are [U] (plausible, not seen).
CODE_LEVELS = {
    "8.4": "8.4.2.0 (build 154.20.2109031944000)",
    "8.5": "8.5.0.2 (build 157.12.2204111405000)",
    "8.6": "8.6.0.3 (build 169.9.2310251539000)",
    "8.7": "8.7.0.0 (build 178.19.2405211046000)",
}
_LEVEL = re.compile(r"(\d+)\.(\d+)(?:\.\d+\.\d+ \(build [0-9.]+\))?")


def code_level_string(value: Any) -> str:
    """A topology's code_level ("8.6", 8.6 or a full "8.6.0.3 (build ...)") -> the lssystem string."""
    text = str(value).strip()
    if text in CODE_LEVELS:
        return CODE_LEVELS[text]
    if not _LEVEL.fullmatch(text) or "(" not in text:
        raise ValueError(f"code_level {value!r}: give one of {', '.join(CODE_LEVELS)} or a full level string")
    return text


def level_tuple(level: str) -> Tuple[int, int]:
    """(major, minor) of a level string: "8.6.0.3 (build ...)" -> (8, 6)."""
    match = _LEVEL.match(level)
    if match is None:
        raise ValueError(f"not a code level: {level!r}")
    return int(match.group(1)), int(match.group(2))


def check_name(name: str, max_len: int = 63) -> str:
    """The array's naming rule (CMMVC6527E text): letters, digits, space . - _, first a letter or
    '_', no trailing space; groups are limited to 15 characters, other objects to 63."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith(" ") or len(name) > max_len:
        raise SvcError("CMMVC6527E")
    return name


def _lowest_free(used: Iterable[int], start: int) -> int:
    """Object ids are the lowest unused number, as the array reuses freed ids."""
    taken = set(used)
    n = start
    while n in taken:
        n += 1
    return n


def svc_time(when: Optional[datetime]) -> str:
    """start_time as the CLI prints it: YYMMDDhhmmss, empty if never started."""
    return when.strftime("%y%m%d%H%M%S") if when is not None else ""


class FcMap:
    """A FlashCopy mapping. Stand-alone maps are their own unit of the state machine."""

    def __init__(self, mid: int, name: str, source: Volume, target: Volume, copy_rate: int, clean_rate: int,
                 autodelete: bool, grain_size: int, incremental: bool, keep_target: bool):
        self.id, self.name, self.source, self.target = mid, name, source, target
        self.copy_rate, self.clean_rate, self.autodelete = copy_rate, clean_rate, autodelete
        self.grain_size, self.incremental, self.keep_target = grain_size, incremental, keep_target
        self.group: Optional[FcGroup] = None
        self.status = "idle_or_copied"
        self.copied = 0.0                  # bytes of the source image held on the target
        self.start_time: Optional[datetime] = None
        self.timer = 0.0                   # lab seconds left in preparing / stopping
        self.split = False                 # stopping with -split

    @property
    def progress(self) -> int:
        return min(100, int(100 * self.copied // self.source.capacity)) if self.source.capacity else 100

    def __repr__(self) -> str:
        return f"FcMap({self.id}, {self.name!r}, {self.status})"


class FcGroup:
    """A FlashCopy consistency group; `maps` keeps the order in which mappings joined."""

    def __init__(self, gid: int, name: str, autodelete: bool):
        self.id, self.name, self.autodelete = gid, name, autodelete
        self.maps: List[FcMap] = []
        self._status = "idle_or_copied"
        self.start_time: Optional[datetime] = None
        self.timer = 0.0
        self.split = False

    @property
    def status(self) -> str:
        return self._status if self.maps else "empty"

    def __repr__(self) -> str:
        return f"FcGroup({self.id}, {self.name!r}, {self.status})"


Unit = Union[FcGroup, FcMap]


def _members(unit: Unit) -> List[FcMap]:
    return list(unit.maps) if isinstance(unit, FcGroup) else [unit]


class StorageArray:
    PREPARE_DELAY = 3.0
    STOP_DELAY = 2.0
    COPY_RATE_BASE = 128 * 1024
    PREP_AFTER_PRESTART_FAILS = False
    STOP_IDLE_NOOP = False
    TARGET_OFFLINE_STATES = ("preparing", "prepared", "stopping", "stopped")
    TARGET_USED_RESETS_ON_START = True
    CODE_LEVEL = CODE_LEVELS["8.6"]
    # Limits (topology `limits:`): FlashCopy mappings per source volume (256, IBM's configuration
    # limits) and per consistency group (512 [U]).
    FCMAPS_PER_SOURCE = 256
    FCMAPS_PER_GROUP = 512
    PRODUCT_NAME = "IBM FlashSystem 9500"

    def __init__(self, world: Any, name: str, cluster: str, pools: Sequence[str], users: Sequence[str],
                 code_level: Optional[str] = None):
        if not pools:
            raise ValueError(f"storage {name}: at least one pool is needed")
        self.world, self.name, self.cluster = world, name, cluster
        self.pools, self.users = list(pools), list(users)
        self.lock = world.lock
        self.prepare_delay = self.PREPARE_DELAY
        self.stop_delay = self.STOP_DELAY
        self.copy_rate_scale = 1.0
        self.prep_after_prestart_fails = self.PREP_AFTER_PRESTART_FAILS
        self.stop_idle_noop = self.STOP_IDLE_NOOP
        self.fcmaps_per_source = self.FCMAPS_PER_SOURCE
        self.fcmaps_per_group = self.FCMAPS_PER_GROUP
        self.code_level = code_level_string(code_level) if code_level is not None else self.CODE_LEVEL
        self.volumes: Dict[int, Volume] = {}
        self.hosts: Dict[int, Host] = {}
        self.fcmaps: Dict[int, FcMap] = {}
        self.groups: Dict[int, FcGroup] = {}
        self._cluster_code = zlib.crc32(cluster.encode()) & 0xFFFFFFFF
        with world.lock:
            if name in world.arrays:
                raise ValueError(f"storage {name} is defined twice")
            world.arrays[name] = self
        world.add_ticker(self.tick)

    @property
    def level(self) -> Tuple[int, int]:
        """(major, minor) of the code level, for the answers that differ between levels."""
        return level_tuple(self.code_level)

    @property
    def system_id(self) -> str:
        return f"000002{self._cluster_code:010X}"

    # ---------------------------------------------------------------- lookups

    @staticmethod
    def _lookup(objects: Dict[int, Any], key: Key) -> Any:
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            return objects.get(int(key))
        for obj in objects.values():
            if obj.name == key:
                return obj
        return None

    def volume(self, key: Key) -> Optional[Volume]:
        """A volume by name, id or vdisk_UID; None if there is none."""
        with self.lock:
            found = self._lookup(self.volumes, key)
            if found is None and isinstance(key, str) and _UID.fullmatch(key):
                found = self.volume_by_uid(key)
            return found

    def volume_by_uid(self, uid: str) -> Optional[Volume]:
        with self.lock:
            for volume in self.volumes.values():
                if volume.uid.upper() == uid.upper():
                    return volume
            return None

    def host(self, key: Key) -> Optional[Host]:
        with self.lock:
            return self._lookup(self.hosts, key)

    def fcmap(self, key: Key) -> Optional[FcMap]:
        with self.lock:
            return self._lookup(self.fcmaps, key)

    def group(self, key: Key) -> Optional[FcGroup]:
        with self.lock:
            return self._lookup(self.groups, key)

    @staticmethod
    def _need(found: Any, error) -> Any:
        if found is None:
            raise error()
        return found

    def npiv_volumes(self, system: str, lpar_id: int) -> List[Volume]:
        """Volumes an NPIV client partition sees: mapped to hosts of that LPAR, in SCSI id order."""
        return self._host_volumes(lambda h: h.npiv_lpar == (system, int(lpar_id)))

    def vios_volumes(self, system: str, vios_name: str) -> List[Volume]:
        """Volumes a VIOS sees (its hdisks after cfgdev), in SCSI id order."""
        return self._host_volumes(lambda h: h.vios == (system, vios_name))

    def _host_volumes(self, wanted) -> List[Volume]:
        with self.lock:
            volumes: List[Volume] = []
            for host in sorted(self.hosts.values(), key=lambda h: h.id):
                if wanted(host):
                    volumes.extend(host.volumes_in_scsi_order())
            return volumes

    def maps_of(self, volume: Volume) -> List[FcMap]:
        """Mappings in which VOLUME is the source or the target, by id."""
        with self.lock:
            return [m for _, m in sorted(self.fcmaps.items()) if volume in (m.source, m.target)]

    def volume_status(self, volume: Volume) -> str:
        with self.lock:
            for m in self.fcmaps.values():
                if m.target is volume and m.status in self.TARGET_OFFLINE_STATES:
                    return "offline"
            return "online"

    # ---------------------------------------------------------------- volumes and hosts

    def _unique(self, objects: Dict[int, Any], name: str) -> None:
        if any(o.name == name for o in objects.values()):
            raise SvcError("CMMVC6035E")

    def add_volume(self, name: str, capacity: int, thin: bool = False, pool: Optional[str] = None,
                   used_bytes: Optional[int] = None, rsize_percent: float = 2.0) -> Volume:
        with self.lock:
            check_name(name)
            self._unique(self.volumes, name)
            pool = pool or self.pools[0]
            if pool not in self.pools:
                raise not_found_for_listing()
            vid = _lowest_free(self.volumes, 0)
            uid = f"60050768{self._cluster_code:08X}C{vid:015X}"
            volume = Volume(self, vid, name, int(capacity), bool(thin), pool, uid, rsize_percent)
            if thin and used_bytes is not None:
                volume.used_bytes = min(int(used_bytes), volume.capacity)
            self.volumes[vid] = volume
            return volume

    def add_host(self, name: str, wwpns: Sequence[str], npiv_lpar: Optional[Tuple[str, int]] = None,
                 vios: Optional[Tuple[str, str]] = None) -> Host:
        with self.lock:
            check_name(name)
            self._unique(self.hosts, name)
            host = Host(_lowest_free(self.hosts, 0), name, wwpns, npiv_lpar, vios)
            self.hosts[host.id] = host
            return host

    def map_volume(self, host_key: Key, volume_key: Key, scsi: Optional[int] = None, force: bool = False) -> int:
        """mkvdiskhostmap: returns the SCSI id used."""
        with self.lock:
            host = self._need(self.host(host_key), not_found_for_action)
            volume = self._need(self.volume(volume_key), not_found_for_action)
            mapped_here = volume in host.mappings.values()
            mapped_elsewhere = any(volume in h.mappings.values() for h in self.hosts.values() if h is not host)
            if mapped_here or (mapped_elsewhere and not force):
                raise SvcError("CMMVC6071E")
            if scsi is None:
                scsi = _lowest_free(host.mappings, 0)
            elif scsi in host.mappings:
                raise SvcError("CMMVC5879E")
            host.mappings[scsi] = volume
            return scsi

    def unmap_volume(self, host_key: Key, volume_key: Key) -> None:
        """rmvdiskhostmap."""
        with self.lock:
            host = self._need(self.host(host_key), not_found_for_action)
            volume = self._need(self.volume(volume_key), not_found_for_action)
            for scsi, mapped in list(host.mappings.items()):
                if mapped is volume:
                    del host.mappings[scsi]
                    return
            raise not_found_for_action()

    def host_mappings(self, host: Optional[Host] = None) -> List[Tuple[Host, int, Volume]]:
        """(host, SCSI id, volume) for one host or all, by host id then SCSI id."""
        with self.lock:
            hosts = [host] if host is not None else sorted(self.hosts.values(), key=lambda h: h.id)
            return [(h, scsi, h.mappings[scsi]) for h in hosts for scsi in sorted(h.mappings)]

    # ---------------------------------------------------------------- writes

    def volume_written(self, volume: Volume, nbytes: int) -> None:
        """A partition wrote NBYTES to VOLUME: thin growth, and copy-on-write of the grains still
        shared with the targets of copying mappings whose source it is."""
        with self.lock:
            volume._grow(nbytes)
            for m in self.fcmaps.values():
                if m.source is volume and m.status == "copying":
                    self._split_grains(m, nbytes)

    @staticmethod
    def _split_grains(m: FcMap, nbytes: float) -> None:
        """Grains copied to the target (by copy-on-write or background copy) take its space."""
        add = min(float(nbytes), m.source.capacity - m.copied)
        if add > 0:
            m.copied += add
            m.target._grow(add)

    # ---------------------------------------------------------------- FlashCopy: create / change / remove

    def mkfcconsistgrp(self, name: Optional[str] = None, autodelete: bool = False) -> FcGroup:
        with self.lock:
            if name is not None:
                check_name(name, 15)
                self._unique(self.groups, name)
            gid = _lowest_free(self.groups, 1)
            group = FcGroup(gid, name or f"fccstgrp{gid}", autodelete)
            self.groups[gid] = group
            return group

    def mkfcmap(self, source: Key, target: Key, name: Optional[str] = None, consistgrp: Optional[Key] = None,
                copyrate: int = 50, autodelete: bool = False, grainsize: int = 256, incremental: bool = False,
                cleanrate: int = 50, keeptarget: bool = False) -> FcMap:
        with self.lock:
            src = self._need(self.volume(source), not_found_for_listing)
            tgt = self._need(self.volume(target), not_found_for_listing)
            if src is tgt:
                raise SvcError("CMMVC6303E")
            if src.capacity != tgt.capacity:
                raise SvcError("CMMVC5924E")
            _check_rate(copyrate)
            _check_rate(cleanrate)
            if grainsize not in (64, 256):
                raise SvcError("CMMVC5767E")
            group = self._need(self.group(consistgrp), not_found_for_listing) if consistgrp is not None else None
            if group is not None and group.status in ACTIVE_STATES:
                raise wrong_state()
            if name is not None:
                check_name(name)
                self._unique(self.fcmaps, name)
            if sum(1 for m in self.fcmaps.values() if m.source is src) >= self.fcmaps_per_source:
                raise SvcError("CMMVC6425E")
            if group is not None and len(group.maps) >= self.fcmaps_per_group:
                raise SvcError("CMMVC6426E")
            mid = _lowest_free(self.fcmaps, 0)
            m = FcMap(mid, name or f"fcmap{mid}", src, tgt, copyrate, cleanrate, autodelete, grainsize,
                      incremental, keeptarget)
            self.fcmaps[mid] = m
            if group is not None:
                self._join(group, m)
            return m

    @staticmethod
    def _join(group: FcGroup, m: FcMap) -> None:
        if not group.maps:
            group._status = m.status
        group.maps.append(m)
        m.group = group

    def _leave(self, m: FcMap) -> None:
        group = m.group
        if group is None:
            return
        group.maps.remove(m)
        m.group = None
        if not group.maps and group.autodelete:
            del self.groups[group.id]

    def chfcmap(self, key: Key, name: Optional[str] = None, consistgrp: Optional[Key] = None,
                copyrate: Optional[int] = None, autodelete: Optional[bool] = None,
                cleanrate: Optional[int] = None) -> None:
        with self.lock:
            m = self._need(self.fcmap(key), not_found_for_action)
            others = (consistgrp, copyrate, autodelete, cleanrate)
            if name is not None and any(v is not None for v in others):
                raise SvcError("CMMVC5713E")
            if name is not None:
                check_name(name)
                if name != m.name:
                    self._unique(self.fcmaps, name)
                m.name = name
                return
            for rate in (copyrate, cleanrate):
                if rate is not None:
                    _check_rate(rate)
            if consistgrp is not None:
                new = None if str(consistgrp) == "0" else self._need(self.group(consistgrp), not_found_for_action)
                busy = [g for g in (m.group, new) if g is not None and g.status in ACTIVE_STATES]
                if busy or m.status not in ("idle_or_copied", "stopped"):
                    raise wrong_state()
                if new is not None and new is not m.group and len(new.maps) >= self.fcmaps_per_group:
                    raise SvcError("CMMVC6426E")
                if new is not m.group:
                    self._leave(m)
                    if new is not None:
                        self._join(new, m)
            if copyrate is not None:
                m.copy_rate = copyrate
            if cleanrate is not None:
                m.clean_rate = cleanrate
            if autodelete is not None:
                m.autodelete = autodelete

    def rmfcmap(self, key: Key, force: bool = False) -> None:
        with self.lock:
            m = self._need(self.fcmap(key), not_found_for_action)
            if not (m.status == "idle_or_copied" or (m.status == "stopped" and force)):
                raise wrong_state()
            self._delete_map(m)

    def _delete_map(self, m: FcMap) -> None:
        self._leave(m)
        del self.fcmaps[m.id]

    def rmfcconsistgrp(self, key: Key, force: bool = False) -> None:
        """Without -force only an empty group goes; with -force its mappings become stand-alone."""
        with self.lock:
            group = self._need(self.group(key), not_found_for_action)
            if group.maps:
                if not force:
                    raise SvcError("CMMVC6045E")
                if group.status not in ("idle_or_copied", "stopped", "prepared", "copying"):
                    raise wrong_state()
                for m in group.maps:
                    m.group = None
                group.maps = []
            del self.groups[group.id]

    # ---------------------------------------------------------------- FlashCopy: the state machine

    def _unit(self, key: Key, group: bool) -> Unit:
        if group:
            return self._need(self.group(key), not_found_for_action)
        m = self._need(self.fcmap(key), not_found_for_action)
        if m.group is not None:        # a member moves with its group only
            raise wrong_state()
        return m

    @staticmethod
    def _move(unit: Unit, status: str, members: Optional[List[FcMap]] = None) -> None:
        for m in (members if members is not None else _members(unit)):
            m.status = status
        if isinstance(unit, FcGroup):
            unit._status = status
        else:
            unit.status = status

    def _prestart(self, unit: Unit) -> None:
        if unit.status not in ("idle_or_copied", "stopped"):
            raise wrong_state()
        self._move(unit, "preparing")
        unit.timer = self.prepare_delay
        if unit.timer <= 0:
            self._prepared(unit)

    def _prepared(self, unit: Unit) -> None:
        self._move(unit, "prepared")
        self.world.record("device", f"{self.name}: FlashCopy {unit.name} prepared")

    def _start(self, unit: Unit, prep: bool) -> List[Volume]:
        status = unit.status
        if prep and status in ("idle_or_copied", "stopped"):
            self._move(unit, "prepared")            # -prep flushes within the command
        elif status != "prepared" or (prep and self.prep_after_prestart_fails):
            raise wrong_state()
        maps = _members(unit)
        images = self.world.capture([m.source for m in maps])   # the point in time is now
        now = self.world.clock.now()
        for m, image in zip(maps, images):
            m.target.content = image
            m.copied, m.start_time, m.split = 0.0, now, False
            if m.target.thin and self.TARGET_USED_RESETS_ON_START:
                m.target.used_bytes = 0
        self._move(unit, "copying")
        unit.start_time = now
        self.world.record("device", f"{self.name}: FlashCopy {unit.name} started "
                                    f"({', '.join(f'{m.source.name}->{m.target.name}' for m in maps)})")
        return [m.target for m in maps]

    def _stop(self, unit: Unit, force: bool, split: bool) -> None:
        if force and split:
            raise SvcError("CMMVC5713E")
        status = unit.status
        if status == "idle_or_copied" and self.stop_idle_noop:
            return
        if status not in STOPPABLE_STATES:
            raise wrong_state()
        active = [m for m in _members(unit) if m.status in STOPPABLE_STATES]
        if split and any(m.progress < 100 for m in active):
            raise wrong_state()
        if status == "prepared":
            self._move(unit, "stopped", active)
        elif force or self.stop_delay <= 0:
            unit.split = split
            self._finish_stop(unit)
        elif status != "stopping":
            self._move(unit, "stopping", active)
            unit.timer, unit.split = self.stop_delay, split
        self.world.record("device", f"{self.name}: FlashCopy {unit.name} stop requested ({unit.status})")

    def _finish_stop(self, unit: Unit) -> None:
        split = unit.split
        for m in _members(unit):
            if m.status not in STOPPABLE_STATES:
                continue
            m.status = "idle_or_copied" if split else "stopped"
            if not split and m.progress < 100:
                m.target.content = None           # an incomplete copy leaves the target unusable
        if isinstance(unit, FcGroup):
            unit._status = "idle_or_copied" if split else "stopped"

    def _locked_unit_op(self, key: Key, group: bool, op) -> None:
        with self.lock:
            op(self._unit(key, group))

    def prestartfcconsistgrp(self, key: Key, restore: bool = False) -> None:
        self._locked_unit_op(key, True, self._prestart)

    def prestartfcmap(self, key: Key, restore: bool = False) -> None:
        self._locked_unit_op(key, False, self._prestart)

    def startfcconsistgrp(self, key: Key, prep: bool = False, restore: bool = False) -> None:
        self._start_unit(key, True, prep)

    def startfcmap(self, key: Key, prep: bool = False, restore: bool = False) -> None:
        self._start_unit(key, False, prep)

    def _start_unit(self, key: Key, group: bool, prep: bool) -> None:
        with self.lock:
            unit = self._unit(key, group)
            targets = self._start(unit, prep)
        # Outside the lock: overwriting a volume in use crashes its partition (world side).
        for volume in targets:
            self.world.volume_overwritten(volume, f"FlashCopy {unit.name}")

    def stopfcconsistgrp(self, key: Key, force: bool = False, split: bool = False) -> None:
        self._locked_unit_op(key, True, lambda unit: self._stop(unit, force, split))

    def stopfcmap(self, key: Key, force: bool = False, split: bool = False) -> None:
        self._locked_unit_op(key, False, lambda unit: self._stop(unit, force, split))

    # ---------------------------------------------------------------- time

    def copy_speed(self, copy_rate: int) -> float:
        """Background copy in bytes per lab second for a copyrate (0: none)."""
        if copy_rate <= 0:
            return 0.0
        return self.COPY_RATE_BASE * 2 ** ((copy_rate - 1) // 10) * self.copy_rate_scale

    def tick(self, lab_seconds: float) -> None:
        """Advance the array by LAB_SECONDS: flushes end, stops end, background copies progress."""
        with self.lock:
            units: List[Unit] = list(self.groups.values()) + [m for m in self.fcmaps.values() if m.group is None]
            for unit in units:
                if unit.status not in ("preparing", "stopping"):
                    continue
                unit.timer -= lab_seconds
                if unit.timer > 0:
                    continue
                if unit.status == "preparing":
                    self._prepared(unit)
                else:
                    self._finish_stop(unit)
            for m in list(self.fcmaps.values()):
                if m.status != "copying" or m.copy_rate <= 0:
                    continue
                self._split_grains(m, self.copy_speed(m.copy_rate) * lab_seconds)
                if m.progress >= 100:
                    m.status = "idle_or_copied"
                    if m.autodelete:
                        self._delete_map(m)
            for group in self.groups.values():
                if group._status == "copying" and group.maps and \
                        all(m.status == "idle_or_copied" for m in group.maps):
                    group._status = "idle_or_copied"


def _check_rate(rate: int) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate <= 150:
        raise SvcError("CMMVC5767E")


# -------------------------------------------------------------------- topology

_ARRAY_KEYS = {"name", "type", "cluster", "users", "pools", "volumes", "hosts", "code_level", "limits"}
_LIMIT_KEYS = {"fcmaps_per_source", "fcmaps_per_group"}
_VOLUME_KEYS = {"name", "size_gib", "thin", "pool", "used_gib", "rsize_percent"}
_HOST_KEYS = {"name", "npiv_lpar", "vios", "wwpns", "volumes"}


def build_arrays(world: Any, storage_section: List[dict]) -> None:
    """Build the Storage Virtualize arrays of the topology's `storage:` section into WORLD.

    Entries of other types (ds8000, powermax) belong to other lab models and are skipped.
    Hosts map their volumes in the listed order, SCSI ids 0, 1, 2 ...
    """
    for i, entry in enumerate(storage_section or []):
        entry = _keys(f"storage[{i}]", entry, _ARRAY_KEYS)
        if entry.get("type", "svc") != "svc":
            continue
        name = str(entry["name"])
        array = StorageArray(world, name, str(entry.get("cluster", name)), entry.get("pools") or ["Pool0"],
                             entry.get("users") or [], entry.get("code_level"))
        for key, value in _keys(f"storage[{i}].limits", entry.get("limits") or {}, _LIMIT_KEYS).items():
            setattr(array, key, int(value))
        for j, vol in enumerate(entry.get("volumes") or []):
            vol = _keys(f"storage[{i}].volumes[{j}]", vol, _VOLUME_KEYS)
            used = vol.get("used_gib")
            array.add_volume(str(vol["name"]), int(float(vol["size_gib"]) * GiB), bool(vol.get("thin", False)),
                             vol.get("pool"), int(float(used) * GiB) if used is not None else None,
                             float(vol.get("rsize_percent", 2.0)))
        for j, item in enumerate(entry.get("hosts") or []):
            item = _keys(f"storage[{i}].hosts[{j}]", item, _HOST_KEYS)
            npiv, vios = item.get("npiv_lpar"), item.get("vios")
            if (npiv is None) == (vios is None):
                raise ValueError(f"storage[{i}].hosts[{j}]: give exactly one of npiv_lpar and vios")
            host = array.add_host(str(item["name"]), [str(w) for w in item.get("wwpns") or []],
                                  npiv_lpar=(str(npiv["system"]), int(npiv["lpar_id"])) if npiv else None,
                                  vios=(str(vios["system"]), str(vios["lpar"])) if vios else None)
            for vol_name in item.get("volumes") or []:
                if array.volume(str(vol_name)) is None:
                    raise ValueError(f"storage[{i}].hosts[{j}]: unknown volume {vol_name!r}")
                array.map_volume(host.id, str(vol_name))
