"""IBM Storage Virtualize (SVC / Storwize / FlashSystem) over its SSH CLI.

Every command line is built in this module from validated names (quoted with shlex.quote),
lists always use `-delim !` (names cannot contain '!') and `-bytes` where capacities
appear, so answers are unambiguous. Parsing is strict: a header/row field-count mismatch,
a missing expected column, an unknown state or an unparseable line raises DeviceError
naming the command and the text; nothing is ever defaulted silently.
"""
from __future__ import annotations

import itertools
import re
import shlex
import time
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Union

from ...errors import DeviceError, SafetyRefusal, StepTimeout, ValidationError
from ...names import svc_name
from ..ssh import SshSession
from .base import (GROUP_STATES, MAPPING_STATES, STOPPED_STATES, GroupState, HostMapping, MappingState,
                   StorageDriver, VolumeInfo, VolumePair, poll_pause, tuning)
from .book import check_pairs, check_rate

DELIM = "!"
GROUP_NAME_MAX = 15
NOT_FOUND_IDS = ("CMMVC5753E", "CMMVC5754E")
VOLUME_STATES = ("online", "offline", "degraded")
_MSG_ID = re.compile(r"\b(CMMVC\d{4}[EWI])\b")
_UID = re.compile(r"[0-9A-Fa-f]{32}")
_TEXT_SHOWN = 300                 # characters of a bad answer quoted in an error

Detailed = Dict[str, Union[str, List[str]]]


# -------------------------------------------------------------------- command lines

def _volume(name: str) -> str:
    return shlex.quote(svc_name(name, "volume name"))


def _group(name: str) -> str:
    return shlex.quote(svc_name(name, "consistency group name", GROUP_NAME_MAX))


def _host(name: str) -> str:
    return shlex.quote(svc_name(name, "host name"))


def _fcmap(name: str) -> str:
    return shlex.quote(svc_name(name, "FlashCopy mapping name"))


def cmd_lsvdisk(volume: str) -> str:
    return f"svcinfo lsvdisk -bytes -delim {DELIM} {_volume(volume)}"


def cmd_lshostvdiskmap() -> str:
    return f"svcinfo lshostvdiskmap -delim {DELIM}"


def cmd_lsfcconsistgrp(group: str) -> str:
    return f"svcinfo lsfcconsistgrp -delim {DELIM} {_group(group)}"


def cmd_lsfcmap(group: Optional[str] = None) -> str:
    where = f" -filtervalue {shlex.quote('group_name=' + svc_name(group, 'consistency group name', GROUP_NAME_MAX))}" \
        if group is not None else ""
    return f"svcinfo lsfcmap -delim {DELIM}{where}"


def cmd_mkfcconsistgrp(group: str) -> str:
    return f"svctask mkfcconsistgrp -name {_group(group)}"


def cmd_mkfcmap(source: str, target: str, group: str, copy_rate: int) -> str:
    return (f"svctask mkfcmap -source {_volume(source)} -target {_volume(target)} -consistgrp {_group(group)} "
            f"-copyrate {check_rate(copy_rate)}")


def cmd_chfcmap_copyrate(fcmap: str, copy_rate: int) -> str:
    return f"svctask chfcmap -copyrate {check_rate(copy_rate)} {_fcmap(fcmap)}"


def cmd_prestart(group: str) -> str:
    return f"svctask prestartfcconsistgrp {_group(group)}"


def cmd_start(group: str) -> str:
    return f"svctask startfcconsistgrp {_group(group)}"


def cmd_stop(group: str, force: bool = False) -> str:
    return f"svctask stopfcconsistgrp {'-force ' if force else ''}{_group(group)}"


def cmd_stopfcmap(fcmap: str) -> str:
    return f"svctask stopfcmap {_fcmap(fcmap)}"


def cmd_rmfcmap(fcmap: str) -> str:
    # -force: a stopped mapping can only go with it (and it brings the target back online).
    return f"svctask rmfcmap -force {_fcmap(fcmap)}"


