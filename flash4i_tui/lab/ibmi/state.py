"""What an IBM i keeps on its disk units: the state a FlashCopy copies.

`IbmiState` holds system values, network and IPL attributes, lines, interfaces and routes,
job schedule entries, subsystem descriptions, libraries and their objects, the IFS, BRMS data,
the history log QHST, spooled joblogs of ended jobs, user profiles, the SSH host key and how the
system last ended. It holds no runtime object: a running system attaches itself
(`attach()`), and that link is never copied.

`state.snapshot()` is what `world.capture` calls at a FlashCopy start; `install_systems()`
builds the states of the topology's `ibmi:` section and puts them on the array volumes.
"""
from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import posixpath
import time
import uuid
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import paramiko

DEFAULT_SYSTEM_VALUES: Dict[str, Any] = {
    "QSTRUPPGM": "QSYS/QSTRUP",      # kept as LIB/PGM; CL and SQL show the real 20-character form
    "QCTLSBSD": "QSYS/QCTL",
    "QIPLTYPE": "0",
    "QSRLNBR": "",
    "QUTCOFFSET": "+00:00",
    "QTIMZON": "Q0000UTC",
    "QENDJOBLMT": 120,
    "QPWRDWNLMT": 900,
    "QSYSLIBL": "QSYS QSYS2 QHLPSYS QUSRSYS",
    "QUSRLIBL": "QGPL QTEMP",
    "QMODEL": "",
    "QABNORMSW": "0",                # previous end of system: 0 normal, 1 abnormal (set at each IPL)
}
READ_ONLY_SYSTEM_VALUES = ("QSRLNBR", "QMODEL", "QUTCOFFSET", "QABNORMSW")

DEFAULT_IPL_ATTRIBUTES: Dict[str, str] = {
    "RESTART": "*SYS", "KEYLCKPOS": "*SAME", "STRRSTD": "*NO", "ENBAUTOCFG": "*NO",
    "SCANFSCTL": "*NO", "STRTCP": "*YES", "CLRJOBQ": "*NO", "CLROUTQ": "*NO",
    "CLRINCJOB": "*NO", "STRPRTWTR": "*YES", "MSTRCVRY": "*YES", "DSPSTS": "*SYS",
}

# Subsystems: name -> job queues it serves. The controlling subsystem is QCTL.
DEFAULT_SUBSYSTEMS: Dict[str, Tuple[str, ...]] = {
    "QCTL": ("QCTL",), "QBATCH": ("QBATCH",), "QINTER": ("QINTER",), "QCMN": (),
    "QSPL": ("QSPL",), "QSERVER": ("QSERVER",), "QUSRWRK": ("QUSRNOMAX",),
    "QSYSWRK": ("QSYSNOMAX",),
}
# Job descriptions: qualified name -> job queue (qualified).
DEFAULT_JOB_DESCRIPTIONS: Dict[str, str] = {
    "QGPL/QDFTJOBD": "QGPL/QBATCH", "QGPL/QBATCH": "QGPL/QBATCH", "QSYS/QCTL": "QSYS/QCTL",
    "QSYS/QSYSNOMAX": "QSYS/QSYSNOMAX", "QSYS/QPGMR": "QGPL/QBATCH", "QGPL/QINTER": "QGPL/QINTER",
}
SYSTEM_USERS = ("QSYS", "QPGMR", "QUSER", "QSECOFR", "QSYSOPR")
QHST_LIMIT = 50000            # QHST wraps into new log versions on a real system
ENDED_JOBS_LIMIT = 500        # spooled joblogs of ended jobs kept


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class LogMessage:
    """A message in QHST or in a job log. Immutable, so copies of the state share them."""

    at: datetime
    msg_id: str
    severity: int
    text: str
    msg_type: str = "INFORMATIONAL"     # COMMAND COMPLETION DIAGNOSTIC ESCAPE INFORMATIONAL REQUEST ...
    from_user: str = "QSYS"
    from_job: str = ""
    from_program: str = ""

    def __deepcopy__(self, memo: dict) -> "LogMessage":
        return self


@dataclass
class NetworkAttributes:
    sysname: str
    pending_sysname: Optional[str] = None     # CHGNETA SYSNAME: applies at the next IPL
    lclnetid: str = "APPN"
    lclcpname: str = ""
    lcllocname: str = ""


