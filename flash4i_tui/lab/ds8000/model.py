"""A simulated IBM DS8000: volumes (4-hex ids, LSS = the first two digits), hosts with LUN
mappings, REST tokens, and FlashCopy relationships with freeze/unfreeze. State only, no I/O;
the REST front (rest.py) turns requests into calls on this model.

- A FlashCopy relationship captures its source's content at creation (world.capture, all pairs
  of one request as one consistent set) and puts it on the target (world.volume_overwritten:
  a target in use by a running partition is a disaster the world records).
- `freeze_consistency` freezes the source LSSs: their volumes report long busy, so a running
  IBM i writing to them waits, until `unfreeze` or the extended long busy timeout.
- Without `no_background_copy` the source is copied to the target in the background; with it,
  only tracks written on the source after the flash reach the target (copy on write). A
  persistent relationship stays when its copy is done (out_of_sync_tracks 0); another ends.
- Tokens expire after an idle time.

- A source volume has at most RELATIONSHIPS_PER_SOURCE relationships (12, IBM's "multiple
  relationship FlashCopy"; the topology's `limits: {relationships_per_source: N}` changes it).
- Cascading FlashCopy (a target that is the source of another relationship, or a source that
  becomes a target) is allowed from release 8.3 (DS8880 R8.3, IBM's "DS8880 Cascading
  FlashCopy", 2017), refused before: every modelled release allows it.

Model choices the reference does not settle are class attributes [U]: LONG_BUSY_TIMEOUT,
BACKGROUND_COPY_BYTES, TOKEN_IDLE_SECONDS, TARGET_USED_RESETS_ON_FLASH.

The code level is the topology's `release:` ('9.3' when left out): what GET /systems reports
(release and bundle; the system fields are pyds8k's test data's [V], the bundle numbers [U]).
"""
from __future__ import annotations

import secrets
import threading
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..blockarray import BlockArray, Host, MiB, Volume, _keys, size_bytes, topology_hosts, topology_users
from .errors import Ds8kError

TRACK_BYTES = 64 * 1024                   # [R] a fixed-block track
# Code levels: release -> microcode bundle [U] (DS8900F R9.x bundles are 89.x, DS8880 R8.5 88.5x).
RELEASES = {"8.5": "88.51.31.0", "9.2": "89.22.19.0", "9.3": "89.32.40.0", "9.4": "89.40.83.0"}
DEFAULT_RELEASE = "9.3"
OPTIONS = ("freeze_consistency", "inhibit_target_writes", "record_changes", "no_background_copy", "persistent",
           "allow_pprc_target_primary", "reverse_restore", "fast_reverse_restore", "permit_space_efficient_target",
           "fail_space_efficient_target_out_of_space")
UNSUPPORTED = ("reverse_restore", "fast_reverse_restore", "allow_pprc_target_primary")   # not modelled


