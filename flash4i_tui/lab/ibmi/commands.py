"""The CL commands of the simulated IBM i.

Each command is registered with its parameters (`cl.command`) and implemented on a `Ctx`
(the running system, the job, message sending). Commands send the completion messages the
real system sends and write to QHST where the real system does. Values that the reference
leaves unconfirmed are class-level tables below, marked [U].
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import cl
from .cl import Param as P, QualName, command
from .clprogram import CompileError, ProgramEscape, compile_program
from .files import SystemFiles
from .messages import ClEscape, Msg, command_error, escape, msg
from .runtime import MIB, Ctx, IbmiRuntime, Job, JobEnded, builtin_program
from .state import (BrmsHistoryEntry, IfsError, Interface, Library, LibObject, LogMessage, Route,
                    SaveRecord, decode_save, encode_save)

YES_NO = ("*YES", "*NO")
SAME = ("*SAME",)
SYSTEM_NAME = re.compile(r"[A-Z][A-Z0-9]{0,7}")


class Settings:
    """Spellings and defaults the reference does not confirm [U]: change them here."""

    # INZBRM OPTION(...) values that mean the FlashCopy function ('*FLASHCPY' is unconfirmed too).
    BRMS_FLASHCOPY_OPTIONS = ("*FLASHCOPY",)
    # INZBRM options that exist on a real system but are not simulated (answered honestly).
    BRMS_OTHER_OPTIONS = ("*DATA", "*DEVICE", "*CHGSYSNAM", "*MERGE", "*RESET", "*NETSYS", "*VERIFY", "*ALL")
    # FlashCopy state -> the states it may follow (BRMS refuses other transitions). The public
    # scripts go to *STRBKU on the clone without *STRPRC on production (peers.md §9.1), so a
    # clone may start its backups from *NONE or from the *ENDPRC of the previous cycle.
    BRMS_FLASHCOPY_TRANSITIONS: Dict[str, Tuple[str, ...]] = {
        "*STRPRC": ("*NONE", "*ENDPRC"),
        "*STRBKU": ("*STRPRC", "*NONE", "*ENDPRC"),
        "*ENDBKU": ("*STRBKU",),
        "*ENDPRC": ("*STRPRC", "*ENDBKU"),
    }
    # BRMS activity is stopped in these states (STRBKUBRM refuses to run).
    BRMS_STOPPED_STATES = ("*STRPRC", "*ENDBKU")
    # Items of a control group that need restricted state.
    BRMS_RESTRICTED_ITEMS = ("*SAVSYS", "*NONSYS", "*IBM")
    SAVSYS_BYTES = 12 * 1024 * MIB          # LIC, QSYS, profiles, configuration
    SAVDLO_BYTES = 512 * MIB
    # CHGASPACT defaults when SSPTIMO / SSPTIMOACN are not given.
    SSPTIMO_DEFAULT = 30
    SSPTIMO_RANGE = (1, 3600)
    SSPTIMOACN_DEFAULT = "*CONT"
    # How qualified system values (QSTRUPPGM, QCTLSBSD) are written in CHGSYSVAL VALUE('...') and shown
    # by SYSTEM_VALUE_INFO: the 10-character object name first, then the library.
    QUALIFIED_SYSVAL_OBJECT_FIRST = True
    SCHEDULE_STATUS_SQL = {"SCD": "SCHEDULED", "HLD": "HELD"}
    ENDSBS_CNTRLD_SECONDS = 10.0


QUALIFIED_SYSTEM_VALUES = ("QSTRUPPGM", "QCTLSBSD")


def display_system_value(name: str, value: Any) -> Any:
    """A system value as CL and SQL show it (qualified values as 20 characters)."""
    if name in QUALIFIED_SYSTEM_VALUES and isinstance(value, str) and "/" in value:
        lib, obj = value.split("/", 1)
        first, second = (obj, lib) if Settings.QUALIFIED_SYSVAL_OBJECT_FIRST else (lib, obj)
        return f"{first:<10}{second:<10}".rstrip()
    return value


def files(ctx: Ctx) -> SystemFiles:
    return SystemFiles(ctx.state)


def library_of(ctx: Ctx, qual: QualName, obj_type: str) -> Tuple[Library, Optional[LibObject]]:
    """The library holding QUAL (resolving *LIBL) and the object, or CPF9810 when the library is missing."""
    if qual.lib in ("*LIBL", "*CURLIB", "*USRLIBL"):
        for name in ctx.rt.library_list(ctx.job) + sorted(ctx.state.libraries):
            library = ctx.state.library(name)
            if library is not None and library.get(qual.obj, obj_type) is not None:
                return library, library.get(qual.obj, obj_type)
        return ctx.state.libraries["QGPL"], None
    library = ctx.state.library(qual.lib)
    if library is None:
        raise ctx.fail("CPF9810", lib=qual.lib)
    return library, library.get(qual.obj, obj_type)


# ================================================================ CHGASPACT


@command("CHGASPACT",
         P("ASPDEV", "name", ("*SYSBAS",), required=True),
         P("OPTION", "special", ("*SUSPEND", "*RESUME", "*FRCWRT"), required=True),
         P("SSPTIMO", "int", low=Settings.SSPTIMO_RANGE[0], high=Settings.SSPTIMO_RANGE[1]),
         P("SSPTIMOACN", "special", ("*CONT", "*END")),
         positional=2)
def chgaspact(ctx: Ctx, a: Dict[str, Any]) -> None:
    asp = a["ASPDEV"]
    if asp != "*SYSBAS":
        raise ctx.fail("CPFB71F", asp=asp)      # the lab has no independent ASPs
    option = a["OPTION"]
    if option == "*FRCWRT":
        ctx.rt.force_write(ctx.job)
    elif option == "*SUSPEND":
        timeout = a["SSPTIMO"] if a["SSPTIMO"] is not None else Settings.SSPTIMO_DEFAULT
        ctx.rt.suspend_asp(ctx, timeout, a["SSPTIMOACN"] or Settings.SSPTIMOACN_DEFAULT)
    elif not ctx.rt.resume_asp():
        raise ctx.fail("CPFB71A", asp=asp)
    ctx.comp("CPCB717", asp=asp, option=option)


# ================================================================ network attributes, system values, IPL attributes


@command("CHGNETA",
         P("SYSNAME", "name", SAME, default="*SAME"), P("LCLNETID", "name", SAME, default="*SAME"),
         P("LCLCPNAME", "name", SAME, default="*SAME"), P("LCLLOCNAME", "name", SAME, default="*SAME"),
         P("ALRSTS", "elems"), P("MSGQ", "elems"), P("DDMACC", "elems"))
def chgneta(ctx: Ctx, a: Dict[str, Any]) -> None:
    net = ctx.state.network
    name = a["SYSNAME"]
    if name != "*SAME":
        if not SYSTEM_NAME.fullmatch(name):
            raise command_error(msg("CPD0078", value=name, kw="SYSNAME"))
        net.pending_sysname = None if name == net.sysname else name
        if net.pending_sysname:
            ctx.info("CPI0994", name=name)
            ctx.qhst("CPI0994", name=name)
    for keyword, attribute in (("LCLNETID", "lclnetid"), ("LCLCPNAME", "lclcpname"), ("LCLLOCNAME", "lcllocname")):
        if a[keyword] != "*SAME":
            setattr(net, attribute, a[keyword])
    ctx.comp("CPC1A01")


@command("CHGSYSVAL", P("SYSVAL", "name", required=True), P("VALUE", "str", required=True, max_len=2000),
         positional=2)
def chgsysval(ctx: Ctx, a: Dict[str, Any]) -> None:
    name, text = a["SYSVAL"], a["VALUE"]
    values = ctx.state.system_values
    if name not in values:
        raise ctx.fail("CPF1028", sysval=name)
    if name in ("QSRLNBR", "QMODEL", "QUTCOFFSET"):
        raise ctx.fail("CPF1030", sysval=name)
    old = values[name]
    if name in QUALIFIED_SYSTEM_VALUES:
        new: Any = _qualified_sysval(ctx, name, text)
    elif isinstance(old, int):
        try:
            new = int(text)
        except ValueError:
            raise ctx.fail("CPF1854", value=text, sysval=name) from None
    else:
        new = text.strip()
    values[name] = new
    ctx.qhst("CPF1806", sysval=name, old=display_system_value(name, old), new=display_system_value(name, new))


def _qualified_sysval(ctx: Ctx, name: str, text: str) -> str:
    text = text.strip().upper()
    if text == "*NONE" and name == "QSTRUPPGM":
        return "*NONE"
    if "/" in text:
        lib, obj = text.split("/", 1)
    else:
        first, second = text[:10].strip(), text[10:].strip()
        obj, lib = (first, second) if Settings.QUALIFIED_SYSVAL_OBJECT_FIRST else (second, first)
    if not (cl.NAME.fullmatch(obj or "") and cl.NAME.fullmatch(lib or "")):
        raise ctx.fail("CPF1854", value=text, sysval=name)
    return f"{lib}/{obj}"


_IPLA = ("RESTART", "KEYLCKPOS", "STRRSTD", "ENBAUTOCFG", "SCANFSCTL", "STRTCP", "CLRJOBQ", "CLROUTQ",
         "CLRINCJOB", "STRPRTWTR", "MSTRCVRY", "DSPSTS")


@command("CHGIPLA", *[P(kw, "special", SAME + (("*SYS", "*FULL") if kw == "RESTART" else
                                                ("*SYS", "*ALL", "*NONE", "*USER") if kw == "DSPSTS" else
                                                ("*SAME", "*NORMAL", "*AUTO", "*MANUAL", "*SECURE")
                                                if kw == "KEYLCKPOS" else YES_NO), default="*SAME")
                      for kw in _IPLA])
def chgipla(ctx: Ctx, a: Dict[str, Any]) -> None:
    for keyword in _IPLA:
        if a[keyword] != "*SAME":
            ctx.state.ipl_attributes[keyword] = a[keyword]


# ================================================================ TCP/IP


def _mask(ctx: Ctx, value: str) -> str:
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{value}")
    except ValueError:
        raise command_error(msg("CPD0012", value=value, kw="SUBNETMASK")) from None
    return value


def _interface(ctx: Ctx, address: str) -> Interface:
    iface = ctx.state.interfaces.get(address)
    if iface is None:
        raise ctx.fail("TCP1D07", addr=address)
    return iface


@command("ADDTCPIFC", P("INTNETADR", "addr", required=True),
         P("LIND", "name", ("*VIRTUALIP", "*LOOPBACK", "*OPC"), required=True),
         P("SUBNETMASK", "str", ("*HOST",), required=True, max_len=15),
         P("ALIASNAME", "str", ("*NONE",), default="*NONE", max_len=63),
         P("AUTOSTART", "special", YES_NO, default="*YES"), P("LCLIFC", "elems"), P("TOS", "elems"),
         P("MTU", "elems"), positional=3)
def addtcpifc(ctx: Ctx, a: Dict[str, Any]) -> None:
    address, line = a["INTNETADR"], a["LIND"]
    if address in ctx.state.interfaces:
        raise ctx.fail("TCP1D08", addr=address)
    if not line.startswith("*") and line not in ctx.state.lines:
        raise ctx.fail("CPF2634", line=line)
    mask = "255.255.255.255" if a["SUBNETMASK"] == "*HOST" else _mask(ctx, a["SUBNETMASK"])
    ctx.state.interfaces[address] = Interface(address, mask, line, a["AUTOSTART"] == "*YES",
                                              "" if a["ALIASNAME"] == "*NONE" else a["ALIASNAME"])
    ctx.comp("TCP1D10", addr=address)


@command("CHGTCPIFC", P("INTNETADR", "addr", required=True),
         P("SUBNETMASK", "str", SAME, default="*SAME", max_len=15),
         P("ALIASNAME", "str", SAME + ("*NONE",), default="*SAME", max_len=63),
         P("AUTOSTART", "special", SAME + YES_NO, default="*SAME"), P("LCLIFC", "elems"), P("MTU", "elems"),
         positional=1)
def chgtcpifc(ctx: Ctx, a: Dict[str, Any]) -> None:
    iface = _interface(ctx, a["INTNETADR"])
    if a["SUBNETMASK"] != "*SAME":
        iface.subnet_mask = _mask(ctx, a["SUBNETMASK"])
    if a["ALIASNAME"] != "*SAME":
        iface.alias = "" if a["ALIASNAME"] == "*NONE" else a["ALIASNAME"]
    if a["AUTOSTART"] != "*SAME":
        iface.autostart = a["AUTOSTART"] == "*YES"
    ctx.comp("TCP1D12", addr=iface.address)


@command("RMVTCPIFC", P("INTNETADR", "addr", required=True), positional=1)
def rmvtcpifc(ctx: Ctx, a: Dict[str, Any]) -> None:
    address = _interface(ctx, a["INTNETADR"]).address
    if ctx.rt.interfaces.get(address) == "ACTIVE":
        raise ctx.fail("TCP1D09", addr=address)
    ctx.rt.interfaces.pop(address, None)
    del ctx.state.interfaces[address]
    ctx.comp("TCP1D11", addr=address)


@command("STRTCPIFC", P("INTNETADR", "addr", ("*AUTOSTART",), required=True), positional=1)
def strtcpifc(ctx: Ctx, a: Dict[str, Any]) -> None:
    if not ctx.rt.tcp_active:
        raise ctx.fail("TCP1A13")
    if a["INTNETADR"] == "*AUTOSTART":
        addresses = [i.address for i in ctx.state.interfaces.values() if i.autostart]
    else:
        addresses = [_interface(ctx, a["INTNETADR"]).address]
    for address in addresses:
        failure = ctx.rt.start_interface(address, ctx.job)
        if failure is not None:
            raise ClEscape(failure, tuple(m for m, t in ctx.sent if t == "DIAGNOSTIC"))
        ctx.comp("TCP1D03", addr=address)


@command("ENDTCPIFC", P("INTNETADR", "addr", required=True), positional=1)
def endtcpifc(ctx: Ctx, a: Dict[str, Any]) -> None:
    address = _interface(ctx, a["INTNETADR"]).address
    if ctx.rt.interfaces.get(address) is None:
        raise ctx.fail("TCP1D06", addr=address)
    ctx.rt.end_interface(address)
    ctx.comp("TCP1D04", addr=address)


@command("STRTCP", P("STRSVR", "special", YES_NO, default="*YES"), P("STRIFC", "special", YES_NO, default="*YES"),
         P("STRIP6", "special", YES_NO, default="*YES"))
def strtcp(ctx: Ctx, a: Dict[str, Any]) -> None:
    if ctx.rt.tcp_active:
        ctx.info("TCP1A12")
        return
    ctx.rt.start_tcp(ctx.job, interfaces=a["STRIFC"] == "*YES", servers=a["STRSVR"] == "*YES")
    ctx.comp("TCP1A1F")


@command("ENDTCP", P("OPTION", "special", ("*IMMED", "*CNTRLD"), default="*IMMED"),
         P("DELAY", "int", low=1, high=65535), P("ENDSVR", "special", YES_NO, default="*YES"))
def endtcp(ctx: Ctx, a: Dict[str, Any]) -> None:
    if not ctx.rt.tcp_active:
        ctx.info("TCP1A13")
        return
    ctx.comp("TCP1A77")
    ctx.rt.end_tcp(ctx.job)


_SERVERS = ("*SSHD", "*ALL", "*AUTOSTART", "*FTP", "*TELNET", "*HTTP", "*HOSTSVR", "*NETSVR", "*SMTP")


@command("STRTCPSVR", P("SERVER", "list", _SERVERS, item="special", max_items=32, default=["*AUTOSTART"]),
         P("INSTANCE", "elems"), positional=1)
def strtcpsvr(ctx: Ctx, a: Dict[str, Any]) -> None:
    if not ctx.rt.tcp_active:
        raise ctx.fail("TCP1A13")
    for server in a["SERVER"]:
        names = [s for s, auto in ctx.state.tcp_servers.items() if auto or server == "*ALL"] \
            if server in ("*ALL", "*AUTOSTART") else [server]
        for name in names:
            ctx.rt.servers.add(name)
            ctx.comp("TCP1A0A", server=name.lstrip("*"))


@command("ENDTCPSVR", P("SERVER", "list", _SERVERS, item="special", max_items=32, default=["*ALL"]),
         P("INSTANCE", "elems"), positional=1)
def endtcpsvr(ctx: Ctx, a: Dict[str, Any]) -> None:
    for server in a["SERVER"]:
        names = list(ctx.rt.servers) if server in ("*ALL", "*AUTOSTART") else [server]
        for name in names:
            ctx.rt.servers.discard(name)
            ctx.comp("TCP1A0B", server=name.lstrip("*"))
            if name == "*SSHD":
                ctx.rt.drop_ssh()


@command("ADDTCPRTE", P("RTEDEST", "str", ("*DFTROUTE", "*DFT6ROUTE"), required=True, max_len=45),
         P("SUBNETMASK", "str", ("*NONE", "*HOST"), required=True, max_len=15),
         P("TOS", "elems"), P("NEXTHOP", "addr", required=True), P("BINDIFC", "elems"), P("MTU", "elems"),
         positional=4)
def addtcprte(ctx: Ctx, a: Dict[str, Any]) -> None:
    route = Route(a["RTEDEST"], a["SUBNETMASK"], a["NEXTHOP"])
    if route in ctx.state.routes:
        raise ctx.fail("TCP1D14")
    ctx.state.routes.append(route)
    ctx.comp("TCP1D13")


# ================================================================ job schedule entries, Advanced Job Scheduler


def _schedule_entries(ctx: Ctx, job: str, number: Any) -> Optional[List[Any]]:
    """The entries HLDJOBSCDE/RLSJOBSCDE act on; None for JOB(*JOBSCD) (the whole scheduler)."""
    if job == "*JOBSCD":
        if ctx.state.release < "V7R5M0":
            raise command_error(msg("CPD0084", value="*JOBSCD", kw="JOB"))
        return None
    if job == "*ALL" and number != "*ALL":
        raise ctx.fail("CPF1637")
    entries = [e for e in ctx.state.schedule
               if job == "*ALL" or e.name == job or (job.endswith("*") and e.name.startswith(job[:-1]))]
    if isinstance(number, int):
        entries = [e for e in entries if e.number == number]
    elif number == "*ONLY" and len(entries) > 1:
        raise ctx.fail("CPF1628", name=job)
    if not entries:
        raise ctx.fail("CPF1629", name=job, number=number)
    return entries


_SCDE_PARAMS = (P("JOB", "generic", ("*ALL", "*JOBSCD"), required=True),
                P("ENTRYNBR", "int", ("*ONLY", "*ALL"), default="*ONLY", low=1, high=999999))


@command("HLDJOBSCDE", *_SCDE_PARAMS, positional=2)
def hldjobscde(ctx: Ctx, a: Dict[str, Any]) -> None:
    _set_schedule_status(ctx, a, "HLD", "CPC1239", "CPC1241")


@command("RLSJOBSCDE", *_SCDE_PARAMS, positional=2)
def rlsjobscde(ctx: Ctx, a: Dict[str, Any]) -> None:
    _set_schedule_status(ctx, a, "SCD", "CPC1240", "CPC1242")


def _set_schedule_status(ctx: Ctx, a: Dict[str, Any], status: str, done: str, scheduler_done: str) -> None:
    entries = _schedule_entries(ctx, a["JOB"], a["ENTRYNBR"])
    if entries is None:
        ctx.state.scheduler_held = status == "HLD"
        ctx.comp(scheduler_done)
        return
    for entry in entries:
        entry.status = status
        ctx.comp(done, name=entry.name, number=f"{entry.number:06d}")


@command("ENDJS", P("OPTION", "special", ("*MONITOR", "*ALL", "*ONLINE", "*RPTDSTID"), default="*MONITOR"),
         P("DTALIB", "name", ("*ALL",), default="*ALL"), P("ENDOPT", "elems"), library="QIJS", product="ajs")
def endjs(ctx: Ctx, a: Dict[str, Any]) -> None:
    ctx.state.ajs.monitor_enabled = False
    monitor = ctx.rt.ajs_monitor()
    if monitor is None:
        ctx.info("IJS0003")
        return
    ctx.rt.end_job(monitor)
    ctx.comp("IJS0001")


@command("STRJS", P("DTALIB", "name", ("*ALL",), default="*ALL"), library="QIJS", product="ajs")
def strjs(ctx: Ctx, a: Dict[str, Any]) -> None:
    ctx.state.ajs.monitor_enabled = True
    if "QSYSWRK" in ctx.rt.subsystems:
        ctx.rt.start_ajs_monitor()
    ctx.comp("IJS0002")


# ================================================================ jobs and subsystems


@command("SBMJOB", P("CMD", "cmd", required=True), P("JOB", "name", ("*JOBD",), default="*JOBD"),
         P("JOBD", "qual", ("*USRPRF",), default="*USRPRF"), P("JOBQ", "qual", ("*JOBD",), default="*JOBD"),
         P("USER", "name", ("*CURRENT", "*JOBD"), default="*CURRENT"), P("LOG", "elems"),
         P("LOGCLPGM", "elems"), P("INQMSGRPY", "elems"), P("JOBPTY", "elems"), P("OUTPTY", "elems"),
         P("SCDDATE", "elems"), P("SCDTIME", "elems"), P("HOLD", "elems"), P("CPYENVVAR", "elems"),
         positional=3)
def sbmjob(ctx: Ctx, a: Dict[str, Any]) -> None:
    command_text = a["CMD"]
    cl.analyse(command_text, None, ctx.rt.command_available)      # the command is checked when submitted
    user = ctx.job.user if a["USER"] in ("*CURRENT", "*JOBD") else a["USER"]
    profile = ctx.state.users.get(user)
    jobd = (profile.jobd if profile else "QGPL/QDFTJOBD") if a["JOBD"] == "*USRPRF" else _qualified_text(a["JOBD"], "QGPL")
    if jobd not in ctx.state.job_descriptions:
        lib, obj = jobd.split("/")
        raise escape("CPF1338", (msg("CPF9801", obj=obj, lib=lib),))
    jobq = ctx.state.job_descriptions[jobd] if a["JOBQ"] == "*JOBD" else _qualified_text(a["JOBQ"], "QGPL")
    if ctx.rt.jobq_subsystem(jobq) is None:
        lib, obj = jobq.split("/")
        raise escape("CPF1338", (msg("CPF9801", obj=obj, lib=lib),))
    name = jobd.split("/")[1] if a["JOB"] == "*JOBD" else a["JOB"]
    job = ctx.rt.submit(ctx.job, command_text, name, jobq, jobd, user)
    lib, obj = jobq.split("/")
    ctx.comp("CPC1221", job=job.qualified, jobq=obj, lib=lib)


# Where IBM ships the job queues and job descriptions a *LIBL name resolves to.
SHIPPED_LIBRARIES = {"QSYSNOMAX": "QSYS", "QCTL": "QSYS", "QUSRNOMAX": "QSYS", "QPGMR": "QSYS",
                     "Q1ABRMNET": "QBRM"}


def _qualified_text(qual: QualName, default_lib: str) -> str:
    lib = SHIPPED_LIBRARIES.get(qual.obj, default_lib) if qual.lib.startswith("*") else qual.lib
    return f"{lib}/{qual.obj}"


@command("STRSBS", P("SBSD", "qual", required=True), positional=1)
def strsbs(ctx: Ctx, a: Dict[str, Any]) -> None:
    ctx.rt.start_subsystem(a["SBSD"].obj, ctx.job)
    ctx.comp("CPC1202", sbs=a["SBSD"].obj)


@command("ENDSBS", P("SBS", "name", ("*ALL",), required=True),
         P("OPTION", "special", ("*CNTRLD", "*IMMED"), default="*CNTRLD"),
         P("DELAY", "int", ("*NOLIMIT",), default="*NOLIMIT", low=0, high=99999),
         P("ENDSBSOPT", "elems"), P("BCHTIMLMT", "elems"), positional=3)
def endsbs(ctx: Ctx, a: Dict[str, Any]) -> None:
    name, option = a["SBS"], a["OPTION"]
    if name != "*ALL" and name not in ctx.rt.subsystems:
        raise ctx.fail("CPF1054", sbs=name)
    if option == "*CNTRLD":
        delay = a["DELAY"]
        ctx.pause(Settings.ENDSBS_CNTRLD_SECONDS if delay == "*NOLIMIT" else min(delay, Settings.ENDSBS_CNTRLD_SECONDS))
    if name == "*ALL":
        ctx.comp("CPF1034", option=option.lstrip("*"))
        ctx.rt.end_all_subsystems(ctx.job, option)
    else:
        ctx.comp("CPC1206", sbs=name)
        ctx.rt.end_subsystem(name, ctx.job)
    ctx.rt.check(ctx.job)                   # the calling job may have been ended with its subsystem


@command("PWRDWNSYS", P("OPTION", "special", ("*CNTRLD", "*IMMED"), default="*CNTRLD"),
         P("DELAY", "int", ("*NOLIMIT",), default=3600, low=1, high=99999),
         P("RESTART", "elems", default=("*NO",)), P("IPLSRC", "elems"), P("ENDSBSOPT", "elems"),
         P("TIMOUTOPT", "elems"), P("CONFIRM", "special", ("*ENVVAR", "*INTERACT", "*NO"), default="*ENVVAR"),
         positional=2)
def pwrdwnsys(ctx: Ctx, a: Dict[str, Any]) -> None:
    restart = tuple(str(v) for v in a["RESTART"])
    if not restart or restart[0] not in YES_NO:
        raise command_error(msg("CPD0084", value=" ".join(restart), kw="RESTART"))
    ctx.rt.power_down(ctx.job, a["OPTION"], restart[0] == "*YES")
    raise JobEnded(ctx.job.qualified)       # the system is going down: this job does not return


@command("DLYJOB", P("DLY", "int", required=True, low=0, high=999999), P("RSMTIME", "elems"), positional=1)
def dlyjob(ctx: Ctx, a: Dict[str, Any]) -> None:
    ctx.pause(a["DLY"])


@command("CHGJOB", P("JOB", "elems"), P("JOBPTY", "elems"), P("OUTPTY", "elems"), P("RUNPTY", "elems"),
         P("LOG", "elems"), P("LOGCLPGM", "elems"), P("INQMSGRPY", "elems"), P("JOBQ", "elems"),
         P("CCSID", "elems"), P("DATFMT", "elems"), P("TIMESLICE", "elems"), positional=1)
def chgjob(ctx: Ctx, a: Dict[str, Any]) -> None:
    return                                  # accepted; nothing the lab models depends on it


@command("ADDENVVAR", P("ENVVAR", "str", required=True, max_len=128), P("VALUE", "str", ("*NULL",), default="*NULL",
                                                                        max_len=4096),
         P("CCSID", "elems"), P("LEVEL", "special", ("*JOB", "*SYS"), default="*JOB"),
         P("REPLACE", "special", YES_NO, default="*NO"), positional=2)
def addenvvar(ctx: Ctx, a: Dict[str, Any]) -> None:
    ctx.job.env[a["ENVVAR"]] = "" if a["VALUE"] == "*NULL" else a["VALUE"]


# ================================================================ messages


@command("SNDMSG", P("MSG", "str", required=True, max_len=512),
         P("TOUSR", "name", ("*SYSOPR", "*ALLACT", "*REQUESTER"), default=None),
         P("TOMSGQ", "list", item="qual", max_items=50), P("MSGTYPE", "special", ("*INFO", "*INQ"), default="*INFO"),
         P("RPYMSGQ", "elems"), P("CCSID", "elems"), positional=2)
def sndmsg(ctx: Ctx, a: Dict[str, Any]) -> None:
    queues: List[str] = []
    if a["TOUSR"] is not None:
        user = a["TOUSR"]
        if user in ("*SYSOPR", "*REQUESTER"):
            queues.append("QSYSOPR")
        elif user == "*ALLACT":
            queues.extend(sorted({j.user for j in ctx.rt.jobs.values() if j.rec.job_type == "INT"}) or ["QSYSOPR"])
        elif user not in ctx.state.users:
            raise ctx.fail("CPF2204", user=user)
        else:
            queues.append(user)
    for qual in a["TOMSGQ"] or []:
        queues.append(qual.obj)
    if not queues:
        raise command_error(msg("CPD0071", kw="TOUSR"))
    for queue in queues:
        message = LogMessage(ctx.now, "", 0, a["MSG"], "INFORMATIONAL", ctx.job.user, ctx.job.qualified)
        if queue == "QHST":
            ctx.state.log(message)          # the QHST message queue is the history log
        else:
            ctx.state.message_queues.setdefault(queue, []).append(message)


@command("SNDPGMMSG", P("MSG", "str", max_len=3000), P("MSGID", "name"), P("MSGF", "qual"),
         P("MSGDTA", "str", ("*NONE",), default="*NONE", max_len=3000), P("TOPGMQ", "elems"),
         P("TOMSGQ", "qual", ("*TOPGMQ", "*SYSOPR"), default="*TOPGMQ"),
         P("MSGTYPE", "special", ("*INFO", "*INQ", "*COMP", "*DIAG", "*NOTIFY", "*ESCAPE", "*RQS", "*STATUS"),
           default="*INFO"),
         P("RPYMSGQ", "elems"), P("KEYVAR", "var"), positional=1, where="program")
def sndpgmmsg(ctx: Ctx, a: Dict[str, Any]) -> None:
    text = a["MSG"] if a["MSG"] is not None else ("" if a["MSGDTA"] == "*NONE" else a["MSGDTA"])
    msg_id = a["MSGID"] or ""
    if msg_id == "CPF9898" and not text.endswith("."):
        text += "."
    kind = a["MSGTYPE"]
    message = Msg(msg_id, 40 if kind == "*ESCAPE" else 0, text)
    if a["TOMSGQ"] == "*SYSOPR":
        ctx.state.message_queues["QSYSOPR"].append(LogMessage(ctx.now, msg_id, 0, text, "INFORMATIONAL",
                                                               ctx.job.user, ctx.job.qualified))
        return
    if kind == "*ESCAPE":
        raise ProgramEscape(message)
    ctx.send(message, {"*COMP": "COMPLETION", "*DIAG": "DIAGNOSTIC"}.get(kind, "INFORMATIONAL"))


# ================================================================ libraries and objects


@command("CRTLIB", P("LIB", "name", required=True), P("TYPE", "special", ("*PROD", "*TEST"), default="*PROD"),
         P("TEXT", "str", ("*BLANK",), default="*BLANK", max_len=50), P("ASP", "elems"), P("AUT", "elems"),
         positional=2, db_change=True)
def crtlib(ctx: Ctx, a: Dict[str, Any]) -> None:
    name = a["LIB"]
    if name in ctx.state.libraries:
        raise ctx.fail("CPF2111", lib=name)
    ctx.state.libraries[name] = Library(name, 0.1, text="" if a["TEXT"] == "*BLANK" else a["TEXT"], kind=a["TYPE"])
    ctx.comp("CPC2102", lib=name)


@command("DLTLIB", P("LIB", "name", required=True), P("ASPDEV", "elems"), positional=1, db_change=True)
def dltlib(ctx: Ctx, a: Dict[str, Any]) -> None:
    name = a["LIB"]
    if name not in ctx.state.libraries:
        raise ctx.fail("CPF2110", lib=name)
    del ctx.state.libraries[name]
    ctx.comp("CPC2194", lib=name)


@command("CRTDTAARA", P("DTAARA", "qual", required=True),
         P("TYPE", "special", ("*CHAR", "*DEC", "*LGL"), required=True), P("LEN", "elems"),
         P("VALUE", "str", max_len=2000), P("TEXT", "str", ("*BLANK",), default="*BLANK", max_len=50),
         P("AUT", "elems"), positional=4, db_change=True)
def crtdtaara(ctx: Ctx, a: Dict[str, Any]) -> None:
    qual = a["DTAARA"]
    library, existing = library_of(ctx, qual, "*DTAARA")
    if existing is not None:
        raise ctx.fail("CPF1023", obj=qual.obj, lib=library.name)
    length = int(a["LEN"][0]) if a["LEN"] else (32 if a["TYPE"] == "*CHAR" else 15)
    value = a["VALUE"] or ""
    if len(value) > length:
        raise ctx.fail("CPF1063", obj=qual.obj, lib=library.name, max=length)
    library.add(LibObject(qual.obj, "*DTAARA", a["TYPE"], value=value, length=length))
    ctx.comp("CPC0904", obj=qual.obj, lib=library.name)


def _data_area(ctx: Ctx, spec: Sequence[Any]) -> Tuple[LibObject, Library, int, int]:
    """DTAARA(LIB/NAME [*ALL | (start length)]) -> (object, library, start, length)."""
    if not spec:
        raise command_error(msg("CPD0071", kw="DTAARA"))
    qual = cl.split_qualified(str(spec[0]))
    library, obj = library_of(ctx, qual, "*DTAARA")
    if obj is None:
        raise ctx.fail("CPF1015", obj=qual.obj, lib=library.name)
    start, length = 1, max(obj.length, len(obj.value))
    if len(spec) > 1 and isinstance(spec[1], tuple):
        start, length = int(spec[1][0]), int(spec[1][1])
    elif len(spec) > 2:
        start, length = int(spec[1]), int(spec[2])
    return obj, library, start, length


@command("CHGDTAARA", P("DTAARA", "elems", required=True), P("VALUE", "str", required=True, max_len=2000),
         positional=2, db_change=True)
def chgdtaara(ctx: Ctx, a: Dict[str, Any]) -> None:
    obj, library, start, length = _data_area(ctx, a["DTAARA"])
    value = a["VALUE"]
    if start == 1 and length >= obj.length:
        if len(value) > obj.length:
            raise ctx.fail("CPF1063", obj=obj.name, lib=library.name, max=obj.length)
        obj.value = value
        return
    current = obj.value.ljust(obj.length)
    piece = value[:length].ljust(length)
    obj.value = (current[:start - 1] + piece + current[start - 1 + length:]).rstrip()


@command("RTVDTAARA", P("DTAARA", "elems", required=True), P("RTNVAR", "var", required=True), positional=2,
         where="program")
def rtvdtaara(ctx: Ctx, a: Dict[str, Any]) -> None:
    obj, _, start, length = _data_area(ctx, a["DTAARA"])
    ctx.returns["RTNVAR"] = obj.value.ljust(obj.length)[start - 1:start - 1 + length]


@command("RTVSYSVAL", P("SYSVAL", "name", required=True), P("RTNVAR", "var", required=True), positional=2,
         where="program")
def rtvsysval(ctx: Ctx, a: Dict[str, Any]) -> None:
    name = a["SYSVAL"]
    if name not in ctx.state.system_values:
        raise ctx.fail("CPF1028", sysval=name)
    value = ctx.rt.serial if name == "QSRLNBR" else ctx.state.system_values[name]
    ctx.returns["RTNVAR"] = display_system_value(name, value)


@command("RTVNETA", P("SYSNAME", "var"), P("PNDSYSNAME", "var"), P("LCLNETID", "var"), P("LCLCPNAME", "var"),
         P("LCLLOCNAME", "var"), where="program")
def rtvneta(ctx: Ctx, a: Dict[str, Any]) -> None:
    net = ctx.state.network
    values = {"SYSNAME": net.sysname, "PNDSYSNAME": net.pending_sysname or "", "LCLNETID": net.lclnetid,
              "LCLCPNAME": net.lclcpname, "LCLLOCNAME": net.lcllocname}
    for keyword, value in values.items():
        if a[keyword]:
            ctx.returns[keyword] = value


@command("CLRPFM", P("FILE", "qual", required=True), P("MBR", "name", ("*FIRST", "*LAST"), default="*FIRST"),
         positional=2, db_change=True)
def clrpfm(ctx: Ctx, a: Dict[str, Any]) -> None:
    qual = a["FILE"]
    library, obj = library_of(ctx, qual, "*FILE")
    if obj is None:
        raise ctx.fail("CPF3142", file=qual.obj, lib=library.name)
    obj.records = 0
    obj.size = 4096
    member = qual.obj if a["MBR"] in ("*FIRST", "*LAST") else a["MBR"]
    ctx.comp("CPC3101", mbr=member, file=qual.obj, lib=library.name)


_OBJECT_TYPES = ("*LIB", "*FILE", "*DTAARA", "*PGM", "*CMD", "*SBSD", "*JOBD", "*JOBQ", "*USRPRF", "*DEVD",
                 "*LIND", "*MSGQ", "*SRVPGM", "*DTAQ", "*OUTQ")


@command("CHKOBJ", P("OBJ", "qual", required=True), P("OBJTYPE", "special", _OBJECT_TYPES, required=True),
         P("MBR", "elems"), P("AUT", "elems"), positional=2)
def chkobj(ctx: Ctx, a: Dict[str, Any]) -> None:
    qual, obj_type = a["OBJ"], a["OBJTYPE"]
    state = ctx.state
    if obj_type == "*LIB":
        if qual.obj not in state.libraries:
            raise ctx.fail("CPF9801", obj=qual.obj, lib="QSYS" if qual.lib.startswith("*") else qual.lib)
        return
    found = {"*SBSD": qual.obj in state.subsystems, "*USRPRF": qual.obj in state.users,
             "*LIND": qual.obj in state.lines, "*DEVD": qual.obj in state.devices,
             "*JOBD": any(j.endswith("/" + qual.obj) for j in state.job_descriptions),
             "*MSGQ": qual.obj in state.message_queues}.get(obj_type)
    if found is not None:
        if not found:
            raise ctx.fail("CPF9801", obj=qual.obj, lib=qual.lib)
        return
    if obj_type == "*CMD" and qual.obj in cl.COMMANDS and ctx.rt.command_available(cl.COMMANDS[qual.obj]):
        return
    library, obj = library_of(ctx, qual, obj_type)
    if obj is None and obj_type == "*FILE":
        obj = library.get(qual.obj, "*SAVF")
    if obj is None:
        raise ctx.fail("CPF9801", obj=qual.obj, lib=library.name if not qual.lib.startswith("*") else qual.lib)


@command("CRTBNDCL", P("PGM", "qual", required=True), P("SRCFILE", "qual"), P("SRCMBR", "elems"),
         P("SRCSTMF", "path", max_len=5000), P("TEXT", "str", ("*SRCMBRTXT", "*BLANK"), max_len=50),
         P("REPLACE", "special", YES_NO, default="*YES"), P("DFTACTGRP", "elems"), P("ACTGRP", "elems"),
         P("OUTPUT", "elems"), P("LOG", "elems"), P("TGTRLS", "elems"), positional=3)
def crtbndcl(ctx: Ctx, a: Dict[str, Any]) -> None:
    qual = a["PGM"]
    lib_name = "QGPL" if qual.lib.startswith("*") else qual.lib
    library = ctx.state.library(lib_name)
    if library is None:
        raise ctx.fail("CPF9810", lib=lib_name)
    if a["SRCSTMF"] is None:
        raise ctx.fail("LAB0001", what="CRTBNDCL from a source physical file (use SRCSTMF)")
    try:
        source = files(ctx).read(a["SRCSTMF"]).decode("utf-8", errors="replace")
    except IfsError:
        ctx.diag("CPFA0A9", path=a["SRCSTMF"])
        raise ctx.fail("CPF0C33", pgm=qual.obj, lib=lib_name, reason="source stream file not found.")
    if library.get(qual.obj, "*PGM") is not None and a["REPLACE"] == "*NO":
        raise ctx.fail("CPF0C33", pgm=qual.obj, lib=lib_name, reason="program exists and REPLACE(*NO).")
    try:
        compile_program(source, f"{lib_name}/{qual.obj}")
    except CompileError as exc:
        raise ctx.fail("CPF0C33", pgm=qual.obj, lib=lib_name, reason=str(exc))
    library.add(LibObject(qual.obj, "*PGM", "CLLE", source=source, size=len(source) * 4 + 8192))
    ctx.comp("CPC5D07", pgm=qual.obj, lib=lib_name)


@command("CALL", P("PGM", "qual", required=True), P("PARM", "any", default=[]), positional=2)
def call(ctx: Ctx, a: Dict[str, Any]) -> None:
    parms = [n.raw if isinstance(n, cl.Group) else str(n) for n in a["PARM"] or []]
    ctx.rt.call_program(ctx.job, a["PGM"].lib, a["PGM"].obj, parms)


@command("QSH", P("CMD", "str", ("*NONE",), default="*NONE", max_len=5000), positional=1)
def qsh(ctx: Ctx, a: Dict[str, Any]) -> None:
    from .pase import run_line
    if a["CMD"] == "*NONE":
        raise ctx.fail("LAB0001", what="an interactive QSH session")
    out, err, status = run_line(ctx.rt, ctx.job, a["CMD"], qshell=True)
    lines = [line for line in (out + err).splitlines()]
    ctx.output.extend(lines)
    ctx.job.rec.spool.extend(lines)
    if status != 0 and ctx.job.env.get("QIBM_QSH_CMD_ESCAPE_MSG", "").upper() == "Y":
        raise ctx.fail("QSH0005", status=status)
    ctx.comp("QSH0005", status=status)


# ================================================================ saves and restores


def _device(ctx: Ctx, device: str) -> str:
    name = device.rsplit("/", 1)[-1].upper()
    if name.endswith(".DEVD"):
        name = name[:-5]
    if name != "*SAVF" and name not in ctx.state.devices:
        raise ctx.fail("CPF9814", dev=name)
    return name


def _save_file(ctx: Ctx, qual: Optional[QualName]) -> LibObject:
    if qual is None:
        raise command_error(msg("CPD0071", kw="SAVF"))
    library, obj = library_of(ctx, qual, "*SAVF")
    if obj is None:
        raise ctx.fail("CPF9801", obj=qual.obj, lib=library.name)
    return obj


def _require_restricted(ctx: Ctx) -> None:
    if not ctx.rt.restricted or ctx.rt.subsystems:
        raise ctx.fail("CPF3785")


def _record_save(ctx: Ctx, command_name: str, items: Sequence[str], device: str, objects: int, size: int) -> None:
    ctx.pause(size / MIB / ctx.rt.SAVE_MIB_PER_SECOND)
    ctx.state.saves.append(SaveRecord(ctx.now, command_name, tuple(items), device, objects, size,
                                      ctx.job.qualified, ctx.rt.restricted))


@command("SAVSYS", P("DEV", "elems", required=True), P("VOL", "elems"), P("ENDOPT", "elems"), P("CLEAR", "elems"),
         P("OMIT", "elems"), P("DTACPR", "elems"), positional=1)
def savsys(ctx: Ctx, a: Dict[str, Any]) -> None:
    device = _device(ctx, str(a["DEV"][0]))
    _require_restricted(ctx)
    objects = 20000 + 10 * len(ctx.state.users)
    _record_save(ctx, "SAVSYS", ("*SAVSYS",), device, objects, Settings.SAVSYS_BYTES)
    ctx.comp("CPC3701", count=objects)


_LIBRARY_GROUPS = ("*NONSYS", "*ALLUSR", "*IBM")


def _libraries_for(ctx: Ctx, names: Sequence[str]) -> List[Library]:
    state = ctx.state
    chosen: List[Library] = []
    for name in names:
        if name in _LIBRARY_GROUPS:
            ibm = [lib for lib in state.libraries.values() if lib.name.startswith("Q") and lib.name not in ("QGPL", "QUSRSYS")]
            user = [lib for lib in state.libraries.values() if lib not in ibm]
            chosen.extend({"*NONSYS": ibm + user, "*ALLUSR": user, "*IBM": ibm}[name])
        elif name not in state.libraries:
            raise ctx.fail("CPF3781", lib=name)
        else:
            chosen.append(state.libraries[name])
    return [lib for lib in chosen if lib.name not in ("QSYS", "QTEMP")]


@command("SAVLIB", P("LIB", "list", _LIBRARY_GROUPS, item="generic", max_items=300, required=True),
         P("DEV", "elems", required=True), P("SAVF", "qual"), P("VOL", "elems"), P("OMITOBJ", "elems"),
         P("OMITLIB", "elems"), P("ACCPTH", "elems"), P("CLEAR", "special", ("*NONE", "*ALL", "*AFTER", "*REPLACE"),
                                                        default="*NONE"),
         P("DTACPR", "elems"), P("SAVACT", "elems"), P("TGTRLS", "elems"), P("UPDHST", "elems"), positional=2)
def savlib(ctx: Ctx, a: Dict[str, Any]) -> None:
    names = [str(n) for n in a["LIB"]]
    device = _device(ctx, str(a["DEV"][0]))
    if "*NONSYS" in names:
        _require_restricted(ctx)
    libraries = _libraries_for(ctx, names)
    size = sum(lib.size_bytes for lib in libraries)
    objects = sum(len(lib.objects) + 1 for lib in libraries)
    if device == "*SAVF":
        savf = _save_file(ctx, a["SAVF"])
        if savf.data and a["CLEAR"] == "*NONE":
            # CPA4067 inquiry; a non-interactive job takes the default reply (cancel)
            ctx.diag("CPA4067", file=savf.name, lib=a["SAVF"].lib)
            raise ctx.fail("CPF3797", lib=names[0], file=savf.name, lib2=a["SAVF"].lib)
        brms = ctx.state.brms if any(lib.name == "QUSRBRM" for lib in libraries) else None
        _record_save(ctx, "SAVLIB", [lib.name for lib in libraries], device, objects, size)
        savf.data = encode_save(libraries, brms, ctx.now, ctx.state.sysname)
    else:
        _record_save(ctx, "SAVLIB", [lib.name for lib in libraries], device, objects, size)
    for lib in libraries:
        ctx.comp("CPC3722", count=len(lib.objects) + 1, lib=lib.name)


@command("SAVDLO", P("DLO", "elems", required=True), P("FLR", "elems"), P("DEV", "elems", required=True),
         P("VOL", "elems"), P("ENDOPT", "elems"), P("DTACPR", "elems"), positional=1)
def savdlo(ctx: Ctx, a: Dict[str, Any]) -> None:
    device = _device(ctx, str(a["DEV"][0]))
    _record_save(ctx, "SAVDLO", ("/QDLS",), device, 100, Settings.SAVDLO_BYTES)
    ctx.comp("CPC3701", count=100)


@command("SAV", P("DEV", "str", required=True, max_len=256), P("OBJ", "elems", required=True),
         P("SUBTREE", "elems"), P("UPDHST", "elems"), P("ENDOPT", "elems"), P("DTACPR", "elems"),
         P("SAVACT", "elems"), P("OUTPUT", "elems"), P("VOL", "elems"), positional=2)
def sav(ctx: Ctx, a: Dict[str, Any]) -> None:
    device = _device(ctx, a["DEV"])
    include, omit = _sav_objects(a["OBJ"])
    objects = size = 0
    ifs = ctx.state.ifs
    for path, node in list(ifs.nodes.items()):
        if any(_under(path, o) for o in omit) or not any(_under(path, i) for i in include):
            continue
        objects += 1
        size += len(node.data) + node.nominal_bytes
    _record_save(ctx, "SAV", tuple(include), device, objects, size)
    ctx.comp("CPC3701", count=objects)


def _sav_objects(spec: Sequence[Any]) -> Tuple[List[str], List[str]]:
    """OBJ(('/*') ('/QSYS.LIB' *OMIT)) or OBJ('/home') -> (include, omit) path prefixes."""
    include, omit = [], []
    entries = spec if spec and isinstance(spec[0], tuple) else [tuple(spec)]
    for entry in entries:
        path = str(entry[0])
        prefix = path[:-1] if path.endswith("*") else path
        (omit if len(entry) > 1 and str(entry[1]).upper() == "*OMIT" else include).append(prefix.rstrip("/") or "/")
    return include, omit


def _under(path: str, prefix: str) -> bool:
    return prefix in ("/", "") or path == prefix or path.startswith(prefix.rstrip("/") + "/")


@command("CRTSAVF", P("FILE", "qual", required=True), P("TEXT", "str", ("*BLANK",), default="*BLANK", max_len=50),
         P("AUT", "elems"), P("MAXRCDS", "elems"), positional=1, db_change=True)
def crtsavf(ctx: Ctx, a: Dict[str, Any]) -> None:
    qual = a["FILE"]
    library, existing = library_of(ctx, qual, "*SAVF")
    if qual.lib.startswith("*"):
        library = ctx.state.libraries["QGPL"]
    if existing is not None or library.get(qual.obj, "*FILE") is not None:
        raise ctx.fail("CPF5813", file=qual.obj, lib=library.name)
    library.add(LibObject(qual.obj, "*SAVF", "SAVF", text="" if a["TEXT"] == "*BLANK" else a["TEXT"]))
    ctx.comp("CPC9801", obj=qual.obj, lib=library.name)


@command("CLRSAVF", P("FILE", "qual", required=True), positional=1)
def clrsavf(ctx: Ctx, a: Dict[str, Any]) -> None:
    savf = _save_file(ctx, a["FILE"])
    savf.data = b""
    ctx.comp("CPC3710", file=savf.name, lib=a["FILE"].lib)


@command("RSTLIB", P("SAVLIB", "list", _LIBRARY_GROUPS, item="generic", max_items=300, required=True),
         P("DEV", "elems", required=True), P("SAVF", "qual"), P("VOL", "elems"), P("OPTION", "elems"),
         P("MBROPT", "elems"), P("ALWOBJDIF", "elems"), P("RSTLIB", "name", ("*SAVLIB",), default="*SAVLIB"),
         P("OMITOBJ", "elems"), P("SAVDATE", "elems"), positional=2, db_change=True)
def rstlib(ctx: Ctx, a: Dict[str, Any]) -> None:
    device = _device(ctx, str(a["DEV"][0]))
    if device != "*SAVF":
        raise ctx.fail("LAB0001", what="RSTLIB from a tape device")
    savf = _save_file(ctx, a["SAVF"])
    content = decode_save(savf.data)
    if content is None:
        raise ctx.fail("CPF3743", file=savf.name, lib=a["SAVF"].lib)
    for name in [str(n) for n in a["SAVLIB"]]:
        saved = next((lib for lib in content.libraries if lib.name == name), None)
        if saved is None:
            raise ctx.fail("CPF3780", lib=name, file=savf.name, savlib=a["SAVF"].lib)
        target = name if a["RSTLIB"] == "*SAVLIB" else a["RSTLIB"]
        library = ctx.state.libraries.setdefault(target, type(saved)(target, saved.size_mib, text=saved.text))
        library.size_mib = saved.size_mib
        for obj in saved.objects.values():
            library.add(obj)
        if target == "QUSRBRM" and content.brms is not None:
            ctx.state.brms = content.brms            # BRMS data is restored with its library
        ctx.comp("CPC3703", count=len(saved.objects) + 1, lib=name, tolib=target)


# ================================================================ BRMS


@command("INZBRM", P("OPTION", "str", required=True, max_len=10), P("STATE", "str", max_len=10),
         P("PRVSYSNAM", "elems"), P("NEWSYSNAM", "elems"), P("FROMLIB", "elems"), P("TOLIB", "elems"),
         P("MERGE", "elems"), P("FROMSYS", "elems"), P("DEV", "elems"), library="QBRM", product="brms")
def inzbrm(ctx: Ctx, a: Dict[str, Any]) -> None:
    option = a["OPTION"].upper()
    if option in Settings.BRMS_OTHER_OPTIONS:
        raise ctx.fail("LAB0001", what=f"INZBRM OPTION({option})")
    if option not in Settings.BRMS_FLASHCOPY_OPTIONS:
        raise command_error(msg("CPD0084", value=option, kw="OPTION"))
    new = (a["STATE"] or "").upper()
    if new not in Settings.BRMS_FLASHCOPY_TRANSITIONS:
        raise command_error(msg("CPD0084", value=new or "*N", kw="STATE"))
    brms = ctx.state.brms
    old = brms.flashcopy_state
    if old not in Settings.BRMS_FLASHCOPY_TRANSITIONS[new]:
        raise ctx.fail("BRM1A02", new=new, old=old)
    brms.flashcopy_state = new
    if new == "*STRPRC" and "Q1ABRMNET" in ctx.rt.subsystems:
        ctx.rt.end_subsystem("Q1ABRMNET", ctx.job)
    if new == "*ENDPRC" and "Q1ABRMNET" not in ctx.rt.subsystems and "Q1ABRMNET" in ctx.state.subsystems:
        ctx.rt.start_subsystem("Q1ABRMNET", ctx.job)
    ctx.qhst("BRM1A01", old=old, new=new)
    ctx.comp("BRM1A01", old=old, new=new)


def brms_owner(state: Any) -> str:
    """The BRMS system name a save is recorded under."""
    brms = state.brms
    if brms.flashcopy_state == "*STRBKU":
        return brms.name_override or brms.system_name       # the clone acts as production
    return brms.name_override or state.sysname


@command("STRBKUBRM", P("CTLGRP", "name", required=True), P("SCDTIME", "elems"),
         P("SBMJOB", "special", ("*YES", "*NO", "*CTLSBS"), default="*YES"),
         P("JOBD", "qual", ("*USRPRF",), default="*USRPRF"), P("JOBQ", "qual", ("*JOBD",), default="*JOBD"),
         P("ACTIVITY", "elems"), P("STRSEQ", "elems"), P("RTNCTL", "elems"), positional=1,
         library="QBRM", product="brms")
def strbkubrm(ctx: Ctx, a: Dict[str, Any]) -> None:
    brms = ctx.state.brms
    group = a["CTLGRP"]
    if group not in brms.control_groups:
        raise ctx.fail("BRM1142", grp=group)
    if brms.flashcopy_state in Settings.BRMS_STOPPED_STATES:
        raise ctx.fail("BRM1A03", state=brms.flashcopy_state)
    mode = a["SBMJOB"]
    if mode == "*NO":
        _run_control_group(ctx, group, enter_restricted=ctx.job.env.get("BRMS_CTLSBS") == "1")
        return
    if mode == "*CTLSBS" and not brms.allow_backups_in_batch:
        raise ctx.fail("BRM15A4")
    jobq = "QSYS/QCTL" if mode == "*CTLSBS" else None
    job = _submit_brms(ctx, group, a, jobq, {"BRMS_CTLSBS": "1"} if mode == "*CTLSBS" else {})
    lib, obj = job.rec.jobq.split("/")
    ctx.comp("CPC1221", job=job.qualified, jobq=obj, lib=lib)


def _submit_brms(ctx: Ctx, group: str, a: Dict[str, Any], jobq: Optional[str], env: Dict[str, str]) -> Job:
    profile = ctx.state.users.get(ctx.job.user)
    jobd = (profile.jobd if profile else "QGPL/QDFTJOBD") if a["JOBD"] == "*USRPRF" else _qualified_text(a["JOBD"], "QGPL")
    if jobq is None:
        jobq = ctx.state.job_descriptions.get(jobd, "QGPL/QBATCH") if a["JOBQ"] == "*JOBD" \
            else _qualified_text(a["JOBQ"], "QGPL")
    return ctx.rt.submit(ctx.job, f"STRBKUBRM CTLGRP({group}) SBMJOB(*NO)", group, jobq, jobd, ctx.job.user, env)


def _run_control_group(ctx: Ctx, group: str, enter_restricted: bool) -> None:
    rt, state = ctx.rt, ctx.state
    brms = state.brms
    items = brms.control_groups[group]
    ctx.info("BRM15A1", grp=group)
    ctx.qhst("BRM15A1", grp=group)
    if enter_restricted:
        rt.end_all_subsystems(ctx.job, "*IMMED")       # batch restricted state, this job survives in QCTL
    elif any(item in Settings.BRMS_RESTRICTED_ITEMS for item in items) and not rt.restricted:
        raise ctx.fail("BRM15A5", grp=group)
    owner = brms_owner(state)
    flashcopy = brms.flashcopy_state == "*STRBKU"
    errors = 0
    for item in items:
        saved = _brms_item(ctx, item)
        if saved is None:
            errors += 1
            continue
        item_type, objects, size = saved
        _record_save(ctx, "STRBKUBRM", (item,), "TAPMLB01", objects, size)
        volume = f"Q{brms.volume_serial:05d}"
        brms.history.append(BrmsHistoryEntry(ctx.now, group, item, item_type, owner, objects, size, volume,
                                             ctx.job.qualified, flashcopy))
        brms.volume_serial += 1
    if enter_restricted:
        rt.start_subsystem(rt.controlling, ctx.job)    # BRMS restarts the controlling subsystem
    if errors:
        ctx.qhst("BRM15A3", grp=group)
        raise ctx.fail("BRM15A3", grp=group)
    ctx.qhst("BRM15A2", grp=group)
    ctx.comp("BRM15A2", grp=group)


def _brms_item(ctx: Ctx, item: str) -> Optional[Tuple[str, int, int]]:
    """(type, objects, bytes) of one control group item, or None after a diagnostic."""
    state = ctx.state
    if item == "*SAVSYS":
        return "*SYS", 20000, Settings.SAVSYS_BYTES
    if item.startswith("/"):
        if not state.ifs.exists(item):
            ctx.diag("CPFA0A9", path=item)
            return None
        objects, size = state.ifs.tree_size(item)
        return "*LNK", objects, size
    if item in _LIBRARY_GROUPS:
        libraries = _libraries_for(ctx, [item])
        return "*LIB", sum(len(lib.objects) + 1 for lib in libraries), sum(lib.size_bytes for lib in libraries)
    library = state.library(item)
    if library is None:
        ctx.diag("CPF3781", lib=item)
        return None
    return "*LIB", len(library.objects) + 1, library.size_bytes


# ================================================================ built-in programs


@builtin_program("QSYS", "QSTRUP")
def qstrup(rt: IbmiRuntime, job: Job, parms: Sequence[str]) -> None:
    """IBM's default startup program: start the usual subsystems (it does not start TCP/IP)."""
    names = list(rt.DEFAULT_STARTUP_SUBSYSTEMS)
    brms = rt.state.brms
    if brms is not None and brms.flashcopy_state not in Settings.BRMS_STOPPED_STATES:
        names.append("Q1ABRMNET")
    for name in names:
        if name in rt.state.subsystems and name not in rt.subsystems:
            rt.start_subsystem(name, job)


@builtin_program("QBRM", "Q1AOLD")
def q1aold(rt: IbmiRuntime, job: Job, parms: Sequence[str]) -> None:
    """BRMS options: BRMSYSNAME *SET/*DISPLAY/*REMOVE (FLASHTIME is accepted and ignored)."""
    words = [p.strip().upper() for p in parms]
    if not words or rt.state.brms is None:
        raise escape("CPF0001", (msg("LAB0001", what="CALL QBRM/Q1AOLD without parameters"),), cmd="CALL")
    if words[0] == "BRMSYSNAME" and len(words) >= 2:
        action = words[1]
        if action == "*SET" and len(words) >= 3:
            rt.state.brms.name_override = words[2]
        elif action == "*REMOVE":
            rt.state.brms.name_override = ""
        elif action != "*DISPLAY":
            raise escape("CPF0001", (msg("LAB0001", what=f"Q1AOLD BRMSYSNAME {action}"),), cmd="CALL")
        rt.joblog(job, msg("BRM1A04", name=rt.state.brms.name_override or rt.state.sysname), "COMPLETION")
        return
    if words[0] == "FLASHTIME":
        return
    raise escape("CPF0001", (msg("LAB0001", what=f"Q1AOLD {words[0]}"),), cmd="CALL")