@dataclass
class Line:
    name: str
    kind: str = "*ELAN"


@dataclass
class Interface:
    address: str
    subnet_mask: str
    line: str
    autostart: bool = True
    alias: str = ""


@dataclass
class Route:
    destination: str          # *DFTROUTE or an address
    subnet_mask: str          # *NONE or a mask
    next_hop: str


@dataclass
class ScheduleEntry:
    number: int
    name: str
    frequency: str            # *ONCE *WEEKLY *MONTHLY
    time: str                 # HH:MM:SS
    command: str
    days: List[str] = field(default_factory=lambda: ["*NONE"])
    date: str = "*NONE"
    status: str = "SCD"       # SCD | HLD
    user: str = "QPGMR"
    recovery: str = "*SBMRLS"
    jobq: str = "QGPL/QBATCH"
    description: str = ""


@dataclass
class SubsystemDescription:
    name: str
    library: str = "QSYS"
    job_queues: Tuple[str, ...] = ()


@dataclass
class LibObject:
    name: str
    type: str                 # *FILE *DTAARA *SAVF *PGM ...
    attribute: str = ""       # PF, SAVF, CLLE, *CHAR ...
    records: int = 0          # *FILE: number of records
    value: str = ""           # *DTAARA
    length: int = 0           # *DTAARA *CHAR length
    data: bytes = b""         # *SAVF: the saved content (see encode_save)
    source: str = ""          # *PGM: the CL source it was compiled from (interpreted when called)
    size: int = 4096          # bytes
    text: str = ""

    @property
    def key(self) -> str:
        return object_key(self.name, self.type)


def object_key(name: str, obj_type: str) -> str:
    """How objects are keyed in a library: NAME.TYPE, as in /QSYS.LIB/LIB.LIB/NAME.TYPE."""
    return f"{name}.{obj_type.lstrip('*')}"


@dataclass
class Library:
    name: str
    size_mib: float = 1.0
    objects: Dict[str, LibObject] = field(default_factory=dict)
    text: str = ""
    kind: str = "*PROD"

    def get(self, name: str, obj_type: str) -> Optional[LibObject]:
        return self.objects.get(object_key(name, obj_type))

    def add(self, obj: LibObject) -> LibObject:
        self.objects[obj.key] = obj
        return obj

    @property
    def size_bytes(self) -> int:
        return int(self.size_mib * 1024 * 1024) + sum(o.size + len(o.data) for o in self.objects.values())


@dataclass
class BrmsHistoryEntry:
    at: datetime
    control_group: str
    item: str
    item_type: str            # *LIB *LNK *SYS
    system_name: str          # the BRMS system the save belongs to
    objects: int
    size_bytes: int
    volume: str
    job: str
    flashcopy: bool = False   # made while the system was in FlashCopy backup state (*STRBKU)


@dataclass
class BrmsData:
    """BRMS's own data (it lives in library QUSRBRM: saving/restoring QUSRBRM carries it)."""

    system_name: str                          # BRMS system name this data belongs to
    name_override: str = ""                   # Q1AOLD BRMSYSNAME *SET
    flashcopy_state: str = "*NONE"            # *NONE *STRPRC *STRBKU *ENDBKU *ENDPRC
    control_groups: Dict[str, List[str]] = field(default_factory=dict)
    history: List[BrmsHistoryEntry] = field(default_factory=list)
    allow_backups_in_batch: bool = True       # system policy "Allow backups in batch" [U: default]
    volume_serial: int = 1


@dataclass
class AdvancedJobScheduler:
    installed: bool = False
    monitor_enabled: bool = True              # ENDJS keeps it off until STRJS


@dataclass
class UserProfile:
    name: str
    special_authorities: Tuple[str, ...] = ("*ALLOBJ", "*JOBCTL", "*SAVSYS", "*IOSYSCFG", "*SECADM")
    home: str = ""
    jobd: str = "QGPL/QDFTJOBD"