def ds_time(when: datetime) -> str:
    """Timestamps as the REST API prints them (the token's expired_time form)."""
    return when.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class Relationship:
    source: Volume
    target: Volume
    background: bool
    persistent: bool
    recording: bool
    created: datetime
    copied: float = 0.0                  # bytes of the source image on the target
    state: str = "valid"

    @property
    def id(self) -> str:
        return f"{self.source.id}:{self.target.id}"

    @property
    def out_of_sync(self) -> int:
        left = max(0.0, self.source.capacity - self.copied)
        return int(-(-left // TRACK_BYTES))


@dataclass
class Token:
    user: str
    last_used: float                      # lab monotonic seconds
    created: datetime


@dataclass
class Freeze:
    until: float                          # lab monotonic seconds: the long busy timeout
    waiting: set = field(default_factory=set)    # volumes whose writes waited (recorded once each)
    pause: Any = None                     # the world's ground-truth record of this hold


class Ds8kArray(BlockArray):
    kind = "ds8000"
    LONG_BUSY_TIMEOUT = 120.0             # [U] lab seconds (the lsflash Timeout column shows 120)
    BACKGROUND_COPY_BYTES = 64 * MiB      # [U] bytes per lab second of a background copy
    TOKEN_IDLE_SECONDS = 1800.0           # max_idle_interval 1800000 ms, in lab seconds
    CASCADING_FROM = (8, 3)               # the first release with cascading FlashCopy
    RELATIONSHIPS_PER_SOURCE = 12
    TARGET_USED_RESETS_ON_FLASH = True    # a thin target holds only what the new relationship copies
    MTM = "2107-996"

    def __init__(self, world: Any, name: str, image: str, users: Dict[str, str], release: str = DEFAULT_RELEASE):
        super().__init__(world, name)
        if release not in RELEASES:
            raise ValueError(f"storage {name}: release {release!r} is not one of {', '.join(RELEASES)}")
        self.release, self.bundle = release, RELEASES[release]
        self.cascade_refused = tuple(int(p) for p in release.split(".")) < self.CASCADING_FROM
        self.relationships_per_source = self.RELATIONSHIPS_PER_SOURCE
        self.image = image                 # storage image id, IBM.2107-75FA120
        self.users = dict(users)
        self.relationships: Dict[str, Relationship] = {}
        self.frozen: Dict[str, Freeze] = {}
        self.tokens: Dict[str, Token] = {}
        self.copy_scale = 1.0
        self.thawed = threading.Condition(world.lock)
        self._code = zlib.crc32(image.encode()) & 0xFFFF

    # ---------------------------------------------------------------- volumes and hosts

    def add_volume(self, vid: str, capacity: int, thin: bool = False, nickname: str = "",
                   pool: str = "P0") -> Volume:
        vid = str(vid).upper()
        if len(vid) != 4 or any(c not in "0123456789ABCDEF" for c in vid):
            raise ValueError(f"storage {self.name}: {vid!r} is not a DS8000 volume id (4 hex digits)")
        # [U] the LUN identifier a host sees: IBM's NAA prefix, the image and the volume id.
        uid = f"6005076303FF{self._code:04X}{0:012X}{vid}"
        volume = self.new_volume(vid, capacity, thin, uid, pool)
        volume.nickname = nickname or vid
        volume.lss = vid[:2]
        return volume

    def _need_volume(self, vid: str) -> Volume:
        volume = self.volumes.get(str(vid))
        if volume is None:
            raise Ds8kError("not_found", what="volume", id=vid)
        return volume

    def _need_host(self, name: str) -> Host:
        host = self.hosts.get(name)
        if host is None:
            raise Ds8kError("not_found", what="host", id=name)
        return host

    def map_volume(self, host_name: str, vid: str, lun: Optional[int] = None) -> int:
        with self.lock:
            host = self._need_host(host_name)
            volume = self._need_volume(vid)
            if volume in host.mappings.values():
                raise Ds8kError("mapping_exists", volume=vid, host=host_name)
            if lun is None:
                lun = next(n for n in range(0, 0x10000) if n not in host.mappings)
            elif lun in host.mappings:
                raise Ds8kError("lun_in_use", lun=f"{lun:02X}", host=host_name)
            host.mappings[lun] = volume
            return lun

    def unmap_volume(self, host_name: str, lun: int) -> None:
        with self.lock:
            host = self._need_host(host_name)
            if lun not in host.mappings:
                raise Ds8kError("not_found", what="mapping", id=f"{host_name}/{lun:02X}")
            del host.mappings[lun]

    # ---------------------------------------------------------------- tokens

    def login(self, user: str, password: str) -> Tuple[str, Token]:
        with self.lock:
            if not user or self.users.get(user) != password:
                raise Ds8kError("auth_failed")
            token = secrets.token_hex(16)
            entry = self.tokens[token] = Token(user, self.world.clock.monotonic(), self.world.clock.now())
            return token, entry

    def check_token(self, token: Optional[str]) -> str:
        """The user of a valid token (its idle time restarts); Ds8kError otherwise."""
        with self.lock:
            entry = self.tokens.get(token or "")
            if entry is None:
                raise Ds8kError("token_invalid")
            now = self.world.clock.monotonic()
            if now - entry.last_used > self.TOKEN_IDLE_SECONDS:
                del self.tokens[token]
                raise Ds8kError("token_expired")
            entry.last_used = now
            return entry.user

    def expire_tokens(self) -> None:
        """Every token ages past its idle time (a test hook: the next request gets BE7A001B)."""
        with self.lock:
            for entry in self.tokens.values():
                entry.last_used -= self.TOKEN_IDLE_SECONDS + 1

    # ---------------------------------------------------------------- FlashCopy

    def rels_of(self, volume: Volume) -> List[Relationship]:
        with self.lock:
            return [r for r in self.relationships.values() if volume in (r.source, r.target)]

    def create_flashcopies(self, pairs: Sequence[Tuple[str, str]], options: Sequence[str]) -> List[Relationship]:
        """POST /cs/flashcopies: every pair is checked first; then all are created at one instant."""
        with self.lock:
            options = list(options)
            unknown = [o for o in options if o not in OPTIONS]
            if unknown:
                raise Ds8kError("bad_parameter", what="options", why=f"unknown option {unknown[0]}")
            if any(o in UNSUPPORTED for o in options):
                raise Ds8kError("bad_parameter", what="options", why="reverse and PPRC options are not supported")
            if not pairs:
                raise Ds8kError("bad_parameter", what="volume_pairs", why="no volume pair")
            resolved: List[Tuple[Volume, Volume]] = []
            targets = [t for _, t in pairs]
            if len(set(targets)) != len(targets):
                raise Ds8kError("bad_parameter", what="volume_pairs", why="a target volume appears twice")
            for src_id, tgt_id in pairs:
                source, target = self._need_volume(src_id), self._need_volume(tgt_id)
                pair = f"{src_id}:{tgt_id}"
                if source is target:
                    raise Ds8kError("flash_failed", pair=pair, why="the source and the target are the same volume")
                if source.capacity != target.capacity:
                    raise Ds8kError("flash_failed", pair=pair, why="the source and target volumes differ in size")
                if target.thin and "permit_space_efficient_target" not in options:
                    raise Ds8kError("flash_failed", pair=pair,
                                    why="the target is space efficient and permit_space_efficient_target is not set")
                for rel in self.rels_of(target):
                    if rel.target is target:
                        raise Ds8kError("flash_failed", pair=pair, why=f"the target is already the target of "
                                                                      f"FlashCopy {rel.id}")
                    if self.cascade_refused:
                        raise Ds8kError("flash_failed", pair=pair,
                                        why=f"the target is the source of FlashCopy {rel.id}")
                if self.cascade_refused and any(r.target is source for r in self.rels_of(source)):
                    raise Ds8kError("flash_failed", pair=pair, why="the source is the target of a FlashCopy")
                have = sum(1 for r in self.relationships.values() if r.source is source)
                if have + sum(1 for s, _ in pairs if s == src_id) > self.relationships_per_source:
                    raise Ds8kError("too_many_relationships", pair=pair, source=src_id,
                                    limit=self.relationships_per_source)
                resolved.append((source, target))
            # Checked: the point in time is now, for every pair at once.
            images = self.world.capture([s for s, _ in resolved])
            now = self.world.clock.now()
            persistent = "persistent" in options or "record_changes" in options
            created = []
            for (source, target), image in zip(resolved, images):
                rel = Relationship(source, target, background="no_background_copy" not in options,
                                   persistent=persistent, recording="record_changes" in options, created=now)
                target.content = image
                if target.thin and self.TARGET_USED_RESETS_ON_FLASH:
                    target.used_bytes = 0
                self.relationships[rel.id] = rel
                created.append(rel)
            if "freeze_consistency" in options:
                until = self.world.clock.monotonic() + self.LONG_BUSY_TIMEOUT
                for lss in sorted({s.lss for s, _ in resolved}):
                    if lss not in self.frozen:
                        self.frozen[lss] = Freeze(until, pause=self.world.pause_begins(f"{self.name} LSS {lss}",
                                                                                       "lss_freeze"))
            self.world.record("device", f"{self.name}: FlashCopy {', '.join(r.id for r in created)} created"
                                        f"{' (source LSS frozen)' if 'freeze_consistency' in options else ''}")
        for rel in created:             # outside the lock: an overwritten disk crashes its partition
            self.world.volume_overwritten(rel.target, f"FlashCopy {rel.id}")
        return created

    def delete_flashcopy(self, rel_id: str) -> None:
        with self.lock:
            rel = self.relationships.pop(rel_id, None)
            if rel is None:
                raise Ds8kError("not_found", what="FlashCopy", id=rel_id)
            if rel.copied < rel.source.capacity:
                rel.target.content = None      # a withdrawn incomplete copy leaves the target unusable
            self.world.record("device", f"{self.name}: FlashCopy {rel_id} withdrawn")

    def unfreeze(self, lss_ids: Sequence[str]) -> None:
        with self.lock:
            for lss in lss_ids:
                if not (isinstance(lss, str) and len(lss) == 2 and all(c in "0123456789ABCDEF" for c in lss)):
                    raise Ds8kError("bad_parameter", what="lss_ids", why=f"{lss!r} is not an LSS id")
            thawed = []
            for lss in lss_ids:
                freeze = self.frozen.pop(lss, None)
                if freeze is not None:
                    self.world.pause_ends(freeze.pause, "thawed")
                    thawed.append(lss)
            if thawed:
                self.world.record("device", f"{self.name}: LSS {', '.join(thawed)} unfrozen")
            self.thawed.notify_all()

    def is_frozen(self, volume: Volume) -> bool:
        return getattr(volume, "lss", None) in self.frozen

    # ---------------------------------------------------------------- writes and time

    def volume_written(self, volume: Volume, nbytes: int) -> None:
        """A partition writes: while the volume's LSS is frozen the write waits (long busy), then
        thin growth, and copy on write to the targets of its relationships."""
        with self.lock:
            self._wait_thawed(volume)
            volume._grow(nbytes)
            for rel in self.relationships.values():
                if rel.source is volume:
                    self._copy(rel, nbytes)

    def _wait_thawed(self, volume: Volume) -> None:
        clock = self.world.clock
        while True:
            freeze = self.frozen.get(getattr(volume, "lss", ""))
            if freeze is None:
                return
            left = freeze.until - clock.monotonic()
            if left <= 0 or clock.stopped:
                self._thaw_expired()
                continue
            if volume.id not in freeze.waiting:
                freeze.waiting.add(volume.id)
                self.world.record("device", f"{self.name}: write to volume {volume.id} waits: LSS {volume.lss} is "
                                            "long busy (FlashCopy freeze)")
            self.thawed.wait(min(clock.real(left), 0.05))

    def _thaw_expired(self) -> None:
        now = self.world.clock.monotonic()
        for lss, freeze in list(self.frozen.items()):
            if now >= freeze.until or self.world.clock.stopped:
                del self.frozen[lss]
                self.world.pause_ends(freeze.pause, "timeout")
                self.world.record("device", f"{self.name}: LSS {lss} long busy ended by its timeout "
                                            f"({self.LONG_BUSY_TIMEOUT:g}s) without an unfreeze")
        self.thawed.notify_all()

    @staticmethod
    def _copy(rel: Relationship, nbytes: float) -> None:
        add = min(float(nbytes), rel.source.capacity - rel.copied)
        if add > 0:
            before = int(rel.copied)
            rel.copied = min(float(rel.source.capacity), rel.copied + add + 1e-6)
            rel.target._grow(int(rel.copied) - before)     # whole bytes, so a finished copy fills the target

    def tick(self, lab_seconds: float) -> None:
        with self.lock:
            if self.frozen:
                self._thaw_expired()
            for rel in list(self.relationships.values()):
                if not rel.background or rel.copied >= rel.source.capacity:
                    continue
                self._copy(rel, self.BACKGROUND_COPY_BYTES * self.copy_scale * lab_seconds)
                if rel.copied >= rel.source.capacity and not rel.persistent:
                    del self.relationships[rel.id]       # a background copy that is done ends the relationship


# -------------------------------------------------------------------- topology

_ARRAY_KEYS = {"name", "type", "image", "users", "password_env", "volumes", "hosts", "release", "limits"}
_LIMIT_KEYS = {"relationships_per_source"}
_VOLUME_KEYS = {"id", "name", "size_gib", "thin", "used_gib", "pool"}
_HOST_KEYS = {"name", "npiv_lpar", "vios", "wwpns", "volumes"}


def build_ds8000(world: Any, entry: dict, where: str = "storage") -> Ds8kArray:
    """One DS8000 of the topology's `storage:` section (type ds8000).

        - name: DS1
          type: ds8000
          image: IBM.2107-75FA120
          users: {flash4i: lab-password}       # the lab's own accounts
          password_env: FLASH4I_DS1_PASSWORD   # what the written configuration names
          release: '9.3'                       # the code level (RELEASES)
          limits: {relationships_per_source: 12}
          volumes: [{id: '1000', name: PROD_001, size_gib: 1}, {id: '2000', size_gib: 1, thin: true}]
          hosts: [{name: PROD_FC, npiv_lpar: {system: SYS, lpar_id: 3}, wwpns: [...], volumes: ['1000']}]
    """
    entry = _keys(where, entry, _ARRAY_KEYS)
    name = str(entry["name"])
    array = Ds8kArray(world, name, str(entry.get("image") or f"IBM.2107-75{name[:5].upper():0<5}"),
                      topology_users(where, entry), str(entry.get("release") or DEFAULT_RELEASE))
    limits = _keys(f"{where}.limits", entry.get("limits") or {}, _LIMIT_KEYS)
    if "relationships_per_source" in limits:
        array.relationships_per_source = int(limits["relationships_per_source"])
    for j, item in enumerate(entry.get("volumes") or []):
        item = _keys(f"{where}.volumes[{j}]", item, _VOLUME_KEYS)
        volume = array.add_volume(str(item["id"]), size_bytes(f"{where}.volumes[{j}]", item),
                                  bool(item.get("thin", False)), str(item.get("name") or ""),
                                  str(item.get("pool") or "P0"))
        if volume.thin and item.get("used_gib") is not None:
            volume.used_bytes = min(volume.capacity, int(float(item["used_gib"]) * 1024 ** 3))
    for item, npiv, vios in topology_hosts(where, entry, _HOST_KEYS):
        host = array.new_host(str(item["name"]), [str(w) for w in item.get("wwpns") or []], npiv, vios)
        for vid in item.get("volumes") or []:
            if str(vid) not in array.volumes:
                raise ValueError(f"{where}: host {host.name}: unknown volume {vid!r}")
            array.map_volume(host.name, str(vid))
    return array