def cmd_mkvdiskhostmap(volume: str, host: str, scsi_id: Optional[int]) -> str:
    scsi = ""
    if scsi_id is not None:
        if isinstance(scsi_id, bool) or not isinstance(scsi_id, int) or scsi_id < 0:
            raise ValidationError(f"{scsi_id!r} is not a valid SCSI id")
        scsi = f" -scsi {scsi_id}"
    return f"svctask mkvdiskhostmap -host {_host(host)}{scsi} {_volume(volume)}"


def cmd_rmvdiskhostmap(volume: str, host: str) -> str:
    return f"svctask rmvdiskhostmap -host {_host(host)} {_volume(volume)}"


# -------------------------------------------------------------------- parsing

def _bad(device: str, command: str, problem: str, text: str) -> DeviceError:
    shown = text if len(text) <= _TEXT_SHOWN else text[:_TEXT_SHOWN] + "..."
    return DeviceError(device, command, f"unexpected answer: {problem}: {shown!r}")


def parse_concise(text: str, device: str, command: str, required: Sequence[str] = ()) -> List[Dict[str, str]]:
    """A concise view with -delim: header row, then one row per object. Empty text: no objects."""
    lines = text.splitlines()
    if not lines:
        return []
    header = lines[0].split(DELIM)
    if len(set(header)) != len(header) or "" in header:
        raise _bad(device, command, "malformed header", lines[0])
    missing = [column for column in required if column not in header]
    if missing:
        raise _bad(device, command, f"missing column {', '.join(missing)}", lines[0])
    rows = []
    for line in lines[1:]:
        cells = line.split(DELIM)
        if len(cells) != len(header):
            raise _bad(device, command, "header/row mismatch", line)
        rows.append(dict(zip(header, cells)))
    return rows


def parse_detailed(text: str, device: str, command: str, section_key: Optional[str] = None) -> List[Detailed]:
    """A detailed view: `attr!value` lines; a repeated attr becomes a list; a blank line
    starts a new section (the per-copy blocks of lsvdisk).

    SECTION_KEY (lsvdisk: copy_id) also starts a new section when it follows other lines with
    no blank line between: the shape of cinder's simulator (test_storwize_svc.py _cmd_lsvdisk),
    whereas the array's own answer has the blank line (IBM's Ansible collection gets the volume
    and each copy as separate objects). Both read the same."""
    sections: List[Detailed] = []
    current: Optional[Detailed] = None
    for line in text.splitlines():
        if not line.strip():
            current = None
            continue
        key, sep, value = line.partition(DELIM)
        if not sep or not key or DELIM in value:
            raise _bad(device, command, "unparseable line", line)
        if current is None or (key == section_key and current):
            current = {}
            sections.append(current)
        if key in current:
            previous = current[key]
            current[key] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            current[key] = value
    if not sections:
        raise _bad(device, command, "empty detailed view", text)
    return sections