@dataclass
class JobRecord:
    """A job as it is kept on disk once ended (its spooled joblog), or as a running job sees itself."""

    number: int
    user: str
    name: str
    job_type: str             # SYS SBS ASJ BCH BCI INT
    subsystem: str
    entered: datetime
    started: Optional[datetime] = None
    ended: Optional[datetime] = None
    status: str = "JOBQ"      # JOBQ ACTIVE OUTQ
    end_code: int = 0
    completion: str = ""      # NORMAL | ABNORMAL
    end_severity: int = 0
    jobq: str = ""
    jobd: str = ""
    submitter: str = ""
    joblog: List[LogMessage] = field(default_factory=list)
    spool: List[str] = field(default_factory=list)   # printed output (QSH stdout in batch, ...)

    @property
    def qualified(self) -> str:
        return f"{self.number:06d}/{self.user}/{self.name}"


@dataclass(frozen=True)
class SaveRecord:
    """One save the system made (SAVSYS, SAVLIB, SAVDLO, SAV, BRMS items)."""

    at: datetime
    command: str
    items: Tuple[str, ...]
    device: str
    objects: int
    size_bytes: int
    job: str
    restricted: bool

    def __deepcopy__(self, memo: dict) -> "SaveRecord":
        return self


@dataclass
class Workload:
    """How the applications use the system (topology options)."""

    write_rate_mib: float = 0.0               # MiB written per lab second while running
    open_transaction_seconds: float = 0.0     # longest commit cycle: CHGASPACT *SUSPEND waits for it


@dataclass
class Journal:
    """A journal and its attached receiver: the last sequence number advances with production's
    workload while it runs and stops while the ASP is suspended (topology `ibmi[].journals`)."""

    library: str
    name: str
    receiver: str = "RCV0001"
    sequence: int = 0                         # last sequence number of the attached receiver
    entries_per_second: float = 0.0           # lab seconds
    _fraction: float = 0.0

    @property
    def qualified(self) -> str:
        return f"{self.library}/{self.name}"

    def advance(self, lab_seconds: float) -> None:
        self._fraction += self.entries_per_second * lab_seconds
        whole = int(self._fraction)
        self.sequence += whole
        self._fraction -= whole


# ---------------------------------------------------------------- the IFS


@dataclass
class IfsNode:
    kind: str                 # file | dir
    data: bytes = b""
    mode: int = 0o644
    mtime: float = 0.0
    nominal_bytes: int = 0    # simulated data below a directory (counts in saves)


class IfsError(Exception):
    """errno-style error of the IFS (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY)."""

    def __init__(self, code: str, path: str):
        self.code, self.path = code, path
        super().__init__(f"{code}: {path}")


def normpath(path: str) -> str:
    if not path.startswith("/"):
        raise IfsError("EINVAL", path)
    norm = posixpath.normpath(path)
    return "/" if norm in ("/", "//") else norm


