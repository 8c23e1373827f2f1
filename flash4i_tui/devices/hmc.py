"""HMC driver: partitions (lssyscfg, chsysstate, lsrefcode) and VIOS mappings (viosvrcmd), over SSH.

Every command line is built by one `describe_*` method from validated names, so `flash4i plan`
shows exactly what a run would send. Answers are parsed strictly: the default `attr=value`
format and the `-F` CSV format each have one parser; a line that does not parse, or lacks an
expected attribute, is a DeviceError naming the command and the text. A failing command is a
DeviceError carrying the HMC's HSCL message id (HMCs print it on stdout).
"""
from __future__ import annotations

import csv
import io
import re
import shlex
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Set, Tuple

from ..errors import DeviceError, StepTimeout, ValidationError
from ..names import hmc_name, vios_device
from .ssh import CommandResult, SshSession

NOT_ACTIVATED = "Not Activated"
STARTING = "Starting"
RUNNING = "Running"
SHUTTING_DOWN = "Shutting Down"
ERROR = "Error"
IPL_COMPLETE = "00000000"        # with Running: the IBM i IPL is complete (an inactive IBM i shows it too)

KEYLOCKS = ("norm", "manual")
IPL_SOURCES = ("a", "b", "c", "d")

LPAR_FIELDS = ("name", "lpar_id", "state", "lpar_env", "curr_profile", "default_profile")
REFCODE_ATTRS = frozenset(["lpar_name", "lpar_id", "time_stamp", "refcode", "fru_call_out_loc_codes"] +
                          [f"word{n}" for n in range(2, 10)])

_MSG_ID = re.compile(r"\bHSCL[0-9A-F]{4}\b")
_ATTR_NAME = re.compile(r"[a-z][a-z0-9_]*")
_NO_RESULTS = "No results were found."

ProgressFn = Callable[[str, str], None]


@dataclass(frozen=True)
class LparInfo:
    name: str
    id: int
    state: str
    env: str
    curr_profile: str
    default_profile: str


@dataclass(frozen=True)
class RefCode:
    code: str
    time: Optional[str]


@dataclass(frozen=True)
class Vtd:
    name: str
    status: str
    lun: str
    backing: str


@dataclass(frozen=True)
class Vhost:
    name: str
    physloc: str
    client_id: int
    vtds: Tuple[Vtd, ...]


@dataclass(frozen=True)
class HmcVersion:
    version: int
    release: str
    service_pack: str
    build_level: str


# ---------------------------------------------------------------- parsers

_VERSION_KEYS = {"Version": "version", "Release": "release", "Service Pack": "service_pack",
                 "Build level": "build_level", "HMC Build level": "build_level"}


def parse_lshmc_version(text: str) -> HmcVersion:
    """`lshmc -V` in either shape. V10: `Version: 10` / `Release: 3` / `Service Pack: 1060` /
    `Build level: 2408210051` lines. V9 and earlier: one default-format object whose quoted
    values span lines, `"version= Version: 8\n Release: 8.2.0\n Service Pack: 0\nHMC Build level
    20141006.3\n","base_version=V8R8.2.0\n"`. Raises ValueError for anything else."""
    body = text.strip()
    if body.startswith('"version='):
        try:
            items = next(csv.reader(io.StringIO(body), strict=True))
        except (csv.Error, StopIteration) as exc:
            raise ValueError(f"unbalanced quoting ({exc})") from None
        values = {name: value for name, _, value in (item.partition("=") for item in items)}
        if "version" not in values:
            raise ValueError("no version= item")
        body = values["version"]
    found: Dict[str, str] = {}
    for line in body.splitlines():
        line = line.strip()
        if not line:
            continue
        key = next((k for k in sorted(_VERSION_KEYS, key=len, reverse=True)
                    if line.startswith(k + ":") or line.startswith(k + " ")), None)
        if key is None:
            raise ValueError(f"unrecognised line {line!r}")
        found[_VERSION_KEYS[key]] = line[len(key):].lstrip(":").strip()
    if not found.get("version", "").isdigit() or "release" not in found:
        raise ValueError("no version and release")
    return HmcVersion(int(found["version"]), found["release"], found.get("service_pack", ""),
                      found.get("build_level", ""))



