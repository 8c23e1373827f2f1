"""Dell PowerMax over Unisphere REST (reference §3): storage groups, masking views, SnapVX.

HTTP Basic authentication on every request; paths under /univmax/restapi/<version>. A
consistency group is a SnapVX snapshot named after the group, taken on the source storage
group `<group><source suffix>` and linked to the target storage group `<group><target suffix>`
(suffixes `_SRC` / `_TGT` unless the storage options say otherwise). SnapVX links a storage
group's volumes in device order, so the configuration's pairs must pair sources and targets in
that order; ensure_group creates both storage groups when they are missing.

- start() establishes a new snapshot on the source storage group: one request, the only one
  while production is suspended (SnapVX takes it consistently across the group).
- activate_targets(), after production resumed, links the new snapshot to the target storage
  group (relinks when an older generation is linked), as an ASYNCHRONOUS job polled until it
  ends (bounded). That is when the targets change.
- ensure_group (before the suspend) unlinks and terminates the snapshots of an earlier flash of
  the group and of flash4i groups whose target storage group holds one of our targets.
- group_state reads the newest generation: copying until a link reports percentageCopied 100
  (a nocopy link stays copying, as an SVC mapping at copy rate 0), idle_or_copied after.
- space_used counts the targets' allocation plus the changes the linked snapshot keeps for
  them (SnapVX holds a space-efficient copy in the snapshot, not on the target).

Errors carry the Unisphere message as msg_id (Unisphere has no message numbers); a job that
ends FAILED carries its result text. Marked [R] (verify on a real Unisphere): `cap_cyl` and the
cylinder of 15 tracks of 128 KiB, the volume listing's iterator shape, the storage group
payloads (PyU4V's), `copy` in a relink, `non_shared_tracks` counted in tracks of 128 KiB.
"""
from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from ...errors import DeviceError, DeviceUnreachable, SafetyRefusal, StepTimeout, ValidationError
from ...names import powermax_device_id
from .base import (GroupSpec, GroupState, HostMapping, MappingState, StorageDriver, VolumeInfo, VolumePair,
                   poll_pause, tuning)
from .book import NONE, PREPARED, STOPPED, GroupBook, check_group_name, check_pairs
from .rest import Answer, Fields, Request, RestSession, bad_answer, segment

TRACK_BYTES = 128 * 1024                 # [R] a PowerMax FBA track
CYLINDER_BYTES = 15 * TRACK_BYTES        # [R] cap_cyl counts cylinders of 15 tracks
DEFAULT_API_VERSION = "100"              # what `flash4i plan` shows when none is configured
# The API versions whose paths and bodies this driver speaks (the same in all of them). Without a
# configured api_version the driver uses the newest of these that the Unisphere serves: a
# Unisphere 10.4 need not serve 100 (the lab's 10.4 serves 104, 103 and 102).
KNOWN_API_VERSIONS = ("100", "101", "102", "103", "104")
VOLUME_STATES = {"Ready": "online", "Not Ready": "offline", "Write Disabled": "degraded"}
JOB_INCOMPLETE = ("created", "scheduled", "running", "validating", "validated")
JOB_SUCCEEDED = "succeeded"
JOB_ID = r"[A-Za-z0-9_\-]{1,64}"
# [U] beyond Established/Restored: what a generation's state list may hold, and what it means here.
SNAPSHOT_STATES = {"Established": "", "Restored": "", "EstablishInProg": "preparing", "RestoreInProg": "",
                   "TermInProg": "stopping", "Failed": "suspended"}
_SG_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_SID = re.compile(r"\d{12}")
_VERSION = re.compile(r"\d{2,4}")
SID_UNKNOWN = "<symmetrix id>"           # in `flash4i plan`, when the array is found at run time


def storage_group_name(value: str) -> str:
    if not isinstance(value, str) or not _SG_NAME.fullmatch(value):
        raise ValidationError(f"{value!r} is not a valid PowerMax storage group name (letters, digits, _ -)")
    return value


def _dev(device: str) -> str:
    return powermax_device_id(device, "PowerMax device id")


# -------------------------------------------------------------------- requests