class Ifs:
    """The integrated file system below '/', except /QSYS.LIB (see runtime's file view)."""

    def __init__(self) -> None:
        self.nodes: Dict[str, IfsNode] = {"/": IfsNode("dir", mode=0o755, mtime=time.time())}

    def node(self, path: str) -> Optional[IfsNode]:
        return self.nodes.get(normpath(path))

    def exists(self, path: str) -> bool:
        return self.node(path) is not None

    def is_dir(self, path: str) -> bool:
        node = self.node(path)
        return node is not None and node.kind == "dir"

    def make_dirs(self, path: str, mode: int = 0o755, nominal_bytes: int = 0) -> None:
        path = normpath(path)
        parts = [p for p in path.split("/") if p]
        current = ""
        for part in parts:
            current += "/" + part
            node = self.nodes.get(current)
            if node is None:
                self.nodes[current] = IfsNode("dir", mode=mode, mtime=time.time())
            elif node.kind != "dir":
                raise IfsError("ENOTDIR", current)
        if nominal_bytes:
            self.nodes[path].nominal_bytes = nominal_bytes

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        path = normpath(path)
        if path in self.nodes:
            raise IfsError("EEXIST", path)
        self._parent_dir(path)
        self.nodes[path] = IfsNode("dir", mode=mode, mtime=time.time())

    def _parent_dir(self, path: str) -> IfsNode:
        parent = self.nodes.get(posixpath.dirname(path))
        if parent is None:
            raise IfsError("ENOENT", posixpath.dirname(path))
        if parent.kind != "dir":
            raise IfsError("ENOTDIR", posixpath.dirname(path))
        return parent

    def read(self, path: str) -> bytes:
        node = self.node(path)
        if node is None:
            raise IfsError("ENOENT", path)
        if node.kind == "dir":
            raise IfsError("EISDIR", path)
        return node.data

    def write(self, path: str, data: bytes, mode: Optional[int] = None, append: bool = False) -> None:
        path = normpath(path)
        node = self.nodes.get(path)
        if node is None:
            self._parent_dir(path)
            node = self.nodes[path] = IfsNode("file", mode=0o644 if mode is None else mode)
        elif node.kind == "dir":
            raise IfsError("EISDIR", path)
        node.data = (node.data + bytes(data)) if append else bytes(data)
        node.mtime = time.time()
        if mode is not None:
            node.mode = mode

    def remove(self, path: str) -> None:
        path = normpath(path)
        node = self.nodes.get(path)
        if node is None:
            raise IfsError("ENOENT", path)
        if node.kind == "dir":
            raise IfsError("EISDIR", path)
        del self.nodes[path]

    def rmdir(self, path: str) -> None:
        path = normpath(path)
        node = self.nodes.get(path)
        if node is None:
            raise IfsError("ENOENT", path)
        if node.kind != "dir":
            raise IfsError("ENOTDIR", path)
        if self.list_dir(path):
            raise IfsError("ENOTEMPTY", path)
        del self.nodes[path]

    def list_dir(self, path: str) -> List[str]:
        path = normpath(path)
        node = self.nodes.get(path)
        if node is None:
            raise IfsError("ENOENT", path)
        if node.kind != "dir":
            raise IfsError("ENOTDIR", path)
        prefix = path.rstrip("/") + "/"
        return sorted(p[len(prefix):] for p in self.nodes
                      if p.startswith(prefix) and p != path and "/" not in p[len(prefix):])

    def rename(self, old: str, new: str, overwrite: bool = True) -> None:
        old, new = normpath(old), normpath(new)
        if old not in self.nodes:
            raise IfsError("ENOENT", old)
        if new in self.nodes and not overwrite:
            raise IfsError("EEXIST", new)
        self._parent_dir(new)
        moved = {p: n for p, n in self.nodes.items() if p == old or p.startswith(old.rstrip("/") + "/")}
        for p in moved:
            del self.nodes[p]
        for p, n in moved.items():
            self.nodes[new + p[len(old):]] = n

    def walk(self, path: str) -> Iterator[Tuple[str, IfsNode]]:
        path = normpath(path)
        prefix = path.rstrip("/") + "/"
        for p, n in list(self.nodes.items()):
            if p == path or p.startswith(prefix):
                yield p, n

    def tree_size(self, path: str) -> Tuple[int, int]:
        """(objects, bytes) below PATH, nominal sizes included (what a SAV of it writes)."""
        objects = size = 0
        for _, node in self.walk(path):
            objects += 1
            size += len(node.data) + node.nominal_bytes
        return objects, size


# ---------------------------------------------------------------- the state