def parse_attr_line(line: str) -> Dict[str, str]:
    """One default-format line: `a=1,"b=x,y",c=` -> {"a": "1", "b": "x,y", "c": ""}.

    Raises ValueError for anything else (unbalanced quotes, an item without `=`, a bad or
    repeated attribute name)."""
    try:
        items = next(csv.reader([line], strict=True))
    except (csv.Error, StopIteration) as exc:
        raise ValueError(f"unbalanced quoting ({exc})") from None
    attrs: Dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not _ATTR_NAME.fullmatch(name):
            raise ValueError(f"{item!r} is not attr=value")
        if name in attrs:
            raise ValueError(f"attribute {name} appears twice")
        attrs[name] = value
    return attrs


def parse_csv_line(line: str, width: int) -> List[str]:
    """One -F line of exactly WIDTH values (a quoted value may hold commas)."""
    try:
        values = next(csv.reader([line], strict=True))
    except (csv.Error, StopIteration) as exc:
        raise ValueError(f"unbalanced quoting ({exc})") from None
    if len(values) != width:
        raise ValueError(f"expected {width} values, got {len(values)}")
    return values


def _lines(text: str) -> List[str]:
    return [line for line in text.splitlines() if line.strip()]


def _arg(value: str, what: str) -> str:
    """A validated HMC object name as one shell word (the HMC shell is bash)."""
    return shlex.quote(hmc_name(value, what))


def _system(system: str) -> str:
    return _arg(system, "managed system name")


def _lpar_filter(lpar_name: str) -> str:
    return shlex.quote("lpar_names=" + hmc_name(lpar_name, "partition name"))


# ---------------------------------------------------------------- the driver


