"""The Storage Virtualize SSH CLI front: command lines in, the array's exact text out.

A restricted shell: the line is split like a shell would (shlex), an optional `svcinfo` /
`svctask` prefix is accepted, and each verb takes a fixed set of flags. List commands
print the concise view (header row + rows) or, given an object, the detailed view
(`attr value` lines; a blank line starts a new section), honouring -delim, -nohdr, -bytes
and -filtervalue as reference §1.1 describes. Failures print `CMMVCnnnnE text` on stderr
and exit 1.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import paramiko

from ..sshd import Conn, SshFront
from .errors import SvcError, not_found_for_listing
from .model import FcGroup, FcMap, Host, StorageArray, Volume, svc_time

Row = List[str]
Section = List[Tuple[str, str]]

# Column sets, as the public sources print them (tests/data/captures/svc/ holds the shapes and
# their sources). lsfcmap concise: the cinder simulator's header (test_storwize_svc.py _cmd_lsfcmap).
FCMAP_CONCISE = ("id", "name", "source_vdisk_id", "source_vdisk_name", "target_vdisk_id", "target_vdisk_name",
                 "group_id", "group_name", "status", "progress", "copy_rate", "clean_progress", "incremental",
                 "partner_FC_id", "partner_FC_name", "restoring", "start_time", "rc_controlled")
# lsvdisk concise: the first 19 columns are cinder's simulator (a 7.2-era set); 8.4 prints the
# rest too, in this order (ibm.storage_virtualize 2.4.1 unit data, test_ibm_svc_manage_flashcopy.py).
VDISK_CONCISE_CINDER = ("id", "name", "IO_group_id", "IO_group_name", "status", "mdisk_grp_id", "mdisk_grp_name",
                        "capacity", "type", "FC_id", "FC_name", "RC_id", "RC_name", "vdisk_UID", "fc_map_count",
                        "copy_count", "fast_write_state", "se_copy_count", "RC_change")
VDISK_CONCISE_84 = VDISK_CONCISE_CINDER + (
    "compressed_copy_count", "parent_mdisk_grp_id", "parent_mdisk_grp_name", "owner_id", "owner_name",
    "formatting", "encrypt", "volume_id", "volume_name", "function", "protocol")
# 8.5 (volume groups and their snapshots) adds these columns (ibm.storage_virtualize test_ibm_svc_info.py,
# an lsvdisk -filtervalue answer). That source lists keys sorted by name, so their order here is [R].
VDISK_CONCISE_85 = VDISK_CONCISE_84 + (
    "is_safeguarded_snapshot", "is_snapshot", "replication_mode", "safeguarded_snapshot_count", "snapshot_count",
    "volume_group_id", "volume_group_name", "volume_type")
VDISK_CONCISE = VDISK_CONCISE_84
HOST_CONCISE = ("id", "name", "port_count", "iogrp_count", "status")
# lshostvdiskmap: cinder's simulator prints the first six; 8.x prints the I/O group, the mapping
# type (private / shared, IBM doc lshostvdiskmap), the host cluster and the protocol too, as the
# Ansible collection's lsvdiskhostmap data shows for the mirror command [R for this command's order].
HOSTVDISKMAP_CINDER = ("id", "name", "SCSI_id", "vdisk_id", "vdisk_name", "vdisk_UID")
HOSTVDISKMAP = HOSTVDISKMAP_CINDER + ("IO_group_id", "IO_group_name", "mapping_type", "host_cluster_id",
                                      "host_cluster_name", "protocol")
FCMAPPROGRESS = ("id", "progress")                                   # [U] layout (reference §7.1)


@dataclass(frozen=True)
class ListOptions:
    delim: Optional[str]
    nohdr: bool
    bytes: bool
    filters: Tuple[Tuple[str, str], ...]


@dataclass(frozen=True)
class Verb:
    handler: str                      # method name on SvcFront (cmd_...)
    kind: str                         # "info" (svcinfo) or "task" (svctask)
    flags: Dict[str, bool]            # flag -> takes a value
    obj: str                          # "none" | "optional" | "required"


_LIST_FLAGS = {"bytes": False, "delim": True, "nohdr": False, "filtervalue": True}
_FORMAT_FLAGS = {"bytes": False, "delim": True, "nohdr": False}

VERBS: Dict[str, Verb] = {
    "lsvdisk": Verb("cmd_ls_vdisk", "info", _LIST_FLAGS, "optional"),
    "lshost": Verb("cmd_ls_host", "info", _LIST_FLAGS, "optional"),
    "lshostvdiskmap": Verb("cmd_ls_hostvdiskmap", "info", _LIST_FLAGS, "optional"),
    "lsfcmap": Verb("cmd_ls_fcmap", "info", _LIST_FLAGS, "optional"),
    "lsfcconsistgrp": Verb("cmd_ls_fcconsistgrp", "info", _LIST_FLAGS, "optional"),
    "lsfcmapprogress": Verb("cmd_ls_fcmapprogress", "info", {"delim": True, "nohdr": False}, "required"),
    "lssystem": Verb("cmd_ls_system", "info", _FORMAT_FLAGS, "none"),
    "mkfcconsistgrp": Verb("cmd_mk_fcconsistgrp", "task", {"name": True, "autodelete": False}, "none"),
    "mkfcmap": Verb("cmd_mk_fcmap", "task", {"source": True, "target": True, "name": True, "consistgrp": True,
                                         "copyrate": True, "autodelete": False, "grainsize": True,
                                         "incremental": False, "cleanrate": True, "iogrp": True,
                                         "keeptarget": False}, "none"),
    "chfcmap": Verb("cmd_ch_fcmap", "task", {"name": True, "consistgrp": True, "copyrate": True, "autodelete": True,
                                         "cleanrate": True}, "required"),
    "prestartfcconsistgrp": Verb("cmd_prestart", "task", {"restore": False}, "required"),
    "prestartfcmap": Verb("cmd_prestart", "task", {"restore": False}, "required"),
    "startfcconsistgrp": Verb("cmd_start", "task", {"prep": False, "restore": False}, "required"),
    "startfcmap": Verb("cmd_start", "task", {"prep": False, "restore": False}, "required"),
    "stopfcconsistgrp": Verb("cmd_stop", "task", {"force": False, "split": False}, "required"),
    "stopfcmap": Verb("cmd_stop", "task", {"force": False, "split": False}, "required"),
    "rmfcconsistgrp": Verb("cmd_rm", "task", {"force": False}, "required"),
    "rmfcmap": Verb("cmd_rm", "task", {"force": False}, "required"),
    "mkvdiskhostmap": Verb("cmd_mk_vdiskhostmap", "task", {"host": True, "scsi": True, "force": False}, "required"),
    "rmvdiskhostmap": Verb("cmd_rm_vdiskhostmap", "task", {"host": True}, "required"),
}


def parse_words(words: Sequence[str], verb: Verb) -> Tuple[Dict[str, object], Optional[str]]:
    """Flags and the object of one command; the array's errors for anything it would refuse."""
    opts: Dict[str, object] = {}
    obj: Optional[str] = None
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-") and len(word) > 1:
            flag = word[1:]
            if flag not in verb.flags:
                raise SvcError("CMMVC5709E", value=flag)
            if flag in opts:
                raise SvcError("CMMVC5707E")
            if verb.flags[flag]:
                if i + 1 >= len(words):
                    raise SvcError("CMMVC5707E")
                opts[flag] = words[i + 1]
                i += 2
                continue
            opts[flag] = True
        else:
            if obj is not None or verb.obj == "none":
                raise SvcError("CMMVC5707E")
            obj = word
        i += 1
    if verb.obj == "required" and obj is None:
        raise SvcError("CMMVC5701E")
    return opts, obj