@dataclass
class IbmiState:
    network: NetworkAttributes
    release: str = "V7R5M0"
    system_values: Dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SYSTEM_VALUES))
    ipl_attributes: Dict[str, str] = field(default_factory=lambda: dict(DEFAULT_IPL_ATTRIBUTES))
    lines: Dict[str, Line] = field(default_factory=dict)
    interfaces: Dict[str, Interface] = field(default_factory=dict)   # by address
    routes: List[Route] = field(default_factory=list)
    tcp_servers: Dict[str, bool] = field(default_factory=lambda: {"*SSHD": True})   # server -> autostart
    schedule: List[ScheduleEntry] = field(default_factory=list)
    scheduler_held: bool = False              # HLDJOBSCDE JOB(*JOBSCD) (7.5)
    ajs: AdvancedJobScheduler = field(default_factory=AdvancedJobScheduler)
    subsystems: Dict[str, SubsystemDescription] = field(default_factory=dict)
    job_descriptions: Dict[str, str] = field(default_factory=lambda: dict(DEFAULT_JOB_DESCRIPTIONS))
    libraries: Dict[str, Library] = field(default_factory=dict)
    ifs: Ifs = field(default_factory=Ifs)
    brms: Optional[BrmsData] = None
    qhst: List[LogMessage] = field(default_factory=list)
    ended_jobs: Dict[str, JobRecord] = field(default_factory=dict)    # qualified name -> record
    users: Dict[str, UserProfile] = field(default_factory=dict)
    message_queues: Dict[str, List[LogMessage]] = field(default_factory=lambda: {"QSYSOPR": []})
    saves: List[SaveRecord] = field(default_factory=list)
    devices: List[str] = field(default_factory=lambda: ["TAP01", "TAPMLB01"])   # save devices
    ssh_host_key: str = ""                    # PEM; a copy keeps it (a clone has production's key)
    last_end: str = "clean"                   # clean | crash (and, in a copy, its consistency)
    # How a copy taken while *SYSBAS was suspended IPLs: normal, or abnormal (QABNORMSW 1), as the
    # reference expects of a suspend-based copy [U]. Topology `ibmi[].quiesced_copy_ipl`.
    quiesced_copy_ipl: str = "normal"
    next_job_number: int = 100001
    workload: Workload = field(default_factory=Workload)
    journals: Dict[str, Journal] = field(default_factory=dict)     # LIB/JRN -> journal
    _runtime: Any = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------ the running system

    def attach(self, runtime: Any) -> None:
        self._runtime = runtime

    def detach(self, runtime: Any) -> None:
        if self._runtime is runtime:
            self._runtime = None

    @property
    def runtime(self) -> Any:
        return self._runtime

    def __deepcopy__(self, memo: dict) -> "IbmiState":
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            setattr(clone, key, None if key == "_runtime" else copy.deepcopy(value, memo))
        return clone

    def snapshot(self) -> Tuple["IbmiState", str]:
        """A copy of what is on disk now, and how consistent it is (see world.CONSISTENCY)."""
        runtime = self._runtime
        lock = runtime.lock if runtime is not None else contextlib.nullcontext()
        with lock:
            consistency = runtime.consistency() if runtime is not None else self.last_end
            state = copy.deepcopy(self)
        state.last_end = consistency
        return state, consistency

    # ------------------------------------------------------------ helpers used everywhere

    @property
    def sysname(self) -> str:
        return self.network.sysname

    def library(self, name: str) -> Optional[Library]:
        return self.libraries.get(name)

    def log(self, message: LogMessage) -> None:
        self.qhst.append(message)
        if len(self.qhst) > QHST_LIMIT:
            del self.qhst[: len(self.qhst) - QHST_LIMIT]

    def keep_ended_job(self, record: JobRecord) -> None:
        self.ended_jobs[record.qualified] = record
        while len(self.ended_jobs) > ENDED_JOBS_LIMIT:
            del self.ended_jobs[next(iter(self.ended_jobs))]

    def take_job_number(self) -> int:
        number = self.next_job_number
        self.next_job_number = 100001 if number >= 999999 else number + 1
        return number

    def controlling_subsystem(self) -> str:
        return str(self.system_values.get("QCTLSBSD", "QSYS/QCTL")).split("/")[-1]


# ---------------------------------------------------------------- save files


SAVF_MAGIC = b"FLASH4I-LAB-SAVF 1\n"


def encode_save(libraries: List[Library], brms: Optional[BrmsData], saved_at: datetime, system: str) -> bytes:
    """The bytes of a save file holding LIBRARIES (and BRMS data when QUSRBRM is one of them)."""
    payload = {
        "saved_at": saved_at.isoformat(), "system": system,
        "libraries": [_library_to_json(lib) for lib in libraries],
        "brms": _brms_to_json(brms) if brms is not None else None,
    }
    return SAVF_MAGIC + zlib.compress(json.dumps(payload).encode())


@dataclass
class SavedContent:
    saved_at: datetime
    system: str
    libraries: List[Library]
    brms: Optional[BrmsData]


def decode_save(data: bytes) -> Optional[SavedContent]:
    """The content of a save file, or None when DATA is not a save (empty, foreign bytes)."""
    if not data.startswith(SAVF_MAGIC):
        return None
    try:
        payload = json.loads(zlib.decompress(data[len(SAVF_MAGIC):]).decode())
        return SavedContent(datetime.fromisoformat(payload["saved_at"]), payload["system"],
                            [_library_from_json(d) for d in payload["libraries"]],
                            _brms_from_json(payload["brms"]) if payload.get("brms") else None)
    except (ValueError, KeyError, TypeError, zlib.error):
        return None


def _library_to_json(lib: Library) -> dict:
    return {"name": lib.name, "size_mib": lib.size_mib, "text": lib.text, "kind": lib.kind,
            "objects": [dict(asdict(o), data=base64.b64encode(o.data).decode()) for o in lib.objects.values()]}