@dataclass(frozen=True)
class Api:
    """Every request this driver sends, for one Unisphere API version and one array."""

    version: str
    sid: str

    def __post_init__(self) -> None:
        if not _VERSION.fullmatch(self.version):
            raise ValidationError(f"{self.version!r} is not a Unisphere REST API version (e.g. 100)")
        if not (_SID.fullmatch(self.sid) or self.sid == SID_UNKNOWN):
            raise ValidationError(f"{self.sid!r} is not a Symmetrix id (12 digits)")

    def _path(self, category: str, *parts: str) -> str:
        return "/".join([f"/univmax/restapi/{self.version}/{category}/symmetrix/{self.sid}", *parts])

    def _prov(self, *parts: str) -> str:
        return self._path("sloprovisioning", *parts)

    def _snap(self, sg: str, *parts: str) -> str:
        return self._path("replication", "storagegroup", segment(storage_group_name(sg)), "snapshot", *parts)

    def symmetrix_list(self) -> Request:
        return Request("GET", f"/univmax/restapi/{self.version}/sloprovisioning/symmetrix")

    def volume(self, device: str) -> Request:
        return Request("GET", self._prov("volume", segment(_dev(device))))

    def sg_volumes(self, sg: str) -> Request:
        return Request("GET", self._prov("volume"), query=(("storageGroupId", storage_group_name(sg)),))

    def storage_group(self, sg: str) -> Request:
        return Request("GET", self._prov("storagegroup", segment(storage_group_name(sg))))

    def create_storage_group(self, sg: str) -> Request:
        return Request("POST", self._prov("storagegroup"), {
            "storageGroupId": storage_group_name(sg), "srpId": "None", "emulation": "FBA",
            "create_empty_storage_group": True})

    def add_volumes(self, sg: str, devices: Sequence[str]) -> Request:
        return Request("PUT", self._prov("storagegroup", segment(storage_group_name(sg))), {
            "editStorageGroupActionParam": {"expandStorageGroupParam": {"addSpecificVolumeParam": {
                "volumeId": [_dev(d) for d in devices]}}}})

    def remove_volumes(self, sg: str, devices: Sequence[str]) -> Request:
        return Request("PUT", self._prov("storagegroup", segment(storage_group_name(sg))), {
            "editStorageGroupActionParam": {"removeVolumeParam": {"volumeId": [_dev(d) for d in devices]}}})

    def masking_views(self) -> Request:
        return Request("GET", self._prov("maskingview"))

    def masking_view(self, view: str) -> Request:
        return Request("GET", self._prov("maskingview", segment(storage_group_name(view))))

    def connections(self, view: str) -> Request:
        return Request("GET", self._prov("maskingview", segment(storage_group_name(view)), "connections"))

    def snapshots(self, sg: str) -> Request:
        return Request("GET", self._snap(sg))

    def establish(self, sg: str, name: str) -> Request:
        return Request("POST", self._snap(sg), {"snapshotName": check_group_name(name)})

    def snapids(self, sg: str, name: str) -> Request:
        return Request("GET", self._snap(sg, segment(check_group_name(name)), "snapid"))

    def _snapid_path(self, sg: str, name: str, snapid: object) -> str:
        return self._snap(sg, segment(check_group_name(name)), "snapid", str(snapid))

    def snapshot(self, sg: str, name: str, snapid: int) -> Request:
        return Request("GET", self._snapid_path(sg, name, snapid))

    def link(self, sg: str, name: str, snapid: object, target_sg: str, copy: bool, relink: bool = False) -> Request:
        action = "Relink" if relink else "Link"
        return Request("PUT", self._snapid_path(sg, name, snapid), {
            "action": action, action.lower(): {"storage_group_name": storage_group_name(target_sg),
                                               "remote": False, "force": False, "copy": bool(copy)},
            "executionOption": "ASYNCHRONOUS"})

    def unlink(self, sg: str, name: str, snapid: object, target_sg: str) -> Request:
        return Request("PUT", self._snapid_path(sg, name, snapid), {
            "action": "Unlink", "unlink": {"storage_group_name": storage_group_name(target_sg), "force": False}})

    def terminate(self, sg: str, name: str, snapid: object) -> Request:
        return Request("DELETE", self._snapid_path(sg, name, snapid))

    def job(self, job_id: str) -> Request:
        if not re.fullmatch(JOB_ID, job_id):
            raise ValidationError(f"{job_id!r} is not a job id")
        return Request("GET", f"/univmax/restapi/{self.version}/system/job/{job_id}")


# -------------------------------------------------------------------- answers

@dataclass(frozen=True)
class Link:
    storage_group: str
    source: str
    target: str
    percent: float


@dataclass(frozen=True)
class Generation:
    snapid: int
    timestamp: str
    order: int                       # timestamp_utc: newest last
    states: Tuple[str, ...]
    links: Tuple[Link, ...]
    non_shared_tracks: int

    def links_to(self, sg: str) -> List[Link]:
        return [link for link in self.links if link.storage_group == sg]


@dataclass
class GroupView:
    """A group as the array shows it: its two storage groups and its snapshot's generations."""

    sources: Optional[List[str]]      # None: the storage group does not exist
    targets: Optional[List[str]]
    generations: List[Generation]

    def pairs(self) -> Optional[List[VolumePair]]:
        """The pairs SnapVX links (device order), or None when the two groups do not match."""
        if self.sources is None or self.targets is None or len(self.sources) != len(self.targets) \
                or not self.sources:
            return None
        return [VolumePair(s, t) for s, t in zip(self.sources, self.targets)]

    @property
    def newest(self) -> Optional[Generation]:
        return self.generations[-1] if self.generations else None