def list_options(opts: Dict[str, object]) -> ListOptions:
    delim = opts.get("delim")
    if delim is not None and len(str(delim).encode()) != 1:
        raise SvcError("CMMVC5767E")
    filters: List[Tuple[str, str]] = []
    if "filtervalue" in opts:
        for part in str(opts["filtervalue"]).split(":"):
            attr, sep, value = part.partition("=")
            if not sep or not attr:
                raise SvcError("CMMVC5767E")
            filters.append((attr, value))
    return ListOptions(delim if delim is None else str(delim), bool(opts.get("nohdr")), bool(opts.get("bytes")),
                       tuple(filters))


def human_size(nbytes: int) -> str:
    """Capacities without -bytes: two decimals in the largest unit that fits (MB at least)."""
    value, unit = float(nbytes), "MB"
    for candidate, size in (("PB", 1024 ** 5), ("TB", 1024 ** 4), ("GB", 1024 ** 3), ("MB", 1024 ** 2)):
        if nbytes >= size or candidate == "MB":
            value, unit = nbytes / size, candidate
            break
    return f"{value:.2f}{unit}"


def _matches(value: str, wanted: str) -> bool:
    # A trailing '*' is the CLI's wildcard.
    return value.startswith(wanted[:-1]) if wanted.endswith("*") else value == wanted