def _library_from_json(data: dict) -> Library:
    lib = Library(data["name"], data["size_mib"], text=data.get("text", ""), kind=data.get("kind", "*PROD"))
    for obj in data["objects"]:
        lib.add(LibObject(**dict(obj, data=base64.b64decode(obj["data"]))))
    return lib


def _brms_to_json(brms: BrmsData) -> dict:
    data = asdict(brms)
    data["history"] = [dict(h, at=h["at"].isoformat()) for h in data["history"]]
    return data


def _brms_from_json(data: dict) -> BrmsData:
    history = [BrmsHistoryEntry(**dict(h, at=datetime.fromisoformat(h["at"]))) for h in data["history"]]
    return BrmsData(**dict(data, history=history))


# ---------------------------------------------------------------- installation


def new_host_key() -> str:
    """A fresh SSH host key (PEM), made once when a system is installed."""
    key = paramiko.ECDSAKey.generate(bits=256)
    out = io.StringIO()
    key.write_private_key(out)
    return out.getvalue()


QUIESCED_COPY_IPLS = ("normal", "abnormal")


def build_state(spec: dict, now: Optional[datetime] = None, host_key: Optional[str] = None) -> IbmiState:
    """An installed IBM i from one entry of the topology's `ibmi:` section."""
    now = now or datetime.now(timezone.utc)
    name = str(spec["system_name"] if "system_name" in spec else spec["name"]).upper()
    state = IbmiState(network=NetworkAttributes(sysname=name, lclcpname=name, lcllocname=name),
                      release=str(spec.get("release", "V7R5M0")))
    state.system_values["QSRLNBR"] = str(spec.get("serial", ""))
    state.ipl_attributes["STRTCP"] = "*YES" if spec.get("strtcp", True) else "*NO"
    state.subsystems = {n: SubsystemDescription(n, "QSYS", q) for n, q in DEFAULT_SUBSYSTEMS.items()}
    state.workload = Workload(float(spec.get("write_rate_mib", 0) or 0),
                              float(spec.get("open_transaction_seconds", 0) or 0))
    state.ssh_host_key = host_key or new_host_key()
    state.quiesced_copy_ipl = str(spec.get("quiesced_copy_ipl", "normal"))
    if state.quiesced_copy_ipl not in QUIESCED_COPY_IPLS:
        raise ValueError(f"ibmi {name}: quiesced_copy_ipl {state.quiesced_copy_ipl!r} is not one of "
                         f"{', '.join(QUIESCED_COPY_IPLS)}")
    for user in list(SYSTEM_USERS) + [str(u).upper() for u in spec.get("users", [])]:
        state.users[user] = UserProfile(user, home=f"/home/{user}")
    for directory in ("/home", "/tmp", "/QOpenSys/pkgs/bin", "/QOpenSys/usr/bin", "/QIBM/UserData",
                      "/QSYS.LIB", "/QDLS"):
        state.ifs.make_dirs(directory)
    for user in state.users:
        state.ifs.make_dirs(f"/home/{user}")
    for iface in spec.get("interfaces", []):
        line = str(iface.get("line", "ETHLINE")).upper()
        state.lines.setdefault(line, Line(line))
        state.interfaces[str(iface["address"])] = Interface(
            str(iface["address"]), str(iface.get("subnet_mask", "255.255.255.0")), line,
            bool(iface.get("autostart", True)), str(iface.get("alias", "")))
    for lib_name in ("QSYS", "QSYS2", "QUSRSYS", "QGPL", "QTEMP", "QHLPSYS"):
        state.libraries[lib_name] = Library(lib_name, 64, kind="*PROD")
    for lib in spec.get("libraries", []):
        library = state.libraries[str(lib["name"]).upper()] = Library(str(lib["name"]).upper(),
                                                                      float(lib.get("size_mib", 1)))
        for obj in lib.get("objects", []) or []:
            library.add(_installed_object(obj))
    for jrn in spec.get("journals", []) or []:
        jrn_lib, _, jrn_name = str(jrn["name"]).upper().partition("/")
        journal = Journal(jrn_lib, jrn_name, str(jrn.get("receiver", "RCV0001")).upper(), int(jrn.get("sequence", 0)),
                          float(jrn.get("entries_per_second", 0) or 0))
        state.journals[journal.qualified] = journal
    for number, entry in enumerate(spec.get("job_schedule_entries", []), start=1):
        state.schedule.append(ScheduleEntry(
            number, str(entry["name"]).upper(), str(entry.get("frequency", "*WEEKLY")),
            str(entry.get("time", "00:00:00")), str(entry.get("command", "")),
            days=[str(d) for d in entry.get("days", ["*NONE"])], date=str(entry.get("date", "*NONE")),
            status="HLD" if entry.get("held") else "SCD"))
    state.ajs.installed = bool(spec.get("advanced_job_scheduler", False))
    if state.ajs.installed:
        state.libraries["QIJS"] = Library("QIJS", 32)
    brms = spec.get("brms")
    if brms is not None:
        state.brms = BrmsData(system_name=name, control_groups={
            str(group).upper(): [str(i) if str(i).startswith("/") else str(i).upper() for i in items]
            for group, items in (brms.get("control_groups") or {}).items()},
            allow_backups_in_batch=bool(brms.get("allow_backups_in_batch", True)))
        state.libraries["QBRM"] = Library("QBRM", 256)
        state.libraries["QUSRBRM"] = Library("QUSRBRM", 64)
        state.subsystems["Q1ABRMNET"] = SubsystemDescription("Q1ABRMNET", "QBRM", ("Q1ABRMNET",))
        for items in state.brms.control_groups.values():
            for item in items:
                if item.startswith("/"):        # directories a control group saves hold data
                    state.ifs.make_dirs(item, nominal_bytes=256 * 1024 * 1024)
    state.log(LogMessage(now - timedelta(days=1), "CPI0993", 0,
                         f"System {name} installed, release {state.release}."))
    return state