class HmcDriver:
    """One HMC, reached through an SshSession (one transport per run)."""

    def __init__(self, session: SshSession, name: str, command_timeout: float = 60.0):
        self.session = session
        self.name = name
        self.command_timeout = command_timeout

    # ---------------------------------------------------------------- command lines (no device access)

    @staticmethod
    def describe_lpars(system: str, lpar_name: Optional[str] = None) -> str:
        line = f"lssyscfg -r lpar -m {_system(system)}"
        if lpar_name is not None:
            line += f" --filter {_lpar_filter(lpar_name)}"
        return line + " -F " + ",".join(LPAR_FIELDS)

    @staticmethod
    def describe_refcode(system: str, lpar_name: str) -> str:
        return f"lsrefcode -r lpar -m {_system(system)} --filter {_lpar_filter(lpar_name)}"

    @staticmethod
    def describe_activate(system: str, lpar_name: str, profile: str, keylock: str = "norm",
                          ipl_source: Optional[str] = None) -> str:
        if keylock not in KEYLOCKS:
            raise ValidationError(f"{keylock!r} is not a keylock position ({', '.join(KEYLOCKS)})")
        if ipl_source is not None and ipl_source not in IPL_SOURCES:
            raise ValidationError(f"{ipl_source!r} is not an IBM i IPL source ({', '.join(IPL_SOURCES)})")
        line = (f"chsysstate -m {_system(system)} -r lpar -o on -n {_arg(lpar_name, 'partition name')} "
                f"-f {_arg(profile, 'partition profile name')} -k {keylock}")
        return line + (f" -i {ipl_source}" if ipl_source else "")

    @staticmethod
    def describe_shutdown(system: str, lpar_name: str, immediate: bool = True, os_shutdown: bool = False,
                          restart: bool = False) -> str:
        line = (f"chsysstate -m {_system(system)} -r lpar -o {'osshutdown' if os_shutdown else 'shutdown'} "
                f"-n {_arg(lpar_name, 'partition name')}")
        return line + (" --immed" if immediate else "") + (" --restart" if restart else "")

    @staticmethod
    def describe_vios(system: str, vios: str, command: str) -> str:
        return f"viosvrcmd -m {_system(system)} -p {_arg(vios, 'VIOS partition name')} -c {shlex.quote(command)}"

    @staticmethod
    def describe_rmdev(hdisk: str, recursive: bool = True) -> str:
        return f"rmdev -dev {vios_device(hdisk, 'hdisk name')}" + (" -recursive" if recursive else "")

    @staticmethod
    def describe_mkvdev(hdisk: str, vhost: str, vtd_name: Optional[str] = None) -> str:
        line = f"mkvdev -vdev {vios_device(hdisk, 'hdisk name')} -vadapter {vios_device(vhost, 'vhost adapter')}"
        return line + (f" -dev {vios_device(vtd_name, 'virtual target device name')}" if vtd_name else "")

    @staticmethod
    def describe_unique_id(hdisk: str) -> str:
        return f"lsdev -dev {vios_device(hdisk, 'hdisk name')} -attr unique_id"

    @classmethod
    def describe_commands(cls, action: str, system: str, lpar_name: str, **options: object) -> List[str]:
        """The command lines one engine action sends, for `flash4i plan` (no device access).

        Actions: check, activate (profile, keylock, ipl_source), shutdown (immediate, os_shutdown,
        restart), wait (the polling pair), unmap_vios / map_vios (vios, hdisks, vhost)."""
        if action == "check":
            return [cls.describe_lpars(system, lpar_name), cls.describe_refcode(system, lpar_name)]
        if action == "activate":
            return [cls.describe_activate(system, lpar_name, str(options["profile"]),
                                          str(options.get("keylock", "norm")), options.get("ipl_source"))]
        if action == "shutdown":
            return [cls.describe_shutdown(system, lpar_name, bool(options.get("immediate", True)),
                                          bool(options.get("os_shutdown", False)), bool(options.get("restart", False)))]
        if action == "wait":
            return [cls.describe_lpars(system, lpar_name), cls.describe_refcode(system, lpar_name)]
        vios = str(options.get("vios", ""))
        hdisks = [str(h) for h in options.get("hdisks", ())]       # type: ignore[union-attr]
        if action == "unmap_vios":
            return [cls.describe_vios(system, vios, cls.describe_rmdev(h)) for h in hdisks]
        if action == "map_vios":
            vhost = str(options["vhost"])
            return [cls.describe_vios(system, vios, "cfgdev")] + \
                   [cls.describe_vios(system, vios, cls.describe_mkvdev(h, vhost)) for h in hdisks]
        raise ValidationError(f"unknown HMC action {action!r}")

    # ---------------------------------------------------------------- transport

    def _run(self, command: str, timeout: Optional[float] = None) -> str:
        result = self.session.run(command, timeout or self.command_timeout)
        if not result.ok:
            raise self._error(result)
        return result.stdout

    def _error(self, result: CommandResult) -> DeviceError:
        text = "\n".join(t.strip() for t in (result.stdout, result.stderr) if t.strip()) or \
            f"exit status {result.exit_status} without a message"
        match = _MSG_ID.search(text)
        return DeviceError(self.name, result.command, text, match.group(0) if match else None)

    def _bad(self, command: str, what: str, text: str) -> DeviceError:
        return DeviceError(self.name, command, f"unexpected answer ({what}): {text!r}")

    # ---------------------------------------------------------------- the HMC itself

    def version(self) -> HmcVersion:
        """The HMC's version (`lshmc -V`), read in the V10 and in the V9-and-earlier shape."""
        command = "lshmc -V"
        text = self._run(command)
        try:
            return parse_lshmc_version(text)
        except ValueError as exc:
            raise self._bad(command, str(exc), text) from None

    # ---------------------------------------------------------------- partitions

    def _lpar_rows(self, command: str, text: str) -> List[LparInfo]:
        if text.strip() == _NO_RESULTS:
            return []
        infos = []
        for line in _lines(text):
            try:
                name, lpar_id, state, env, curr, default = parse_csv_line(line, len(LPAR_FIELDS))
                infos.append(LparInfo(name, int(lpar_id), state, env, curr, default))
            except ValueError as exc:
                raise self._bad(command, str(exc), line) from None
        return infos

    def lpars(self, system: str) -> List[LparInfo]:
        command = self.describe_lpars(system)
        return self._lpar_rows(command, self._run(command))

    def lpar(self, system: str, lpar_name: str) -> LparInfo:
        command = self.describe_lpars(system, lpar_name)
        infos = [i for i in self._lpar_rows(command, self._run(command)) if i.name == lpar_name]
        if len(infos) != 1:
            raise self._bad(command, f"expected exactly one partition {lpar_name}", "")
        return infos[0]

    def refcode(self, system: str, lpar_name: str) -> RefCode:
        command = self.describe_refcode(system, lpar_name)
        text = self._run(command)
        lines = _lines(text)
        if len(lines) != 1:
            raise self._bad(command, "expected one line", text)
        try:
            attrs = parse_attr_line(lines[0])
        except ValueError as exc:
            raise self._bad(command, str(exc), lines[0]) from None
        unknown = set(attrs) - REFCODE_ATTRS
        missing = {"lpar_name", "refcode"} - set(attrs)
        if unknown or missing or attrs["lpar_name"] != lpar_name:
            what = f"unknown attributes {sorted(unknown)}" if unknown else \
                f"missing attributes {sorted(missing)}" if missing else f"not partition {lpar_name}"
            raise self._bad(command, what, lines[0])
        return RefCode(attrs["refcode"], attrs.get("time_stamp") or None)

    def activate(self, system: str, lpar_name: str, profile: str, keylock: str = "norm",
                 ipl_source: Optional[str] = None) -> None:
        self._run(self.describe_activate(system, lpar_name, profile, keylock, ipl_source))

    def shutdown(self, system: str, lpar_name: str, immediate: bool = True, os_shutdown: bool = False,
                 restart: bool = False) -> None:
        self._run(self.describe_shutdown(system, lpar_name, immediate, os_shutdown, restart))

    def _observe(self, system: str, lpar_name: str, on_progress: Optional[ProgressFn]) -> Tuple[LparInfo, RefCode]:
        info, ref = self.lpar(system, lpar_name), self.refcode(system, lpar_name)
        if on_progress is not None:
            on_progress(info.state, ref.code)
        return info, ref

    def wait_state(self, system: str, lpar_name: str, states: Set[str], timeout: float, poll: float,
                   on_progress: Optional[ProgressFn] = None) -> LparInfo:
        """Poll until the partition is in one of STATES; StepTimeout (last state, refcode) after TIMEOUT."""
        deadline = time.monotonic() + timeout
        while True:
            info, ref = self._observe(system, lpar_name, on_progress)
            if info.state in states:
                return info
            self._wait_or_timeout(deadline, poll, lpar_name, f"one of {', '.join(sorted(states))}", info, ref)

    def wait_ipl(self, system: str, lpar_name: str, timeout: float, poll: float,
                 on_progress: Optional[ProgressFn] = None) -> RefCode:
        """Poll until Running with reference code 00000000 (IPL complete).

        Shutting Down / Not Activated / Starting on the way are normal (the clone restarts itself
        during its first IPL); only Error, or the timeout, fail the wait."""
        deadline = time.monotonic() + timeout
        while True:
            info, ref = self._observe(system, lpar_name, on_progress)
            if info.state == RUNNING and ref.code == IPL_COMPLETE:
                return ref
            if info.state == ERROR:
                raise DeviceError(self.name, self.describe_lpars(system, lpar_name),
                                  f"partition {lpar_name} is in state Error at reference code {ref.code}", ref.code)
            self._wait_or_timeout(deadline, poll, lpar_name, "IPL complete (Running, 00000000)", info, ref)

    def _wait_or_timeout(self, deadline: float, poll: float, lpar_name: str, goal: str, info: LparInfo,
                         ref: RefCode) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise StepTimeout(f"{self.name}: partition {lpar_name} did not reach {goal} in time: "
                              f"last state {info.state}, reference code {ref.code or '(blank)'}")
        time.sleep(min(poll, left))

    # ---------------------------------------------------------------- VIOS

    def _vios(self, system: str, vios: str, ioscli: str, timeout: float = 120) -> Tuple[str, str]:
        """Run an ioscli command on a VIOS; returns (the HMC command line, its output)."""
        command = self.describe_vios(system, vios, ioscli)
        return command, self._run(command, timeout)

    def vios_command(self, system: str, vios: str, command: str, timeout: float = 120) -> str:
        return self._vios(system, vios, command, timeout)[1]

    def vios_lsmap(self, system: str, vios: str) -> List[Vhost]:
        command, text = self._vios(system, vios, "lsmap -all")
        return parse_lsmap(text, lambda what, line: self._bad(command, what, line))

    def vios_cfgdev(self, system: str, vios: str) -> None:
        self._vios(system, vios, "cfgdev")

    def vios_disks(self, system: str, vios: str) -> Dict[str, str]:
        """hdisk name -> ODM unique_id (it embeds the storage volume's uid)."""
        command, text = self._vios(system, vios, "lsdev -type disk")
        lines = _lines(text)
        if not lines or lines[0].split()[:2] != ["name", "status"]:
            raise self._bad(command, "no lsdev header", text)
        disks: Dict[str, str] = {}
        for line in lines[1:]:
            name = line.split()[0]
            try:
                vios_device(name)
            except ValidationError:
                raise self._bad(command, "not a device name", line) from None
            attr_command, answer = self._vios(system, vios, self.describe_unique_id(name))
            values = _lines(answer)
            if len(values) != 2 or values[0].strip() != "value" or len(values[1].split()) != 1:
                raise self._bad(attr_command, "not an attribute value", answer)
            disks[name] = values[1].strip()
        return disks

    def vios_rmdev(self, system: str, vios: str, hdisk: str, recursive: bool = True) -> None:
        command, text = self._vios(system, vios, self.describe_rmdev(hdisk, recursive))
        if f"{hdisk} deleted" not in [line.strip() for line in _lines(text)]:
            raise self._bad(command, f"no '{hdisk} deleted'", text)

    def vios_mkvdev(self, system: str, vios: str, hdisk: str, vhost: str, vtd_name: Optional[str] = None) -> str:
        command, text = self._vios(system, vios, self.describe_mkvdev(hdisk, vhost, vtd_name))
        match = re.fullmatch(r"(\S+) Available", text.strip())
        if match is None or (vtd_name and match.group(1) != vtd_name):
            raise self._bad(command, "no '<vtd> Available'", text)
        return match.group(1)