def render_concise(header: Sequence[str], rows: Iterable[Row], opts: ListOptions) -> str:
    rows = list(rows)
    for attr, wanted in opts.filters:
        if attr not in header:
            raise SvcError("CMMVC5767E")
        col = header.index(attr)
        rows = [r for r in rows if _matches(r[col], wanted)]
    if not rows:
        return ""                                  # no data: no heading either
    lines = ([list(header)] if not opts.nohdr else []) + rows
    if opts.delim is not None:
        return "".join(opts.delim.join(line) + "\n" for line in lines)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "".join(" ".join(cell.ljust(w) for cell, w in zip(line[:-1], widths)) + (" " if len(line) > 1 else "")
                   + line[-1] + "\n" for line in lines)


def render_detailed(sections: Sequence[Section], opts: ListOptions) -> str:
    sep = opts.delim if opts.delim is not None else " "
    lines: List[str] = []
    for k, section in enumerate(sections):
        if k:
            lines.append("")
        lines.extend(value if opts.nohdr else f"{attr}{sep}{value}" for attr, value in section)
    return "".join(line + "\n" for line in lines)


def _int(value: object, low: int = 0, high: int = 1 << 31) -> int:
    text = str(value)
    if not text.isdigit() or not low <= int(text) <= high:
        raise SvcError("CMMVC5767E")
    return int(text)


def _on_off(value: object) -> bool:
    if value not in ("on", "off"):
        raise SvcError("CMMVC5767E")
    return value == "on"


