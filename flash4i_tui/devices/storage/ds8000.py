"""IBM DS8000 over its REST API (reference §2.3): tokens, volumes, host mappings, FlashCopy.

A DS8000 has no consistency group object. A group is the configuration's pairs (GroupSpec,
kept in a GroupBook) and consistency comes from the flash itself: one
`POST /cs/flashcopies` with `freeze_consistency` creates every pair while the source LSSs are
frozen (their volumes report long busy), then `POST /cs/flashcopies/unfreeze` thaws the source
LSSs. Those two requests are `start()`, the only ones sent while production is suspended.

- ensure_group (before the suspend) validates the pairs and withdraws every earlier FlashCopy
  relationship of the targets; prepare verifies nothing is left that would block the flash.
- Relationships are always `persistent`, so one that finished its background copy stays
  visible (out_of_sync_tracks 0) instead of vanishing: the group's state can be read back.
- group_state maps the relationships onto the common state words: copying while tracks are
  out of sync or there is no background copy, idle_or_copied once a background copy is done;
  progress from out_of_sync_tracks.

Every request is built by one function below (the same value is sent, logged and printed by
`flash4i plan`) from validated values; answers are parsed strictly: an unexpected shape is a
DeviceError naming the request and quoting the text. Errors carry the device's code
(BE7Axxxx) as msg_id. An expired or invalid token is renewed once and the request repeated.

Marked [R] (reconstructed, verify on a real DS8000): the relationship fields beyond
id/source_volume/target_volume/out_of_sync_tracks/state (`backgroundcopy`, `date_created`, from
the lsflash -l columns), the volume field `wwn`, and `real_cap` as the allocated bytes of an
extent-space-efficient volume.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence

from ...errors import DeviceError, DeviceUnreachable, SafetyRefusal, ValidationError
from ...names import ds8000_volume_id, svc_name
from .base import GroupSpec, GroupState, HostMapping, MappingState, StorageDriver, VolumeInfo, VolumePair
from .book import NONE, PREPARED, STOPPED, GroupBook, check_group_name, check_pairs
from .rest import Answer, Fields, Request, RestSession, bad_answer, segment

API = "/api/v1"
TOKEN_ERROR_CODES = ("BE7A001B", "BE7A001A")                  # expired, invalid: log in again, once
AUTH_ERROR_CODES = ("BE7A0027", "BE7A0028", "BE7A0029", "BE7A002A", "BE7A002B", "BE7A002C", "BE7A002D")
FB_TRACK_BYTES = 64 * 1024          # [R] a fixed-block track: 128 blocks of 512 bytes
VOLUME_STATES = {"normal": "online", "read_only": "degraded", "offline": "offline",
                 "inaccessible": "offline", "indeterminate_data_loss": "offline", "extent_fault": "degraded",
                 # the state words of IBM's "RESTful API query response" page (R7.5; tests/data/captures/ds8000)
                 "readonly": "degraded", "pinned": "degraded", "rank_failed": "offline",
                 "global_inaccessible": "offline", "global_lost": "offline", "virtual_space_fault": "offline",
                 "nvs_inaccessible": "offline"}
THIN_KINDS = ("none", "ese", "tse")
FLASH_STATES = ("valid", "validation_required")
ENABLED = ("enabled", "disabled")
# flash4i's own message id: the group is not in the configuration (a DS8000 has none to ask).
UNKNOWN_GROUP = "FL4I0001"
BACKGROUND_RATE = 100               # what a background copy is shown as when the book says rate 0


# -------------------------------------------------------------------- requests

def _params(params: dict) -> dict:
    return {"request": {"params": params}}


def _vol(volume: str) -> str:
    return ds8000_volume_id(volume, "DS8000 volume id")


def _host(host: str) -> str:
    return svc_name(host, "DS8000 host name")


_LUNID = re.compile(r"[0-9A-Fa-f]{2,4}")


def _lun(lunid: str) -> str:
    if not isinstance(lunid, str) or not _LUNID.fullmatch(lunid):
        raise ValidationError(f"{lunid!r} is not a LUN id (2 to 4 hexadecimal digits)")
    return lunid


def req_token(user: str, password: str) -> Request:
    return Request("POST", f"{API}/tokens", _params({"username": user, "password": password}))


def req_volume(volume: str) -> Request:
    return Request("GET", f"{API}/volumes/{segment(_vol(volume))}")


def req_hosts() -> Request:
    return Request("GET", f"{API}/hosts")


def req_host_mappings(host: str) -> Request:
    return Request("GET", f"{API}/hosts/{segment(_host(host))}/mappings")


def req_map(host: str, volume: str, scsi_id: Optional[int] = None) -> Request:
    if scsi_id is None:
        params: dict = {"volumes": [_vol(volume)]}
    else:
        if isinstance(scsi_id, bool) or not isinstance(scsi_id, int) or not 0 <= scsi_id <= 0xFFFF:
            raise ValidationError(f"{scsi_id!r} is not a valid LUN id (0-65535)")
        params = {"mappings": [{"lunid": f"{scsi_id:02X}", "volume": _vol(volume)}]}
    return Request("POST", f"{API}/hosts/{segment(_host(host))}/mappings", _params(params))


def req_unmap(host: str, lunid: str) -> Request:
    return Request("DELETE", f"{API}/hosts/{segment(_host(host))}/mappings/{segment(_lun(lunid))}")


def req_flashcopies() -> Request:
    return Request("GET", f"{API}/cs/flashcopies")


def pair_id(source: str, target: str) -> str:
    return f"{_vol(source)}:{_vol(target)}"


def req_create_flash(pairs: Sequence[VolumePair], copy_rate: int) -> Request:
    return Request("POST", f"{API}/cs/flashcopies", _params({
        "volume_pairs": [{"source_volume": _vol(p.source), "target_volume": _vol(p.target)} for p in pairs],
        "options": flash_options(copy_rate)}))


def flash_options(copy_rate: int) -> List[str]:
    """Consistent (freeze), persistent so the state stays readable, ESE targets allowed, and no
    background copy for a space-efficient copy (rate 0)."""
    options = ["freeze_consistency", "persistent", "permit_space_efficient_target"]
    if copy_rate == 0:
        options.append("no_background_copy")
    return options


def source_lss(pairs: Sequence[VolumePair]) -> List[str]:
    return sorted({_vol(p.source)[:2] for p in pairs})


def req_unfreeze(pairs: Sequence[VolumePair]) -> Request:
    return Request("POST", f"{API}/cs/flashcopies/unfreeze", _params({"lss_ids": source_lss(pairs)}))


def req_delete_flash(source: str, target: str) -> Request:
    return Request("DELETE", f"{API}/cs/flashcopies/{pair_id(source, target)}")


def plan_requests(group: str, pairs: Sequence[VolumePair], copy_rate: int, user: str) -> Dict[str, List[str]]:
    """The request lines of each storage step of a run, for `flash4i plan`."""
    check_pairs(group, pairs, copy_rate, ds8000_volume_id)
    volumes = [v for p in pairs for v in (p.source, p.target)]
    login = req_token(user, "***").line() + "   (once per run, and again if the token expired)"
    return {
        "CHECK": [login] + [req_volume(v).line() for v in volumes]
        + [req_hosts().line(), f"GET {API}/hosts/<each host>/mappings"],
        "PREPARE_FLASH": [req_flashcopies().line()]
        + [req_delete_flash(p.source, p.target).line() + "   (if an earlier relationship of the target exists)"
           for p in pairs]
        + [req_volume(v).line() + "   (online, same size)" for v in volumes],
        "FLASH": [req_create_flash(pairs, copy_rate).line(), req_unfreeze(pairs).line()],
        "FINISH": [req_volume(p.target).line() for p in pairs],
    }


# -------------------------------------------------------------------- answers

@dataclass(frozen=True)
class Relationship:
    id: str
    source: str
    target: str
    out_of_sync: int
    state: str
    background: Optional[bool]      # None: the answer does not say (pyds8k's captured listing has no backgroundcopy)
    created: Optional[str]


def _server(answer: Answer, device: str, request: Request) -> Fields:
    """The `server` envelope of an answer; an answer without one is an HTTP-level failure."""
    if isinstance(answer.data, dict) and isinstance(answer.data.get("server"), dict):
        server = Fields(answer.data, device, request).obj("server")
        server.choice("status", ("ok", "failed"))
        server.str("code")
        server.str("message")
        return server
    if 200 <= answer.status < 300:
        raise bad_answer(device, request, "no server envelope", answer.text)
    raise DeviceError(device, request.line(), f"HTTP {answer.status}: {answer.text.strip()[:300]}")


def _ok(answer: Answer) -> bool:
    data = answer.data
    return 200 <= answer.status < 300 and isinstance(data, dict) and \
        isinstance(data.get("server"), dict) and data["server"].get("status") == "ok"


# -------------------------------------------------------------------- the driver

class Ds8000Driver(StorageDriver):
    family = "ds8000"

    @classmethod
    def configured(cls, session, name, options, groups=None) -> "Ds8000Driver":
        return cls(session, name, groups)

    @classmethod
    def plan_commands(cls, group, pairs, rate, user, options) -> Dict[str, List[str]]:
        return plan_requests(group, pairs, rate, user)
    NOT_FOUND_CODES: Sequence[str] = ()        # [U] besides HTTP 404, codes that mean "no such object"

    def __init__(self, session: RestSession, name: str, groups: Optional[Mapping[str, GroupSpec]] = None):
        self.session, self.name = session, name
        self.book = GroupBook(groups)
        self._token: Optional[str] = None
        self._capacity: Dict[str, int] = {}        # volume id -> bytes (a volume's size does not change)

    # ---------------------------------------------------------------- transport

    def _login(self) -> None:
        user = self.session.endpoint.user
        request = req_token(user, self.session.password())
        shown = req_token(user, "***")            # what errors name: never the password
        answer = self.session.send(request, judge=_ok, secrets_in=lambda d: [d["token"]["token"]])
        server = _server(answer, self.name, shown)
        if server.str("status") != "ok":
            code = server.str("code") or None
            raise DeviceUnreachable(self.name, shown.line(), f"authentication failed: {server.str('message')}", code)
        token = Fields(answer.data, self.name, shown).obj("token").str("token")
        if not token:
            raise bad_answer(self.name, shown, "empty token", self.session.redact(answer.text))
        self._token = token

    def _call(self, request: Request, missing_ok: bool = False) -> Optional[Fields]:
        """Send REQUEST with the token; the answer's fields, or None for a missing object when
        MISSING_OK. A token the device calls expired or invalid is renewed once."""
        for attempt in (1, 2):
            if self._token is None:
                self._login()
            answer = self.session.send(request, headers={"X-Auth-Token": self._token or ""}, judge=_ok)
            server = _server(answer, self.name, request)
            code = server.str("code")
            if server.str("status") == "ok" and 200 <= answer.status < 300:
                return Fields(answer.data, self.name, request)
            # pyds8k's captured 401 carries BE742607, not one of cinder's codes: a 401 is a stale token too.
            if (code in TOKEN_ERROR_CODES or answer.status == 401) and attempt == 1:
                self._token = None
                continue
            if missing_ok and (answer.status == 404 or code in self.NOT_FOUND_CODES):
                return None
            message = server.str("message") or f"HTTP {answer.status}"
            if code in AUTH_ERROR_CODES or code in TOKEN_ERROR_CODES or answer.status == 401:
                raise DeviceUnreachable(self.name, request.line(), message, code)
            if server.str("status") == "ok":
                raise DeviceError(self.name, request.line(), f"HTTP {answer.status}: {message}", code or None)
            raise DeviceError(self.name, request.line(), message, code or None)
        raise AssertionError("unreachable")

    @staticmethod
    def _data(fields: Fields, key: str) -> List[Fields]:
        return fields.obj("data").items(key)

    # ---------------------------------------------------------------- volumes and hosts

    def _volume(self, volume: str, missing_ok: bool) -> Optional[VolumeInfo]:
        request = req_volume(volume)
        fields = self._call(request, missing_ok)
        if fields is None:
            return None
        items = self._data(fields, "volumes")
        if len(items) != 1:
            raise bad_answer(self.name, request, f"{len(items)} volumes for one id", fields.data)
        item = items[0]
        if item.str("id") != volume:
            raise bad_answer(self.name, request, f"asked for volume {volume}, got", item.str("id"))
        capacity, thin = item.digits("cap"), item.choice("tp", THIN_KINDS) != "none"
        # real_cap is [R]: the captured volumes (pyds8k mock, IBM's R7.5 page) have none; a fully provisioned
        # volume then uses its capacity, a thin one what capalloc says.
        if item.has("real_cap"):
            used = item.digits("real_cap")
        else:
            used = item.digits("capalloc") if thin else capacity
        if used > capacity:
            raise bad_answer(self.name, request, "real_cap above cap", item.data)
        self._capacity[volume] = capacity
        return VolumeInfo(name=volume, id=volume, uid=item.str("wwn"), capacity_bytes=capacity, used_bytes=used,
                          thin=thin,
                          status=VOLUME_STATES[item.choice("state", tuple(VOLUME_STATES))])

    def volumes(self, names: Sequence[str]) -> dict[str, VolumeInfo]:
        for name in names:
            _vol(name)
        found: Dict[str, VolumeInfo] = {}
        for name in names:
            info = self._volume(name, missing_ok=True)
            if info is not None:
                found[name] = info
        return found

    def _mappings_of(self, host: str) -> List[HostMapping]:
        request = req_host_mappings(host)
        result = []
        for item in self._data(self._call(request), "mappings"):
            lunid = item.str("lunid")
            if not _LUNID.fullmatch(lunid):
                raise bad_answer(self.name, request, "lunid is not hexadecimal", lunid)
            scsi = int(lunid, 16)
            result.append(HostMapping(volume=item.obj("volume").str("id"), host=host, scsi_id=scsi))
        return result

    def host_mappings(self, volumes: Sequence[str]) -> dict[str, list[HostMapping]]:
        for name in volumes:
            _vol(name)
        result: Dict[str, List[HostMapping]] = {name: [] for name in volumes}
        for host in self._data(self._call(req_hosts()), "hosts"):
            for mapping in self._mappings_of(host.str("name")):
                if mapping.volume in result:
                    result[mapping.volume].append(mapping)
        return result

    def map_volume(self, volume: str, host: str, scsi_id: int | None = None) -> HostMapping:
        request = req_map(host, volume, scsi_id)
        fields = self._call(request)
        # The new mapping's link ends with its LUN id (a list of responses when several were asked).
        link = fields.items("responses")[0] if fields.has("responses") and fields.list("responses") else fields
        lunid = link.obj("link").str("href").rstrip("/").rsplit("/", 1)[-1]
        if not _LUNID.fullmatch(lunid):
            raise bad_answer(self.name, request, "the new mapping's link has no LUN id", fields.data)
        return HostMapping(volume=volume, host=host, scsi_id=int(lunid, 16))

    def unmap_volume(self, volume: str, host: str) -> None:
        _vol(volume)
        lunids = [f"{m.scsi_id:02X}" for m in self._mappings_of(host) if m.volume == volume]
        if not lunids:
            raise DeviceError(self.name, req_host_mappings(host).line(), f"volume {volume} is not mapped to {host}")
        for lunid in lunids:
            self._call(req_unmap(host, lunid))

    def copies_per_source(self, sources: Sequence[str], replacing: Optional[str] = None) -> dict[str, int]:
        """Relationships per source volume, the ones onto REPLACING's targets left out (its
        ensure_group withdraws them before the flash)."""
        for name in sources:
            _vol(name)
        spec = self.book.get(replacing) if replacing else None
        gone = {p.target for p in spec.pairs} if spec is not None else set()
        counts = {name: 0 for name in sources}
        for rel in self._relationships():
            if rel.source in counts and rel.target not in gone:
                counts[rel.source] += 1
        return counts

    def copies_reading(self, group: str) -> list[str]:
        spec = self.book.get(check_group_name(group))
        targets = {p.target for p in spec.pairs} if spec is not None else set()
        return sorted(r.id for r in self._relationships() if r.source in targets)

    def space_used(self, targets: Sequence[str]) -> int:
        for name in targets:
            _vol(name)
        return sum(self._volume(name, missing_ok=False).used_bytes for name in targets)  # type: ignore[union-attr]

    # ---------------------------------------------------------------- FlashCopy: reading

    def _relationships(self) -> List[Relationship]:
        request = req_flashcopies()
        result = []
        for item in self._data(self._call(request), "flashcopy"):
            source, target = item.obj("source_volume").str("id"), item.obj("target_volume").str("id")
            rid = item.str("id")
            if rid != f"{source}:{target}":
                raise bad_answer(self.name, request, "relationship id is not SOURCE:TARGET", item.data)
            # backgroundcopy and date_created are [R]: the captured cs/flashcopies answer (pyds8k mock) has neither.
            background = item.choice("backgroundcopy", ENABLED) == "enabled" if item.has("backgroundcopy") else None
            created = item.str("date_created") if item.has("date_created") else None
            result.append(Relationship(rid, source, target, item.digits("out_of_sync_tracks"),
                                       item.choice("state", FLASH_STATES), background, created))
        return result

    def _spec(self, group: str) -> GroupSpec:
        check_group_name(group)
        spec = self.book.get(group)
        if spec is None:
            raise DeviceError(self.name, f"(consistency group {group})",
                              f"consistency group {group} is not defined for this DS8000: a DS8000 has no group "
                              "object, its groups come from the configuration", UNKNOWN_GROUP)
        return spec

    @staticmethod
    def _background(rel: Relationship, spec: GroupSpec) -> bool:
        """Whether REL copies in the background: as the answer says, else as flash4i asked (rate 0 = nocopy)."""
        return rel.background if rel.background is not None else spec.copy_rate > 0

    def _progress(self, source: str, out_of_sync: int) -> int:
        if source not in self._capacity:
            self._volume(source, missing_ok=False)
        tracks = max(1, -(-self._capacity[source] // FB_TRACK_BYTES))
        if out_of_sync > tracks:
            raise DeviceError(self.name, req_flashcopies().line(),
                              f"unexpected answer: {out_of_sync} tracks out of sync on a volume of {tracks}")
        return (tracks - out_of_sync) * 100 // tracks

    def _state(self, group: str, spec: GroupSpec, rels: Sequence[Relationship]) -> GroupState:
        by_pair = {(r.source, r.target): r for r in rels}
        idle = self.book.flag(group) or "idle_or_copied"
        mappings, ours = [], []
        for pair in spec.pairs:
            rel = by_pair.get((pair.source, pair.target))
            name = f"{pair.source}:{pair.target}"
            if rel is None:
                mappings.append(MappingState(name, pair.source, pair.target, idle, 0, spec.copy_rate, None))
                continue
            ours.append(rel)
            progress = self._progress(pair.source, rel.out_of_sync)
            background = self._background(rel, spec)
            if rel.state == "validation_required":
                status = "suspended"
            elif background and rel.out_of_sync == 0:
                status = "idle_or_copied"
            else:
                status = "copying"
            rate = (spec.copy_rate or BACKGROUND_RATE) if background else 0
            mappings.append(MappingState(name, pair.source, pair.target, status, progress, rate, rel.created))
        if not ours:
            status = idle
        elif len(ours) < len(spec.pairs):
            status = "stopped"              # part of a group is no consistent copy
        elif any(m.status == "suspended" for m in mappings):
            status = "suspended"
        elif all(m.status == "idle_or_copied" for m in mappings):
            status = "idle_or_copied"
        else:
            status = "copying"
        start = min((r.created for r in ours if r.created is not None), default=None)
        return GroupState(name=group, status=status, mappings=tuple(mappings), start_time=start)

    def group_state(self, group: str) -> GroupState | None:
        check_group_name(group)
        spec = self.book.get(group)
        return self._state(group, spec, self._relationships()) if spec is not None else None

    def progress(self, group: str) -> GroupState:
        spec = self._spec(group)
        return self._state(group, spec, self._relationships())

    # ---------------------------------------------------------------- FlashCopy: changing

    def ensure_group(self, group: str, pairs: Sequence[VolumePair], copy_rate: int) -> GroupState:
        wanted = check_pairs(group, pairs, copy_rate, ds8000_volume_id)
        spec = GroupSpec(tuple(pairs), copy_rate)
        known = self.book.get(group)
        if known is not None and set(known.pairs) != set(spec.pairs):
            held = ", ".join(f"{p.source}->{p.target}" for p in known.pairs)
            raise SafetyRefusal(f"{self.name}: consistency group {group} holds {held}, which differs from the "
                                "pairs asked for; a group's pairs change only with the configuration")
        rels = self._relationships()
        cascades = [r for r in rels if r.source in wanted]
        if cascades:
            raise SafetyRefusal(f"{self.name}: target volume {cascades[0].source} is the source of FlashCopy "
                                f"{cascades[0].id}: flashing onto it would change that copy; remove it by hand")
        old = [r for r in rels if r.target in wanted]
        # Every check passed: now change things.
        for rel in old:
            self._call(req_delete_flash(rel.source, rel.target))
        self.book.define(group, spec)
        if old:
            self.book.set_flag(group, NONE)
        return self.progress(group)

    def prepare(self, group: str, timeout: float) -> GroupState:
        spec = self._spec(group)
        rels = self._relationships()
        targets = {p.target for p in spec.pairs}
        blocking = [r.id for r in rels if r.target in targets or r.source in targets]
        if blocking:
            raise DeviceError(self.name, req_flashcopies().line(),
                              f"FlashCopy {', '.join(blocking)} still exist on the targets of {group}: a copy "
                              "runs; stop it (or let ensure_group replace it) before a new flash")
        names = [v for p in spec.pairs for v in (p.source, p.target)]
        found = self.volumes(names)
        for name in names:
            if name not in found:
                raise DeviceError(self.name, req_volume(name).line(), f"volume {name} of {group} does not exist")
            if found[name].status != "online":
                raise DeviceError(self.name, req_volume(name).line(),
                                  f"volume {name} of {group} is {found[name].status}, not online")
        for pair in spec.pairs:
            if found[pair.source].capacity_bytes != found[pair.target].capacity_bytes:
                raise SafetyRefusal(f"{self.name}: target volume {pair.target} is not the size of its source "
                                    f"{pair.source}")
        self.book.set_flag(group, PREPARED)
        return self._state(group, spec, rels)

    def start(self, group: str) -> None:
        spec = self._spec(group)
        try:
            self._call(req_create_flash(spec.pairs, spec.copy_rate))
        except Exception:
            # Some pairs may have been created (their LSS frozen) before the failure: try a
            # thaw now so the freeze stays short; the run's RESUME step calls release() again
            # with retries, so a failed thaw here is not the last word.
            try:
                self._call(req_unfreeze(spec.pairs))
            except Exception:
                pass
            raise
        self.book.set_flag(group, NONE)
        self._call(req_unfreeze(spec.pairs))

    def release(self, group: str) -> str:
        spec = self._spec(group)
        self._call(req_unfreeze(spec.pairs))
        return f"source LSS {', '.join(source_lss(spec.pairs))} unfrozen"

    def stop(self, group: str, force: bool = False, timeout: float = 300) -> GroupState:
        spec = self._spec(group)
        rels = self._relationships()
        pairs = {(p.source, p.target) for p in spec.pairs}
        ours = [r for r in rels if (r.source, r.target) in pairs]
        if not ours and self.book.flag(group) != PREPARED:
            return self._state(group, spec, rels)
        for rel in ours:
            self._call(req_delete_flash(rel.source, rel.target))
        # A withdrawn copy that was not complete leaves the target unusable: stopped, as on SVC.
        incomplete = not ours or any(r.out_of_sync > 0 or not self._background(r, spec) for r in ours)
        self.book.set_flag(group, STOPPED if incomplete else NONE)
        return self.progress(group)          # a withdrawal is done when its DELETE answers

    def describe_commands(self, group: str, pairs: Sequence[VolumePair], copy_rate: int) -> list[str]:
        check_pairs(group, pairs, copy_rate, ds8000_volume_id)
        return ([req_flashcopies().line()] + [req_delete_flash(p.source, p.target).line() for p in pairs]
                + [req_create_flash(pairs, copy_rate).line(), req_unfreeze(pairs).line()])