# ---------------------------------------------------------------- lsmap layout

_LSMAP_VHOST = re.compile(r"(\S+)\s+(\S+)\s+0x([0-9a-fA-F]+)")
_LSMAP_KEYS = {"VTD": "name", "Status": "status", "LUN": "lun", "Backing device": "backing"}
_LSMAP_IGNORED = ("Physloc", "Mirrored")        # per-VTD lines the driver does not need


def parse_lsmap(text: str, bad: Callable[[str, str], Exception]) -> List[Vhost]:
    """`lsmap -all`: per vhost a SVSA header, its row, then blocks of `VTD/Status/LUN/Backing device`."""
    vhosts: List[Vhost] = []
    current: Optional[Tuple[str, str, int]] = None
    vtds: List[Dict[str, str]] = []

    def close() -> None:
        if current is not None:
            built = []
            for vtd in vtds:
                if set(vtd) != set(_LSMAP_KEYS.values()):
                    raise bad(f"incomplete VTD block {sorted(vtd)}", text)
                built.append(Vtd(vtd["name"], vtd["status"], vtd["lun"], vtd["backing"]))
            vhosts.append(Vhost(current[0], current[1], current[2], tuple(built)))

    expect_row = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("---") or stripped == "NO VIRTUAL TARGET DEVICE FOUND":
            continue
        if stripped.startswith("SVSA") and "Client Partition ID" in stripped:
            close()
            current, vtds, expect_row = None, [], True
            continue
        if expect_row:
            match = _LSMAP_VHOST.fullmatch(stripped)
            if match is None:
                raise bad("not a vhost row", line)
            current, expect_row = (match.group(1), match.group(2), int(match.group(3), 16)), False
            continue
        key = next((k for k in _LSMAP_KEYS if stripped == k or stripped.startswith(k + " ")), None)
        if current is not None and key is not None:
            value = stripped[len(key):].strip()
            if key == "VTD":
                vtds.append({})
            elif not vtds:
                raise bad("attribute outside a VTD block", line)
            vtds[-1][_LSMAP_KEYS[key]] = value
            continue
        if current is not None and vtds and stripped.split()[0] in _LSMAP_IGNORED:
            continue
        raise bad("unrecognised lsmap line", line)
    close()
    return vhosts