class _Fields:
    """Typed, strict access to one parsed object."""

    def __init__(self, data: Dict, device: str, command: str):
        self.data, self.device, self.command = data, device, command

    def str(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            raise _bad(self.device, self.command, f"missing or repeated field {key}", repr(self.data))
        return value

    def int(self, key: str) -> int:
        value = self.str(key)
        if not value.isdigit():
            raise _bad(self.device, self.command, f"field {key} is not a number", value)
        return int(value)

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        value = self.str(key)
        if value not in allowed:
            raise _bad(self.device, self.command, f"unknown {key}", value)
        return value

    def optional(self, key: str) -> Optional[str]:
        value = self.str(key)
        return value or None


@dataclass(frozen=True)
class _FcMapRow:
    id: int
    group: str
    state: MappingState


_FCMAP_COLUMNS = ("id", "name", "source_vdisk_name", "target_vdisk_name", "group_name", "status", "progress",
                  "copy_rate", "start_time")


# -------------------------------------------------------------------- the driver

class SvcDriver(StorageDriver):
    family = "svc"
    TUNING = ("command_timeout", "poll_interval", "cleanup_timeout")      # storage options, in seconds

    @classmethod
    def configured(cls, session, name, options, groups=None) -> "SvcDriver":
        return cls(session, name, **tuning(options, cls.TUNING))

    @classmethod
    def plan_commands(cls, group, pairs, rate, user, options) -> Dict[str, List[str]]:
        return {
            "CHECK": [cmd_lsvdisk(v) for p in pairs for v in (p.source, p.target)] + [cmd_lshostvdiskmap()],
            "PREPARE_FLASH": [cmd_lsfcconsistgrp(group), cmd_lsfcmap(group), cmd_mkfcconsistgrp(group) + "   (if missing)"]
            + [cmd_mkfcmap(p.source, p.target, group, rate) + "   (if missing)" for p in pairs]
            + [cmd_prestart(group) + "   (then polled until prepared)"],
            "FLASH": [cmd_start(group)],
            "FINISH": [cmd_lsvdisk(p.target) for p in pairs],
        }

    def __init__(self, session: SshSession, name: str, command_timeout: float = 60.0, poll_interval: float = 2.0,
                 cleanup_timeout: float = 300.0):
        self.session, self.name = session, name
        self.command_timeout = command_timeout
        self.poll_interval = poll_interval
        self.cleanup_timeout = cleanup_timeout     # stopping old mappings inside ensure_group

    # ---------------------------------------------------------------- transport

    def _run(self, command: str) -> str:
        result = self.session.run(command, timeout=self.command_timeout)
        if result.exit_status != 0:
            text = result.stderr.strip() or result.stdout.strip() or f"exit status {result.exit_status}"
            found = _MSG_ID.search(text)
            raise DeviceError(self.name, command, text, found.group(1) if found else None)
        return result.stdout

    # ---------------------------------------------------------------- volumes and hosts

    def _volume_info(self, volume: str) -> VolumeInfo:
        command = cmd_lsvdisk(volume)
        sections = parse_detailed(self._run(command), self.name, command, section_key="copy_id")
        top = _Fields(sections[0], self.name, command)
        # The copy block follows the volume's own lines after a blank line; the primary copy counts.
        copies = [_Fields(s, self.name, command) for s in sections[1:]] or [top]
        copy = next((c for c in copies if c.data.get("primary") == "yes"), copies[0])
        uid = top.str("vdisk_UID")
        if not _UID.fullmatch(uid):
            raise _bad(self.name, command, "vdisk_UID is not 32 hex digits", uid)
        return VolumeInfo(name=top.str("name"), id=top.str("id"), uid=uid, capacity_bytes=top.int("capacity"),
                          used_bytes=copy.int("used_capacity"), thin=top.int("se_copy_count") > 0,
                          status=top.choice("status", VOLUME_STATES))

    def volumes(self, names: Sequence[str]) -> dict[str, VolumeInfo]:
        for name in names:
            svc_name(name, "volume name")
        found: Dict[str, VolumeInfo] = {}
        for name in names:
            try:
                found[name] = self._volume_info(name)
            except DeviceError as exc:
                if exc.msg_id not in NOT_FOUND_IDS:
                    raise
        return found

    def host_mappings(self, volumes: Sequence[str]) -> dict[str, list[HostMapping]]:
        for name in volumes:
            svc_name(name, "volume name")
        command = cmd_lshostvdiskmap()
        rows = parse_concise(self._run(command), self.name, command, ("name", "SCSI_id", "vdisk_name"))
        result: Dict[str, List[HostMapping]] = {name: [] for name in volumes}
        for row in rows:
            fields = _Fields(row, self.name, command)
            volume = fields.str("vdisk_name")
            if volume in result:
                result[volume].append(HostMapping(volume=volume, host=fields.str("name"),
                                                  scsi_id=fields.int("SCSI_id")))
        return result

    def map_volume(self, volume: str, host: str, scsi_id: int | None = None) -> HostMapping:
        self._run(cmd_mkvdiskhostmap(volume, host, scsi_id))
        for mapping in self.host_mappings([volume])[volume]:
            if mapping.host == host:
                return mapping
        command = cmd_lshostvdiskmap()
        raise DeviceError(self.name, command, f"the new mapping of {volume} to {host} is not listed")

    def unmap_volume(self, volume: str, host: str) -> None:
        self._run(cmd_rmvdiskhostmap(volume, host))

    def copies_per_source(self, sources: Sequence[str], replacing: Optional[str] = None) -> dict[str, int]:
        counts = {name: 0 for name in sources}
        for row in self._fcmaps():
            if row.state.source in counts and (replacing is None or row.group != replacing):
                counts[row.state.source] += 1
        return counts

    def copies_reading(self, group: str) -> list[str]:
        rows = self._fcmaps()
        targets = {row.state.target for row in rows if row.group == group}
        return [row.state.name for row in rows if row.state.source in targets]

    def space_used(self, targets: Sequence[str]) -> int:
        return sum(self._volume_info(name).used_bytes for name in targets)

    # ---------------------------------------------------------------- FlashCopy: reading

    def _fcmaps(self, group: Optional[str] = None) -> List[_FcMapRow]:
        command = cmd_lsfcmap(group)
        rows = parse_concise(self._run(command), self.name, command, _FCMAP_COLUMNS)
        result = []
        for row in rows:
            f = _Fields(row, self.name, command)
            progress = f.int("progress")
            if progress > 100:
                raise _bad(self.name, command, "progress above 100", str(progress))
            state = MappingState(name=f.str("name"), source=f.str("source_vdisk_name"),
                                 target=f.str("target_vdisk_name"), status=f.choice("status", MAPPING_STATES),
                                 progress=progress, copy_rate=f.int("copy_rate"), start_time=f.optional("start_time"))
            result.append(_FcMapRow(f.int("id"), f.str("group_name"), state))
        return sorted(result, key=lambda r: r.id)

    def _group_info(self, group: str) -> _Fields:
        command = cmd_lsfcconsistgrp(group)
        info = _Fields(parse_detailed(self._run(command), self.name, command)[0], self.name, command)
        if info.str("name") != group:
            raise _bad(self.name, command, f"asked for {group}, got", info.str("name"))
        return info

    def _group_info_or_none(self, group: str) -> Optional[_Fields]:
        try:
            return self._group_info(group)
        except DeviceError as exc:
            if exc.msg_id in NOT_FOUND_IDS:
                return None
            raise

    def _state(self, group: str, info: _Fields) -> GroupState:
        maps = tuple(row.state for row in self._fcmaps(group))
        return GroupState(name=group, status=info.choice("status", GROUP_STATES), mappings=maps,
                          start_time=info.optional("start_time"))

    def progress(self, group: str) -> GroupState:
        return self._state(group, self._group_info(group))

    def group_state(self, group: str) -> GroupState | None:
        info = self._group_info_or_none(group)
        return self._state(group, info) if info is not None else None

    def _poll(self, group: str, timeout: float, goal: str) -> Iterator[GroupState]:
        """The group's state now, then again every poll interval, until TIMEOUT (StepTimeout)."""
        deadline = time.monotonic() + timeout
        for attempt in itertools.count():
            state = self.progress(group)
            yield state
            if time.monotonic() >= deadline:
                raise StepTimeout(f"{self.name}: consistency group {group} did not become {goal} within "
                                  f"{timeout:g}s (status {state.status})")
            time.sleep(poll_pause(attempt, self.poll_interval, deadline, time.monotonic()))

    # ---------------------------------------------------------------- FlashCopy: changing

    def stop(self, group: str, force: bool = False, timeout: float = 300) -> GroupState:
        sent = False
        for state in self._poll(group, timeout, "stopped"):
            if state.status in STOPPED_STATES:
                return state
            # A group being prepared cannot be stopped: let the flush end first.
            wants_stop = state.status in ("prepared", "copying", "suspended") or \
                (force and state.status == "stopping")
            if wants_stop and not sent:
                self._run(cmd_stop(group, force))
                sent = True
        raise AssertionError("unreachable")      # _poll ends with StepTimeout

    def prepare(self, group: str, timeout: float) -> GroupState:
        sent = False
        for state in self._poll(group, timeout, "prepared"):
            status = state.status
            if status == "prepared":
                return state
            if status == "preparing":
                continue
            if status == "stopped" or (status == "idle_or_copied" and not sent):
                self._run(cmd_prestart(group))     # stopped: the flush failed, prepare again
                sent = True
                continue
            raise DeviceError(self.name, cmd_prestart(group),
                              f"unexpected consistency group status {status} while preparing {group}")
        raise AssertionError("unreachable")

    def ready_for_start(self) -> None:
        # The start's exec channel, opened now: its round trip falls before the suspend.
        self.session.open_ahead(1)

    def start(self, group: str) -> None:
        self._run(cmd_start(group))

    def ensure_group(self, group: str, pairs: Sequence[VolumePair], copy_rate: int) -> GroupState:
        wanted = self._check_pairs(group, pairs, copy_rate)
        maps = self._fcmaps()
        info = self._group_info_or_none(group)
        members = [m for m in maps if m.group == group]
        for m in members:
            pair = wanted.get(m.state.target)
            if pair is None or pair.source != m.state.source:
                raise SafetyRefusal(
                    f"{self.name}: consistency group {group} holds mapping {m.state.name} "
                    f"({m.state.source} -> {m.state.target}), which is not in the configuration; "
                    "remove it by hand or fix the configuration")
        old = [m for m in maps if m.state.target in wanted and m.group != group]
        old_groups = sorted({m.group for m in old if m.group})
        for other in old_groups:
            strangers = [m.state.target for m in maps if m.group == other and m.state.target not in wanted]
            if strangers:
                raise SafetyRefusal(
                    f"{self.name}: old consistency group {other} maps to targets of {group} and also to "
                    f"{', '.join(strangers)}; clean it up by hand")
        # Every check passed: now change things.
        self._remove_old(old, old_groups)
        if info is None:
            self._run(cmd_mkfcconsistgrp(group))
        elif info.choice("status", GROUP_STATES) in ("copying", "suspended", "stopping"):
            # The copy of an earlier flash still runs: stop it, so the group can be prepared again.
            self.stop(group, timeout=self.cleanup_timeout)
        present = {m.state.target for m in members}
        for m in members:
            if m.state.copy_rate != copy_rate:
                self._run(cmd_chfcmap_copyrate(m.state.name, copy_rate))
        for pair in pairs:
            if pair.target not in present:
                self._run(cmd_mkfcmap(pair.source, pair.target, group, copy_rate))
        return self.progress(group)

    def _remove_old(self, old: List[_FcMapRow], old_groups: List[str]) -> None:
        """Stop and delete earlier mappings of our targets that live outside our group."""
        if not old:
            return
        for other in old_groups:
            self.stop(other, timeout=self.cleanup_timeout)
        for m in old:
            if not m.group and m.state.status in ("prepared", "copying", "suspended"):
                self._run(cmd_stopfcmap(m.state.name))
        names = {m.state.name for m in old}
        deadline = time.monotonic() + self.cleanup_timeout
        for attempt in itertools.count():
            busy = [m.state for m in self._fcmaps() if m.state.name in names and m.state.status not in STOPPED_STATES]
            if not busy:
                break
            if time.monotonic() >= deadline:
                raise StepTimeout(f"{self.name}: old mappings {', '.join(s.name for s in busy)} did not stop "
                                  f"within {self.cleanup_timeout:g}s")
            time.sleep(poll_pause(attempt, self.poll_interval, deadline, time.monotonic()))
        for m in old:
            self._run(cmd_rmfcmap(m.state.name))

    @staticmethod
    def _check_pairs(group: str, pairs: Sequence[VolumePair], copy_rate: int) -> Dict[str, VolumePair]:
        return check_pairs(group, pairs, copy_rate, lambda name, what: svc_name(name, "volume name"))

    def describe_commands(self, group: str, pairs: Sequence[VolumePair], copy_rate: int) -> list[str]:
        self._check_pairs(group, pairs, copy_rate)
        return ([cmd_stop(group), cmd_mkfcconsistgrp(group)]
                + [cmd_mkfcmap(p.source, p.target, group, copy_rate) for p in pairs]
                + [cmd_prestart(group), cmd_start(group)])