def _installed_object(obj: dict) -> LibObject:
    obj_type = str(obj.get("type", "*FILE")).upper()
    item = LibObject(str(obj["name"]).upper(), obj_type)
    if obj_type == "*FILE":
        item.attribute, item.records = "PF", int(obj.get("records", 0))
        item.size = 4096 + 128 * item.records
    elif obj_type == "*DTAARA":
        item.value = str(obj.get("value", ""))
        item.attribute, item.length = "*CHAR", int(obj.get("length", max(32, len(item.value))))
    elif obj_type == "*SAVF":
        item.attribute = "SAVF"
    return item


def install_systems(world: Any, ibmi_section: List[dict], key_dir: Optional[Path] = None) -> None:
    """Install each IBM i of the topology's `ibmi:` section on its array volumes.

    Every unit of a system shares one state; each `older_copies` volume set receives a snapshot,
    as if an earlier clone run had copied production onto it. With KEY_DIR, each system's SSH
    host key is kept there (ibmi_<NAME>.key) and reused on the next installation, so a
    known_hosts file written earlier stays valid.
    """
    from ...paths import write_private
    from ..world import DiskImage

    for spec in ibmi_section:
        array = world.arrays[spec["array"]]
        key = None
        if key_dir is not None:
            key_file = Path(key_dir) / f"ibmi_{str(spec['name']).upper()}.key"
            if key_file.exists():
                key = key_file.read_text()
            else:
                key = new_host_key()
                write_private(key_file, key)
        state = build_state(spec, world.clock.now(), key)
        with world.lock:       # the SSH fronts list these in the known_hosts file the lab writes
            world.ibmi_host_keys = getattr(world, "ibmi_host_keys", []) + [state.ssh_host_key]
        set_id = f"{str(spec['name']).upper()}-{uuid.uuid4().hex[:8]}"
        _place(array, spec["volumes"], set_id, state, "clean", None, DiskImage)
        for older in spec.get("older_copies", []) or []:
            copy_state, consistency = state.snapshot()
            _place(array, older, set_id, copy_state, consistency, world.clock.now() - timedelta(days=1), DiskImage)


def _place(array: Any, names: List[str], set_id: str, state: IbmiState, consistency: str,
           taken_at: Optional[datetime], image_class: Any) -> None:
    for unit, name in enumerate(names, start=1):
        volume = array.volume(name)
        if volume is None:
            raise ValueError(f"ibmi: volume {name} is not defined on array {getattr(array, 'name', array)}")
        volume.content = image_class(set_id, unit, len(names), state, consistency, taken_at)