class SvcFront(SshFront):
    label = "svc"
    # [U] what the restricted shell answers for a verb it does not know.
    UNKNOWN_COMMAND = "rbash: {verb}: command not found"
    UNKNOWN_STATUS = 127
    # [U] svcinfo carries the list verbs and svctask the action verbs; refuse a mix-up.
    STRICT_PREFIXES = True
    # [U] concise lsfcconsistgrp columns (the doc example has the first three; newer code adds more).
    FCCONSISTGRP_CONCISE = ("id", "name", "status", "start_time")

    def __init__(self, array: StorageArray, host_key: paramiko.PKey, client_keys: Iterable[str],
                 port: int = 0, bind: str = "127.0.0.1"):
        """CLIENT_KEYS: base64 public keys accepted for every user of the array's topology."""
        keys = set(client_keys)
        super().__init__(array.world, host_key, {user: set(keys) for user in array.users}, port=port, bind=bind)
        self.array = array

    def fault_device(self, conn: Conn) -> str:
        return f"svc:{self.array.name}"           # rules for `svc` and for `svc:<array>` both apply

    def execute(self, command: str, conn: Conn) -> Tuple[str, str, int]:
        return self.run_line(command)

    # ---------------------------------------------------------------- dispatch

    def run_line(self, line: str) -> Tuple[str, str, int]:
        """One command line -> (stdout, stderr, exit status). Usable without a socket."""
        try:
            words = shlex.split(line)
        except ValueError:
            return "", "rbash: syntax error: unterminated quoted string\n", 2
        if not words:
            return "", "", 0
        prefix = words.pop(0) if words[0] in ("svcinfo", "svctask") else None
        name = words[0] if words else ""
        verb = VERBS.get(name)
        if verb is None or (self.STRICT_PREFIXES and prefix is not None and prefix != "svc" + verb.kind):
            shown = f"{prefix} {name}".strip() if verb is not None else (name or prefix or "")
            return "", self.UNKNOWN_COMMAND.format(verb=shown) + "\n", self.UNKNOWN_STATUS
        try:
            opts, obj = parse_words(words[1:], verb)
            handler: Callable[..., str] = getattr(self, verb.handler)
            return handler(name, opts, obj), "", 0
        except SvcError as exc:
            return "", f"{exc}\n", 1

    def _list(self, opts: Dict[str, object], obj: Optional[str], header: Sequence[str],
              rows: Callable[[ListOptions], Iterable[Row]],
              detail: Callable[[str, ListOptions], List[Section]]) -> str:
        options = list_options(opts)
        with self.array.lock:
            if obj is None:
                return render_concise(header, rows(options), options)
            return render_detailed(detail(obj, options), options)

    def _cap(self, options: ListOptions, nbytes: int) -> str:
        return str(nbytes) if options.bytes else human_size(nbytes)

    # ---------------------------------------------------------------- volumes

    def _fc_ref(self, volume: Volume) -> Tuple[str, str, int]:
        maps = self.array.maps_of(volume)
        if not maps:
            return "", "", 0
        if len(maps) > 1:
            return "many", "many", len(maps)        # [U]
        return str(maps[0].id), maps[0].name, 1

    def vdisk_columns(self) -> Tuple[str, ...]:
        """The concise lsvdisk header at the array's code level."""
        return VDISK_CONCISE_85 if self.array.level >= (8, 5) else VDISK_CONCISE_84

    def _vdisk_row(self, v: Volume, o: ListOptions) -> Row:
        fc_id, fc_name, count = self._fc_ref(v)
        pool = str(self.array.pools.index(v.pool))
        values = dict(zip(VDISK_CONCISE_CINDER, [
            str(v.id), v.name, "0", "io_grp0", v.status, pool, v.pool, self._cap(o, v.capacity), "striped", fc_id,
            fc_name, "", "", v.uid, str(count), "1", "empty", "1" if v.thin else "0", "no"]))
        values.update(compressed_copy_count="0", parent_mdisk_grp_id=pool, parent_mdisk_grp_name=v.pool, owner_id="",
                      owner_name="", formatting="no", encrypt="no", volume_id=str(v.id), volume_name=v.name,
                      function="", protocol="", is_safeguarded_snapshot="no", is_snapshot="no", replication_mode="",
                      safeguarded_snapshot_count="0", snapshot_count="0", volume_group_id="", volume_group_name="",
                      volume_type="")
        return [values[column] for column in self.vdisk_columns()]

    def _vdisk_detail(self, key: str, o: ListOptions) -> List[Section]:
        v = self.array.volume(key)
        if v is None:
            raise not_found_for_listing()
        fc_id, fc_name, count = self._fc_ref(v)
        top = [("id", str(v.id)), ("name", v.name), ("IO_group_id", "0"), ("IO_group_name", "io_grp0"),
               ("status", v.status), ("capacity", self._cap(o, v.capacity)), ("formatted", "no"),
               ("mdisk_id", ""), ("mdisk_name", ""), ("FC_id", fc_id), ("FC_name", fc_name), ("RC_id", ""),
               ("RC_name", ""), ("vdisk_UID", v.uid), ("throttling", "0"), ("preferred_node_id", "1"),
               ("fast_write_state", "empty"), ("cache", "readwrite"), ("udid", ""), ("fc_map_count", str(count)),
               ("sync_rate", "50"), ("copy_count", "1"), ("se_copy_count", "1" if v.thin else "0"),
               ("mirror_write_priority", "latency"), ("RC_change", "no")]
        copy = [("copy_id", "0"), ("status", "online"), ("primary", "yes"),
                ("mdisk_grp_id", str(self.array.pools.index(v.pool))), ("mdisk_grp_name", v.pool),
                ("type", "striped"), ("used_capacity", self._cap(o, v.used_bytes)),
                ("real_capacity", self._cap(o, v.real_bytes)), ("free_capacity", self._cap(o, v.free_bytes)),
                ("easy_tier", "on"), ("compressed_copy", "no"), ("autoexpand", "on" if v.thin else ""),
                ("warning", "80" if v.thin else ""), ("grainsize", "256" if v.thin else "")]
        return [top, copy]

    def cmd_ls_vdisk(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        return self._list(opts, obj, self.vdisk_columns(),
                          lambda o: [self._vdisk_row(v, o) for _, v in sorted(self.array.volumes.items())],
                          self._vdisk_detail)

    # ---------------------------------------------------------------- hosts

    def _host_or_error(self, key: str) -> Host:
        host = self.array.host(key)
        if host is None:
            raise not_found_for_listing()
        return host

    def _host_detail(self, key: str, o: ListOptions) -> List[Section]:
        h = self._host_or_error(key)
        section = [("id", str(h.id)), ("name", h.name), ("port_count", str(len(h.wwpns))), ("type", "generic"),
                   ("mask", "1111111111111111111111111111111111111111111111111111111111111111"),
                   ("iogrp_count", "4"), ("status", "online")]
        for wwpn in h.wwpns:
            section += [("WWPN", wwpn), ("node_logged_in_count", "2"), ("state", "active")]
        return [section]

    def cmd_ls_host(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        return self._list(opts, obj, HOST_CONCISE,
                          lambda o: [[str(h.id), h.name, str(len(h.wwpns)), "4", "online"]
                                     for _, h in sorted(self.array.hosts.items())],
                          self._host_detail)

    def cmd_ls_hostvdiskmap(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        # Always a list: without a host, every host's mappings.
        options = list_options(opts)
        with self.array.lock:
            host = self._host_or_error(obj) if obj is not None else None
            rows = [[str(h.id), h.name, str(scsi), str(v.id), v.name, v.uid, "0", "io_grp0", "private", "", "",
                     "scsi"] for h, scsi, v in self.array.host_mappings(host)]
            return render_concise(HOSTVDISKMAP, rows, options)

    def cmd_mk_vdiskhostmap(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        if "host" not in opts:
            raise SvcError("CMMVC5707E")
        scsi = _int(opts["scsi"], 0, 4095) if "scsi" in opts else None
        used = self.array.map_volume(str(opts["host"]), str(obj), scsi, bool(opts.get("force")))
        return f"Virtual Disk to Host map, id [{used}], successfully created\n"

    def cmd_rm_vdiskhostmap(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        if "host" not in opts:
            raise SvcError("CMMVC5707E")
        self.array.unmap_volume(str(opts["host"]), str(obj))
        return ""

    # ---------------------------------------------------------------- FlashCopy listings

    @staticmethod
    def _group_ref(m: FcMap) -> Tuple[str, str]:
        return (str(m.group.id), m.group.name) if m.group is not None else ("", "")

    def _fcmap_row(self, m: FcMap) -> Row:
        gid, gname = self._group_ref(m)
        return [str(m.id), m.name, str(m.source.id), m.source.name, str(m.target.id), m.target.name, gid, gname,
                m.status, str(m.progress), str(m.copy_rate), "100", "on" if m.incremental else "off", "", "",
                "no", svc_time(m.start_time), "no"]

    def _fcmap_detail(self, key: str, o: ListOptions) -> List[Section]:
        m = self.array.fcmap(key)
        if m is None:
            raise not_found_for_listing()
        gid, gname = self._group_ref(m)
        return [[("id", str(m.id)), ("name", m.name), ("source_vdisk_id", str(m.source.id)),
                 ("source_vdisk_name", m.source.name), ("target_vdisk_id", str(m.target.id)),
                 ("target_vdisk_name", m.target.name), ("group_id", gid), ("group_name", gname),
                 ("status", m.status), ("progress", str(m.progress)), ("copy_rate", str(m.copy_rate)),
                 ("start_time", svc_time(m.start_time)), ("dependent_mappings", "0"),
                 ("autodelete", "on" if m.autodelete else "off"), ("clean_progress", "100"),
                 ("clean_rate", str(m.clean_rate)), ("incremental", "on" if m.incremental else "off"),
                 ("difference", "100"), ("grain_size", str(m.grain_size)), ("IO_group_id", "0"),
                 ("IO_group_name", "io_grp0"), ("partner_FC_id", ""), ("partner_FC_name", ""), ("restoring", "no"),
                 ("rc_controlled", "no"), ("keep_target", "yes" if m.keep_target else "no"), ("type", "generic"),
                 ("restore_progress", "0"), ("fc_controlled", "no"), ("owner_id", ""), ("owner_name", "")]]

    def cmd_ls_fcmap(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        return self._list(opts, obj, FCMAP_CONCISE,
                          lambda o: [self._fcmap_row(m) for _, m in sorted(self.array.fcmaps.items())],
                          self._fcmap_detail)

    def _group_concise(self, g: FcGroup) -> Row:
        values = {"id": str(g.id), "name": g.name, "status": g.status, "start_time": svc_time(g.start_time),
                  "autodelete": "on" if g.autodelete else "off", "owner_id": "", "owner_name": ""}
        return [values[column] for column in self.FCCONSISTGRP_CONCISE]

    def _group_detail(self, key: str, o: ListOptions) -> List[Section]:
        if o.filters:                              # documented to fail with an object
            raise SvcError("CMMVC5713E")
        g = self.array.group(key)
        if g is None:
            raise not_found_for_listing()
        section = [("id", str(g.id)), ("name", g.name), ("status", g.status),
                   ("autodelete", "on" if g.autodelete else "off"), ("start_time", svc_time(g.start_time)),
                   ("owner_id", ""), ("owner_name", "")]
        for m in g.maps:
            section += [("FC_mapping_id", str(m.id)), ("FC_mapping_name", m.name)]
        return [section]

    def cmd_ls_fcconsistgrp(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        return self._list(opts, obj, self.FCCONSISTGRP_CONCISE,
                          lambda o: [self._group_concise(g) for _, g in sorted(self.array.groups.items())],
                          self._group_detail)

    def cmd_ls_fcmapprogress(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        options = list_options(opts)
        with self.array.lock:
            m = self.array.fcmap(str(obj))
            if m is None:
                raise not_found_for_listing()
            return render_concise(FCMAPPROGRESS, [[str(m.id), str(m.progress)]], options)

    def cmd_ls_system(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        o = list_options(opts)
        a = self.array
        with a.lock:
            total = sum(v.capacity for v in a.volumes.values())
        return render_detailed([[("id", a.system_id), ("name", a.cluster), ("location", "local"),
                                 ("partnership", ""), ("total_vdisk_capacity", self._cap(o, total)),
                                 ("time_zone", "522 UTC"), ("code_level", a.code_level),
                                 ("console_IP", f"{self.bind}:443"), ("id_alias", a.system_id),
                                 ("product_name", a.PRODUCT_NAME)]], o)

    # ---------------------------------------------------------------- FlashCopy actions

    def cmd_mk_fcconsistgrp(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        name = opts.get("name")
        group = self.array.mkfcconsistgrp(str(name) if name is not None else None, bool(opts.get("autodelete")))
        return f"FlashCopy Consistency Group, id [{group.id}], successfully created\n"

    def cmd_mk_fcmap(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        if "source" not in opts or "target" not in opts:
            raise SvcError("CMMVC5707E")
        name, group = opts.get("name"), opts.get("consistgrp")
        m = self.array.mkfcmap(
            str(opts["source"]), str(opts["target"]), name=str(name) if name is not None else None,
            consistgrp=str(group) if group is not None else None,
            copyrate=_int(opts.get("copyrate", 50), 0, 150), autodelete=bool(opts.get("autodelete")),
            grainsize=_int(opts.get("grainsize", 256)), incremental=bool(opts.get("incremental")),
            cleanrate=_int(opts.get("cleanrate", 50), 0, 150), keeptarget=bool(opts.get("keeptarget")))
        return f"FlashCopy Mapping, id [{m.id}], successfully created\n"

    def cmd_ch_fcmap(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        if not opts:
            raise SvcError("CMMVC5707E")
        self.array.chfcmap(
            str(obj), name=str(opts["name"]) if "name" in opts else None,
            consistgrp=str(opts["consistgrp"]) if "consistgrp" in opts else None,
            copyrate=_int(opts["copyrate"], 0, 150) if "copyrate" in opts else None,
            autodelete=_on_off(opts["autodelete"]) if "autodelete" in opts else None,
            cleanrate=_int(opts["cleanrate"], 0, 150) if "cleanrate" in opts else None)
        return ""

    def cmd_prestart(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        getattr(self.array, verb)(str(obj), restore=bool(opts.get("restore")))
        return ""

    def cmd_start(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        getattr(self.array, verb)(str(obj), prep=bool(opts.get("prep")), restore=bool(opts.get("restore")))
        return ""

    def cmd_stop(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        getattr(self.array, verb)(str(obj), force=bool(opts.get("force")), split=bool(opts.get("split")))
        return ""

    def cmd_rm(self, verb: str, opts: Dict[str, object], obj: Optional[str]) -> str:
        getattr(self.array, verb)(str(obj), force=bool(opts.get("force")))
        return ""