def _ok(answer: Answer) -> bool:
    return 200 <= answer.status < 300


# -------------------------------------------------------------------- the driver

class PowerMaxDriver(StorageDriver):
    family = "powermax"
    TUNING = ("poll_interval", "job_timeout")          # storage options, in seconds
    NAMES = ("symmetrix_id", "api_version", "source_sg_suffix", "target_sg_suffix")

    @classmethod
    def configured(cls, session, name, options, groups=None) -> "PowerMaxDriver":
        return cls(session, name, groups, **{k: options.get(k) for k in cls.NAMES}, **tuning(options, cls.TUNING))

    @classmethod
    def plan_commands(cls, group, pairs, rate, user, options) -> Dict[str, List[str]]:
        return plan_requests(group, pairs, rate, options.get("symmetrix_id"), options.get("api_version"),
                             options.get("source_sg_suffix"), options.get("target_sg_suffix"))

    def __init__(self, session: RestSession, name: str, groups: Optional[Mapping[str, GroupSpec]] = None,
                 symmetrix_id: Optional[str] = None, api_version: Optional[str] = None,
                 source_sg_suffix: Optional[str] = None, target_sg_suffix: Optional[str] = None,
                 poll_interval: float = 2.0, job_timeout: float = 600.0):
        self.session, self.name = session, name
        self.book = GroupBook(groups)
        self.configured_version = api_version
        self.source_suffix = storage_group_name(source_sg_suffix or "_SRC")
        self.target_suffix = storage_group_name(target_sg_suffix or "_TGT")
        self.poll_interval, self.job_timeout = poll_interval, job_timeout
        self.symmetrix_id = symmetrix_id
        self._version: Optional[str] = api_version
        self._api: Optional[Api] = None
        Api(api_version or DEFAULT_API_VERSION, symmetrix_id or SID_UNKNOWN)   # validates before any request

    # ---------------------------------------------------------------- transport

    def _send(self, request: Request) -> Answer:
        auth = (self.session.endpoint.user, self.session.password())
        answer = self.session.send(request, auth=auth, judge=_ok)
        if answer.status == 401:
            raise DeviceUnreachable(self.name, request.line(), "authentication failed (HTTP 401): check the "
                                                               "user and the password_env variable")
        return answer

    def _fail(self, request: Request, answer: Answer) -> DeviceError:
        data = answer.data
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, str) or not message:
            message = f"HTTP {answer.status}: {answer.text.strip()[:300]}"
        return DeviceError(self.name, request.line(), message, message)

    def _call(self, request: Request, missing_ok: bool = False) -> Optional[Fields]:
        answer = self._send(request)
        if 200 <= answer.status < 300:
            if answer.status == 204 or not answer.text.strip():
                return Fields({}, self.name, request)
            return Fields(answer.data, self.name, request)
        if missing_ok and answer.status == 404:
            return None
        raise self._fail(request, answer)

    @property
    def _api_version(self) -> str:
        """The configured API version, or the newest one both this driver and the Unisphere speak."""
        if self._version is None:
            request = Request("GET", "/univmax/restapi/version")
            fields = self._call(request)
            served = fields.strings("supported_api_versions") if fields.has("supported_api_versions") \
                else [fields.str("api_version")]
            usable = [v for v in KNOWN_API_VERSIONS if v in served]
            if not usable:
                raise DeviceError(self.name, request.line(), f"Unisphere {fields.str('version')} serves API versions "
                                  f"{', '.join(served) or 'none'}; this driver speaks "
                                  f"{', '.join(KNOWN_API_VERSIONS)}: set the storage option api_version")
            self._version = max(usable, key=int)
        return self._version

    @property
    def _array_api(self) -> Api:
        """The API of the configured array, or of the only array this Unisphere manages."""
        if self._api is None and self.symmetrix_id:
            self._api = Api(self._api_version, self.symmetrix_id)
        if self._api is None:
            request = Api(self._api_version, SID_UNKNOWN).symmetrix_list()
            ids = self._call(request).strings("symmetrixId")
            if len(ids) != 1:
                raise DeviceError(self.name, request.line(), f"Unisphere manages {len(ids)} arrays "
                                  f"({', '.join(ids) or 'none'}): name one with the storage option symmetrix_id")
            if not _SID.fullmatch(ids[0]):
                raise bad_answer(self.name, request, "not a Symmetrix id", ids[0])
            self._api = Api(self._api_version, ids[0])
        return self._api

    def _job(self, request: Request, answer: Answer) -> Fields:
        """Wait (bounded) for the job an ASYNCHRONOUS request started; its final fields."""
        if answer.status != 202:
            return Fields(answer.data if answer.text.strip() else {}, self.name, request)
        job_id = Fields(answer.data, self.name, request).str("jobId")
        if not re.fullmatch(JOB_ID, job_id):        # it goes into the next request's path
            raise bad_answer(self.name, request, "not a job id", job_id)
        deadline = time.monotonic() + min(self.job_timeout, self.session.remaining())
        for attempt in itertools.count():
            poll = self._array_api.job(job_id)
            job = self._call(poll)
            status = job.str("status").lower()
            if status == JOB_SUCCEEDED:
                return job
            if status not in JOB_INCOMPLETE:
                result = job.str("result") if job.has("result") else ""
                message = result or f"job {job_id} ended {job.str('status')}"
                raise DeviceError(self.name, request.line(), f"job {job_id} {job.str('status')}: {message}", message)
            if time.monotonic() >= deadline:
                raise StepTimeout(f"{self.name}: job {job_id} ({request.method} {request.path}) did not end within "
                                  f"{self.job_timeout:g}s (status {job.str('status')})")
            time.sleep(poll_pause(attempt, self.poll_interval, deadline, time.monotonic()))
        raise AssertionError("unreachable")

    def _async(self, request: Request) -> Fields:
        answer = self._send(request)
        if not 200 <= answer.status < 300:
            raise self._fail(request, answer)
        return self._job(request, answer)

    # ---------------------------------------------------------------- volumes and hosts

    def _volume_fields(self, device: str, missing_ok: bool) -> Optional[Fields]:
        request = self._array_api.volume(device)
        fields = self._call(request, missing_ok)
        if fields is not None and fields.str("volumeId") != device:
            raise bad_answer(self.name, request, f"asked for device {device}, got", fields.str("volumeId"))
        return fields

    @staticmethod
    def _info(device: str, fields: Fields) -> VolumeInfo:
        capacity = fields.int("cap_cyl") * CYLINDER_BYTES
        percent = fields.number("allocated_percent")
        if not 0 <= percent <= 100:
            raise bad_answer(fields.device, fields.request, "allocated_percent out of 0-100", percent)
        # Every PowerMax device is thin provisioned; a fully allocated one is shown as not thin.
        return VolumeInfo(name=device, id=device, uid=fields.str("wwn"), capacity_bytes=capacity,
                          used_bytes=int(capacity * percent // 100), thin=percent < 100,
                          status=VOLUME_STATES[fields.choice("status", tuple(VOLUME_STATES))])

    def volumes(self, names: Sequence[str]) -> dict[str, VolumeInfo]:
        for name in names:
            _dev(name)
        found: Dict[str, VolumeInfo] = {}
        for name in names:
            fields = self._volume_fields(name, missing_ok=True)
            if fields is not None:
                found[name] = self._info(name, fields)
        return found

    def _views(self) -> List[Tuple[str, str, str]]:
        """(masking view, host, storage group) of every masking view."""
        views = []
        for view in self._call(self._array_api.masking_views()).strings("maskingViewId"):
            detail = self._call(self._array_api.masking_view(view))
            views.append((view, detail.str("hostId"), detail.str("storageGroupId")))
        return views

    def host_mappings(self, volumes: Sequence[str]) -> dict[str, list[HostMapping]]:
        for name in volumes:
            _dev(name)
        result: Dict[str, List[HostMapping]] = {name: [] for name in volumes}
        for view, host, _ in self._views():
            request = self._array_api.connections(view)
            seen: Set[str] = set()
            for item in self._call(request).items("maskingViewConnection"):
                device, lun = item.str("volumeId"), item.str("host_lun_address")
                if not re.fullmatch(r"[0-9A-Fa-f]{1,6}", lun):
                    raise bad_answer(self.name, request, "host_lun_address is not hexadecimal", lun)
                if device in result and device not in seen:        # one row per initiator and port
                    seen.add(device)
                    result[device].append(HostMapping(volume=device, host=host, scsi_id=int(lun, 16)))
        return result

    def _host_group(self, host: str) -> str:
        groups = [sg for _, h, sg in self._views() if h == host]
        if len(groups) != 1:
            raise DeviceError(self.name, self._array_api.masking_views().line(),
                              f"host {host} is in {len(groups)} masking views: flash4i maps through exactly one")
        return groups[0]

    def map_volume(self, volume: str, host: str, scsi_id: int | None = None) -> HostMapping:
        _dev(volume)
        storage_group_name(host)
        if scsi_id is not None:
            raise ValidationError("PowerMax chooses the host LUN address itself: map without a SCSI id")
        self._call(self._array_api.add_volumes(self._host_group(host), [volume]))
        for mapping in self.host_mappings([volume])[volume]:
            if mapping.host == host:
                return mapping
        raise DeviceError(self.name, self._array_api.masking_views().line(), f"the new mapping of {volume} to {host} is not "
                                                                      "listed")

    def unmap_volume(self, volume: str, host: str) -> None:
        _dev(volume)
        storage_group_name(host)
        self._call(self._array_api.remove_volumes(self._host_group(host), [volume]))

    def space_used(self, targets: Sequence[str]) -> int:
        for name in targets:
            _dev(name)
        used, groups = 0, set()
        for name in targets:
            fields = self._volume_fields(name, missing_ok=False)
            used += self._info(name, fields).used_bytes
            groups |= {sg[:-len(self.target_suffix)] for sg in fields.strings("storageGroupId")
                       if sg.endswith(self.target_suffix) and len(sg) > len(self.target_suffix)}
        for group in sorted(groups):
            try:
                check_group_name(group)
            except ValidationError:
                continue                     # not a flash4i target storage group
            newest = self._view(group, targets_too=False).newest
            if newest is not None and newest.links_to(self._sgs(group)[1]):
                used += newest.non_shared_tracks * TRACK_BYTES
        return used

    # ---------------------------------------------------------------- groups: reading

    def _sgs(self, group: str) -> Tuple[str, str]:
        """GROUP's source and target storage groups; a targetless generation (GroupSpec.base) uses
        its base group's: its snapshot, named after GROUP, lives on the base's source group."""
        check_group_name(group)
        spec = self.book.get(group)
        base = check_group_name(spec.base) if spec is not None and spec.base else group
        return (storage_group_name(base + self.source_suffix), storage_group_name(base + self.target_suffix))

    @staticmethod
    def _views_of(detail: Fields) -> int:
        """The masking views of a storage group: num_of_masking_views, or (PyU4V's captured sg_details have
        none) the maskingview list, which is absent when the group is in no view."""
        if detail.has("num_of_masking_views"):
            return detail.int("num_of_masking_views")
        return len(detail.strings("maskingview")) if detail.has("maskingview") else 0

    def _sg_volumes(self, sg: str, missing_ok: bool = True) -> Optional[List[str]]:
        if self._call(self._array_api.storage_group(sg), missing_ok) is None:
            return None
        request = self._array_api.sg_volumes(sg)
        fields = self._call(request)
        count = fields.int("count")
        items = fields.obj("resultList").items("result") if count else []
        if len(items) != count:
            raise bad_answer(self.name, request, f"{count} volumes announced, {len(items)} listed (paging is "
                                                 "not supported)", fields.data)
        return sorted(item.str("volumeId") for item in items)

    def _generations(self, sg: str, name: str) -> List[Generation]:
        if name not in self._call(self._array_api.snapshots(sg)).strings("name"):
            return []
        request = self._array_api.snapids(sg, name)
        generations = []
        for snapid in self._call(request).list("snapids"):
            if isinstance(snapid, bool) or not isinstance(snapid, int):
                raise bad_answer(self.name, request, "snapid is not a number", snapid)
            generations.append(self._generation(sg, name, snapid))
        return sorted(generations, key=lambda g: (g.order, g.snapid))

    def _generation(self, sg: str, name: str, snapid: int) -> Generation:
        detail = self._call(self._array_api.snapshot(sg, name, snapid))
        if detail.str("name") != name or detail.int("snapid") != snapid:
            raise bad_answer(self.name, detail.request, f"asked for {name} snapid {snapid}, got", detail.data)
        states = tuple(detail.strings("state"))
        unknown = [s for s in states if s not in SNAPSHOT_STATES]
        if unknown:
            raise bad_answer(self.name, detail.request, "unknown snapshot state", unknown)
        links = []
        if detail.bool("linked"):
            for item in detail.items("linked_storage_group"):
                percent = item.number("percentageCopied")
                if not 0 <= percent <= 100:
                    raise bad_answer(self.name, detail.request, "percentageCopied out of 0-100", percent)
                links.append(Link(item.str("name"), item.str("source_volume_name"), item.str("linked_volume_name"),
                                  percent))
        return Generation(snapid, detail.str("timestamp"), detail.int("timestamp_utc"), states, tuple(links),
                          detail.int("non_shared_tracks"))

    def _view(self, group: str, targets_too: bool = True, missing_ok: bool = True) -> GroupView:
        src_sg, tgt_sg = self._sgs(group)
        sources = self._sg_volumes(src_sg, missing_ok)
        if sources is None:
            return GroupView(None, None, [])
        targets = self._sg_volumes(tgt_sg) if targets_too else None
        return GroupView(sources, targets, self._generations(src_sg, group))

    def _state(self, group: str, view: GroupView) -> GroupState:
        pairs = view.pairs()
        if pairs is None:
            return GroupState(name=group, status="empty", mappings=(), start_time=None)
        spec = self.book.get(group)
        rate = spec.copy_rate if spec is not None else 0
        newest = view.newest
        if newest is None:
            status = self.book.flag(group) or "idle_or_copied"
            maps = tuple(MappingState(f"{p.source}:{p.target}", p.source, p.target, status, 0, rate, None)
                         for p in pairs)
            return GroupState(name=group, status=status, mappings=maps, start_time=None)
        links = {(link.source, link.target): link for link in newest.links_to(self._sgs(group)[1])}
        special = [SNAPSHOT_STATES[s] for s in newest.states if SNAPSHOT_STATES[s]]
        maps = []
        for p in pairs:
            link = links.get((p.source, p.target))
            progress = int(link.percent) if link is not None else 0
            status = special[0] if special else ("idle_or_copied" if progress >= 100 else "copying")
            maps.append(MappingState(f"{p.source}:{p.target}", p.source, p.target, status, progress, rate,
                                     newest.timestamp))
        statuses = {m.status for m in maps}
        status = statuses.pop() if len(statuses) == 1 else "copying"
        return GroupState(name=group, status=status, mappings=tuple(maps), start_time=newest.timestamp)

    def group_state(self, group: str) -> GroupState | None:
        view = self._view(group)
        return None if view.sources is None else self._state(group, view)

    def progress(self, group: str) -> GroupState:
        return self._state(group, self._view(group, missing_ok=False))

    # ---------------------------------------------------------------- groups: changing

    def _remove_generations(self, group: str, generations: Sequence[Generation]) -> None:
        """Unlink every link of these generations of GROUP's snapshot, then terminate them."""
        src_sg = self._sgs(group)[0]
        for generation in generations:
            for sg in sorted({link.storage_group for link in generation.links}):
                self._call(self._array_api.unlink(src_sg, group, generation.snapid, sg))
            self._call(self._array_api.terminate(src_sg, group, generation.snapid))

    def _old_groups(self, group: str, targets: Sequence[str]) -> Dict[str, GroupView]:
        """flash4i groups other than GROUP whose target storage group holds one of TARGETS."""
        own_tgt = self._sgs(group)[1]
        names: Set[str] = set()
        for target in targets:
            fields = self._volume_fields(target, missing_ok=False)
            for sg in fields.strings("storageGroupId"):
                if sg != own_tgt and sg.endswith(self.target_suffix) and len(sg) > len(self.target_suffix):
                    names.add(sg[:-len(self.target_suffix)])
        views = {}
        for name in sorted(names):
            try:
                check_group_name(name)
            except ValidationError:
                continue
            view = self._view(name)
            if view.generations:                  # only a snapshot can write onto our targets
                views[name] = view
        return views

    def ensure_group(self, group: str, pairs: Sequence[VolumePair], copy_rate: int) -> GroupState:
        wanted = check_pairs(group, pairs, copy_rate, powermax_device_id)
        src_sg, tgt_sg = self._sgs(group)
        sources, targets = sorted(p.source for p in pairs), sorted(wanted)
        view = self._view(group)
        for sg, held, asked in ((src_sg, view.sources, sources), (tgt_sg, view.targets, targets)):
            if held is not None and held != asked:
                raise SafetyRefusal(f"{self.name}: storage group {sg} holds {', '.join(held) or 'no volume'}, not "
                                    f"{', '.join(asked)} as the configuration says; fix it by hand or the "
                                    "configuration")
        device_order = [VolumePair(s, t) for s, t in zip(sources, targets)]
        if set(device_order) != set(pairs):
            if view.sources is not None and view.targets is not None:
                raise SafetyRefusal(f"{self.name}: {src_sg} and {tgt_sg} link "
                                    f"{', '.join(f'{p.source}->{p.target}' for p in device_order)} (device order), "
                                    "not the pairs of the configuration")
            raise ValidationError(f"consistency group {group}: SnapVX links volumes in device order; pair "
                                  f"{', '.join(f'{p.source}->{p.target}' for p in device_order)}")
        old = self._old_groups(group, targets)
        for name, other in old.items():
            strangers = sorted(set(other.targets or []) - set(targets))
            if strangers:
                raise SafetyRefusal(f"{self.name}: the snapshot of group {name} is linked to "
                                    f"{name}{self.target_suffix}, which holds targets of {group} and also "
                                    f"{', '.join(strangers)}; clean it up by hand")
        in_use = self._readers(group, view)
        if in_use:
            raise SafetyRefusal(f"{self.name}: snapshot {group} is in use ({', '.join(in_use)}): the linked targets "
                                "read through it and an unlink would leave them unusable; boot another generation "
                                "or unlink it by hand once its targets are no longer needed")
        known = self.book.get(group)
        # Every check passed: now change things.
        for name, other in old.items():
            self._remove_generations(name, other.generations)
            old_tgt = self._sgs(name)[1]
            if self._views_of(self._call(self._array_api.storage_group(old_tgt))) == 0:
                self._call(self._array_api.remove_volumes(old_tgt, [t for t in targets if t in (other.targets or [])]))
        if view.generations:
            self._remove_generations(group, view.generations)        # the copy of an earlier flash
            self.book.set_flag(group, NONE)
        for sg, held, asked in ((src_sg, view.sources, sources), (tgt_sg, view.targets, targets)):
            if held is None:
                self._call(self._array_api.create_storage_group(sg))
                self._call(self._array_api.add_volumes(sg, asked))
        self.book.define(group, GroupSpec(tuple(pairs), copy_rate, known.base if known is not None else None))
        return self.progress(group)

    def prepare(self, group: str, timeout: float) -> GroupState:
        view = self._view(group, missing_ok=False)
        src_sg, tgt_sg = self._sgs(group)
        if view.pairs() is None:
            raise DeviceError(self.name, self._array_api.sg_volumes(tgt_sg).line(),
                              f"storage groups {src_sg} and {tgt_sg} do not hold matching volumes")
        if view.generations:
            raise DeviceError(self.name, self._array_api.snapids(src_sg, group).line(),
                              f"snapshot {group} still exists on {src_sg}: a copy runs; stop it (or let "
                              "ensure_group replace it) before a new flash")
        self.book.set_flag(group, PREPARED)
        return self._state(group, view)

    def start(self, group: str) -> None:
        src_sg = self._sgs(group)[0]
        self._call(self._array_api.establish(src_sg, group))
        self.book.set_flag(group, NONE)

    def activate_targets(self, group: str) -> str:
        src_sg, tgt_sg = self._sgs(group)
        view = self._view(group, missing_ok=False)
        newest = view.newest
        if newest is None:
            raise DeviceError(self.name, self._array_api.snapshots(src_sg).line(),
                              f"no snapshot {group} on {src_sg}: nothing to link")
        if newest.links_to(tgt_sg):
            return f"snapshot {group} (snapid {newest.snapid}) already linked to {tgt_sg}"
        older = [g for g in view.generations[:-1] if g.links_to(tgt_sg)]
        spec = self.book.get(group)
        copy = bool(spec and spec.copy_rate > 0)
        self._async(self._array_api.link(src_sg, group, newest.snapid, tgt_sg, copy, relink=bool(older)))
        if len(view.generations) > 1:        # a relink moved the link: the older generations can go
            self._remove_generations(group, self._generations(src_sg, group)[:-1])
        return (f"snapshot {group} (snapid {newest.snapid}, {newest.timestamp}) {'relinked' if older else 'linked'} "
                f"to {tgt_sg} ({'copy' if copy else 'nocopy'})")

    def copies_per_source(self, sources: Sequence[str], replacing: Optional[str] = None) -> dict[str, int]:
        """Snapshots (snapids) per source volume, over the storage groups that hold it; snapshot
        REPLACING of its source group is left out (its ensure_group terminates it)."""
        for name in sources:
            _dev(name)
        replaced = (self._sgs(replacing)[0], replacing) if replacing else None
        per_sg: Dict[str, int] = {}
        counts = {}
        for name in sources:
            counts[name] = 0
            for sg in self._volume_fields(name, missing_ok=False).strings("storageGroupId"):
                if sg not in per_sg:
                    per_sg[sg] = sum(len(self._call(self._array_api.snapids(sg, snap)).list("snapids"))
                                     for snap in self._call(self._array_api.snapshots(sg)).strings("name")
                                     if (sg, snap) != replaced)
                counts[name] += per_sg[sg]
        return counts

    def _readers(self, group: str, view: GroupView) -> List[str]:
        """A targetless generation linked by a boot, not fully copied: the clone's disks read
        through it (an ordinary group's earlier link is its own targets', which its flash replaces)."""
        spec = self.book.get(group)
        if spec is None or not spec.base:
            return []
        return sorted({f"snapid {g.snapid} linked to {link.storage_group}" for g in view.generations
                       for link in g.links if link.percent < 100})

    def copies_reading(self, group: str) -> list[str]:
        return self._readers(group, self._view(group, targets_too=False))

    def recovery_point_space(self, group: str, targets: Sequence[str]) -> int:
        spec = self.book.get(group)
        if spec is None or not spec.base:
            return self.space_used(targets)
        newest = self._view(group, targets_too=False).newest        # targetless: the snapshot's own tracks
        return newest.non_shared_tracks * TRACK_BYTES if newest is not None else 0

    def link_generation(self, group: str, generation: str, timeout: float) -> str:
        """Link the newest snapid of snapshot GENERATION (on GROUP's source storage group) to GROUP's
        target storage group (created with the pairs' targets when missing), nocopy. Whatever is
        linked there first is unlinked: relinking across snapshot names is [U] on SnapVX, and
        the targets are overwritten anyway."""
        spec = self._spec_of(group)
        src_sg, tgt_sg = self._sgs(group)
        targets = sorted(p.target for p in spec.pairs)
        view = self._view(group)
        if view.targets is not None and view.targets != targets:
            raise SafetyRefusal(f"{self.name}: storage group {tgt_sg} holds {', '.join(view.targets) or 'no volume'}, "
                                f"not {', '.join(targets)}; fix it by hand or the configuration")
        others = self._old_groups(group, targets)
        if others:
            raise SafetyRefusal(f"{self.name}: a snapshot of {', '.join(others)} is linked to storage groups holding "
                                f"{', '.join(targets)}; clean it up by hand")
        gens = self._generations(src_sg, check_group_name(generation))
        if not gens:
            raise DeviceError(self.name, self._array_api.snapshots(src_sg).line(),
                              f"no snapshot {generation} on {src_sg}: nothing to link")
        if view.targets is None:
            self._call(self._array_api.create_storage_group(tgt_sg))
            self._call(self._array_api.add_volumes(tgt_sg, targets))
        unlinked = []
        for name in self._call(self._array_api.snapshots(src_sg)).strings("name"):
            for gen in self._generations(src_sg, name):
                if gen.links_to(tgt_sg):
                    self._call(self._array_api.unlink(src_sg, name, gen.snapid, tgt_sg))
                    unlinked.append(f"{name} (snapid {gen.snapid})")
        newest = gens[-1]
        self._async(self._array_api.link(src_sg, generation, newest.snapid, tgt_sg, False))
        return (f"snapshot {generation} (snapid {newest.snapid}, {newest.timestamp}) linked to {tgt_sg} (nocopy)"
                + (f" after unlinking {', '.join(unlinked)}" if unlinked else ""))

    def _spec_of(self, group: str) -> GroupSpec:
        spec = self.book.get(group)
        if spec is None:
            raise DeviceError(self.name, f"(consistency group {group})", f"consistency group {group} is not defined "
                                                                          "for this PowerMax")
        return spec

    def stop(self, group: str, force: bool = False, timeout: float = 300) -> GroupState:
        view = self._view(group, missing_ok=False)
        if not view.generations:
            if self.book.flag(group) == PREPARED:
                self.book.set_flag(group, STOPPED)
            return self._state(group, view)
        links = view.generations[-1].links_to(self._sgs(group)[1])
        complete = bool(links) and all(link.percent >= 100 for link in links)   # the targets keep a full copy
        self._remove_generations(group, view.generations)
        self.book.set_flag(group, NONE if complete else STOPPED)
        return self.progress(group)

    def describe_commands(self, group: str, pairs: Sequence[VolumePair], copy_rate: int) -> list[str]:
        plan = plan_requests(group, pairs, copy_rate, self.symmetrix_id or (self._api.sid if self._api else None),
                             self._version, self.source_suffix, self.target_suffix)
        return [line for step in ("PREPARE_FLASH", "FLASH", "ACTIVATE_TARGETS") for line in plan[step]]


def plan_requests(group: str, pairs: Sequence[VolumePair], copy_rate: int, sid: Optional[str] = None,
                  version: Optional[str] = None, source_suffix: Optional[str] = None,
                  target_suffix: Optional[str] = None) -> Dict[str, List[str]]:
    """The request lines of each storage step of a run, for `flash4i plan` (no device touched)."""
    check_pairs(group, pairs, copy_rate, powermax_device_id)
    api = Api(version or DEFAULT_API_VERSION, sid or SID_UNKNOWN)
    src_sg = storage_group_name(group + (source_suffix or "_SRC"))
    tgt_sg = storage_group_name(group + (target_suffix or "_TGT"))
    sources, targets = [p.source for p in pairs], [p.target for p in pairs]
    links = ", ".join(f"{p.source}->{p.target}" for p in pairs)
    return {
        "CHECK": [api.volume(v).line() for v in sources + targets]
        + [api.masking_views().line(), f"GET {api._prov('maskingview')}/<each view>[/connections]"],
        "PREPARE_FLASH": [api.storage_group(src_sg).line(), api.storage_group(tgt_sg).line(),
                          api.snapshots(src_sg).line(),
                          api.unlink(src_sg, group, "<snapid>", tgt_sg).line() + "   (each earlier generation)",
                          api.terminate(src_sg, group, "<snapid>").line() + "   (each earlier generation)",
                          api.create_storage_group(src_sg).line() + "   (if missing)",
                          api.add_volumes(src_sg, sources).line() + "   (if created)",
                          api.create_storage_group(tgt_sg).line() + "   (if missing)",
                          api.add_volumes(tgt_sg, targets).line() + f"   (if created; links {links})"],
        "FLASH": [api.establish(src_sg, group).line()],
        "ACTIVATE_TARGETS": [api.snapids(src_sg, group).line(),
                             api.link(src_sg, group, "<new snapid>", tgt_sg, copy_rate > 0).line()
                             + f"   (links {links}; Relink when an older generation is linked)",
                             f"GET /univmax/restapi/{api.version}/system/job/<job id>   (until SUCCEEDED)"],
        "FINISH": [api.volume(t).line() for t in targets],
    }
