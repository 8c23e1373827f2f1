"""The HMC's SSH command line (the hscroot restricted shell) in front of the HMC model.

Output follows the reference captures (protocols.md §4): default `attr=value,...` lines with
`"attr=v1,v2"` quoting, `-F` bare CSV, `--header`; HSCL messages on stdout with a non-zero
exit status; VIOS commands through `viosvrcmd` with the ioscli layouts.
"""
from __future__ import annotations

import csv
import shlex
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..sshd import Conn, SshFront
from .errors import HsclError, IoscliError, UsageError, no_rmc, no_such_device, not_found
from .model import BOOT_MODES, IPL_SOURCES, KEYLOCKS, Hmc, Lpar, ManagedSystem, Vios

Attrs = List[Tuple[str, str]]

USAGE = {   # [U] wording of the HMC's usage texts
    "lssyscfg": 'Usage: lssyscfg -r {lpar | prof | sys} [-m <managed system>] [--filter "<filter data>"] '
                '[-F [<attribute names>] [--header]]',
    "chsysstate": "Usage: chsysstate -m <managed system> -r lpar -o {on | shutdown | osshutdown | chkey} "
                  "{-n <partition name> | --id <partition ID>} [-f <profile name>] [-k {norm | manual}] "
                  "[-b <boot mode>] [-i {a | b | c | d}] [--immed] [--restart]",
    "lsrefcode": 'Usage: lsrefcode -r lpar -m <managed system> [-s {p | s}] [-n <number>] '
                 '[--filter "<filter data>"] [-F [<attribute names>] [--header]]',
    "viosvrcmd": 'Usage: viosvrcmd -m <managed system> {-p <partition name> | --id <partition ID>} '
                 '-c "<command>" [-t <timeout>] [--admin]',
    "lshmc": "Usage: lshmc -V",
}

SHELL_OPERATORS = set("();<>|&")


def usage(command: str, text: str) -> UsageError:
    """A syntax error of COMMAND: the problem, then the command's usage line."""
    return UsageError(f"{text}\n{USAGE[command]}")


# ---------------------------------------------------------------- output formats


def format_default(attrs: Attrs) -> str:
    """One object as `attr=value,...`; an item containing a comma (or a quote) is wrapped whole in
    double quotes, inner quotes doubled."""
    items = []
    for name, value in attrs:
        item = f"{name}={value}"
        items.append('"' + item.replace('"', '""') + '"' if ("," in item or '"' in item) else item)
    return ",".join(items)


def format_csv(values: Sequence[str]) -> str:
    """One -F line: bare values; a value with a comma (or a quote) is quoted."""
    return ",".join('"' + v.replace('"', '""') + '"' if ("," in v or '"' in v) else v for v in values)


# -F naming an attribute the resource does not have: a real HMC (V7R7.9, Polish locale) answered
# "Wprowadzono niepoprawny atrybut.  Niepoprawnym atrybutem jest type_serial.  Popraw wprowadzone
# dane i ponów komendę." with no HSCL id (ziutus/hmc_vios_aix, data/20180603_1656/hmc/192.168.200.34/
# lssyscfg_r_sys_F_name_type_model_serial_num_state.txt). The English wording below is that message
# translated [R]; the shape (no id, two spaces between sentences, the attribute named) is [V].
UNKNOWN_ATTRIBUTE = ("An invalid attribute was entered.  The invalid attribute is {name}.  "
                     "Correct the input and run the command again.")


def render(objects: List[Attrs], fields: Optional[str], header: bool, command: str,
           known: Sequence[str] = ()) -> str:
    """Objects in the default format, or as -F CSV (with --header, the names first). An -F name
    that is not an attribute of the resource (of KNOWN, or of the objects) fails even when there
    are no objects."""
    if fields is None:
        return "".join(format_default(attrs) + "\n" for attrs in objects)
    names = [f for f in fields.split(",") if f]
    if not names:
        raise usage(command, "The -F option requires a list of attribute names.")
    valid = set(known) | {name for attrs in objects for name, _ in attrs}
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise UsageError(UNKNOWN_ATTRIBUTE.format(name=unknown[0]))
    lines = [format_csv(names)] if header else []
    for attrs in objects:
        values = dict(attrs)
        lines.append(format_csv([values.get(n, "") for n in names]))
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------- argument parsing


def parse_options(command: str, args: Sequence[str], spec: Dict[str, bool],
                  required: Sequence[str] = ()) -> Dict[str, object]:
    """HMC style options. SPEC maps each option to whether it takes a value."""
    opts: Dict[str, object] = {}
    i = 0
    while i < len(args):
        word = args[i]
        if word not in spec:
            raise usage(command, f"An invalid parameter was entered: {word}")
        if spec[word]:
            if i + 1 >= len(args):
                raise usage(command, f"The parameter {word} requires a value.")
            opts[word] = args[i + 1]
            i += 2
        else:
            opts[word] = True
            i += 1
    for name in required:
        if name not in opts:
            raise usage(command, f"The required parameter {name} is missing.")
    return opts


def parse_filter(text: str, allowed: Sequence[str], command: str) -> Tuple[str, List[str]]:
    """`lpar_names=A,B` -> ("lpar_names", ["A", "B"]) (one filter at a time in the lab)."""
    name, sep, values = text.partition("=")
    if not sep or name not in allowed or not values:
        raise usage(command, f"An invalid filter was specified: {text}")
    return name, next(csv.reader([values]))


def ioscli_options(args: Sequence[str]) -> Dict[str, List[str]]:
    """ioscli style: each -flag owns the words that follow it up to the next flag."""
    opts: Dict[str, List[str]] = {}
    current: Optional[str] = None
    for word in args:
        if word.startswith("-"):
            current = word
            opts.setdefault(word, [])
        elif current is None:
            raise IoscliError(f'"{word}" is not a valid parameter.')     # [U]
        else:
            opts[current].append(word)
    return opts


def _one(opts: Dict[str, List[str]], flag: str, command: str) -> str:
    values = opts.get(flag)
    if not values or len(values) != 1:
        raise IoscliError(f"{command}: the flag {flag} requires exactly one value.")     # [U]
    return values[0]


# ---------------------------------------------------------------- the front


class HmcFront(SshFront):
    label = "hmc"
    # HSCL messages on stdout, stderr empty: confirmed by a live V10R3 capture (randomparity/hmc-mcp
    # tests/fixtures/pcie/power9-v10r3m1060-live-sriov.json, exit 1) and by IBM/ansible-power-hmc
    # hmc_cli_client.py, which reports stdout first when a command fails.
    fail_stream = "stdout"

    LPAR_ENV_NAMES = {"os400": "os400", "vioserver": "vioserver", "aixlinux": "aixlinux"}  # [U] os400
    IBMI_LPAR_ATTRS = ("ipl_source",)       # [U] whether lssyscfg -r lpar shows them for IBM i
    TIME_FORMAT = "%m/%d/%Y %H:%M:%S"       # [U] lsrefcode time_stamp
    VIOS_OS_VERSION = "VIOS 3.1.4.30"       # [U]
    SYSTEM_IPADDR = "192.168.128.10"        # [U] service processor address shown by lssyscfg -r sys
    DEFAULT_BUILD_LEVEL = "2408210051"      # from the reference capture (V10R3 M1060)
    IOSCLI_FAILURE_STATUS = 1               # [U] viosvrcmd's exit status when the VIOS command fails
    SHELL_STATUS = 127                      # rbash: command not found

    def __init__(self, world, hmc: Hmc, host_key, authorized, passwords=None, port: int = 0,
                 bind: str = "127.0.0.1"):
        super().__init__(world, host_key, authorized, passwords, port, bind)
        self.hmc = hmc
        self.commands: Dict[str, Callable[[List[str]], str]] = {
            "lssyscfg": self.lssyscfg, "chsysstate": self.chsysstate, "lsrefcode": self.lsrefcode,
            "viosvrcmd": self.viosvrcmd, "lshmc": self.lshmc,
        }

    def fault_device(self, conn: Conn) -> str:
        return f"hmc:{self.hmc.name}"        # rules for `hmc` match every HMC, `hmc:HMC1` this one

    def execute(self, command: str, conn: Conn) -> Tuple[str, str, int]:
        try:
            lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            words = list(lexer)
        except ValueError as exc:
            return "", f"rbash: syntax error: {exc}\n", 2
        operators = [w for w in words if set(w) <= SHELL_OPERATORS]
        if operators:
            return "", f"rbash: {operators[0]}: shell operators are not available in the lab HMC shell\n", 2
        if not words:
            return "", "", 0
        handler = self.commands.get(words[0])
        if handler is None:
            return "", f"rbash: {words[0]}: command not found\n", self.SHELL_STATUS
        try:
            if self.hmc.users and conn.user not in self.hmc.users:
                raise HsclError("HSCL350B")       # a key the lab accepts, for a user this HMC lacks
            return handler(words[1:]), "", 0
        except HsclError as exc:
            return f"{exc}\n", "", exc.exit_status
        except UsageError as exc:
            return f"{exc.text}\n", "", exc.exit_status
        except IoscliError as exc:
            return f"{exc.text}\n", "", self.IOSCLI_FAILURE_STATUS

    # ---------------------------------------------------------------- lookups

    def _system(self, name: object) -> ManagedSystem:
        return self.hmc.system(str(name))

    def _target(self, msys: ManagedSystem, opts: Dict[str, object], command: str, name_flag: str = "-n") -> Lpar:
        if (name_flag in opts) == ("--id" in opts):
            raise usage(command, f"Specify either {name_flag} or --id.")
        if name_flag in opts:
            return msys.lpar(name=str(opts[name_flag]))
        try:
            lpar_id = int(str(opts["--id"]))
        except ValueError:
            raise usage(command, f"An invalid partition ID was specified: {opts['--id']}") from None
        return msys.lpar(lpar_id=lpar_id)

    def _filtered(self, msys: ManagedSystem, opts: Dict[str, object], command: str,
                  extra: Sequence[str] = ()) -> Tuple[List[Lpar], Optional[Tuple[str, List[str]]]]:
        """The partitions a --filter selects (all without one); an unknown name is HSCL8012."""
        lpars = sorted(msys.lpars.values(), key=lambda l: l.id)
        if "--filter" not in opts:
            return lpars, None
        name, values = parse_filter(str(opts["--filter"]), ("lpar_names", "lpar_ids") + tuple(extra), command)
        if name == "lpar_names":
            return [msys.lpar(name=v) for v in values], None
        if name == "lpar_ids":
            try:
                return [msys.lpar(lpar_id=int(v)) for v in values], None
            except ValueError:
                raise usage(command, f"An invalid filter was specified: {opts['--filter']}") from None
        return lpars, (name, values)

    # ---------------------------------------------------------------- lssyscfg

    def lssyscfg(self, args: List[str]) -> str:
        opts = parse_options("lssyscfg", args, {"-r": True, "-m": True, "--filter": True, "-F": True,
                                                "--header": False}, required=("-r",))
        resource = opts["-r"]
        with self.world.lock:
            if resource == "sys":
                systems = [self._system(opts["-m"])] if "-m" in opts else list(self.hmc.systems.values())
                objects = [self._sys_attrs(msys) for msys in systems]
            elif resource in ("lpar", "prof"):
                if "-m" not in opts:
                    raise usage("lssyscfg", "The required parameter -m is missing.")
                msys = self._system(opts["-m"])
                if resource == "lpar":
                    objects = [self._lpar_attrs(lpar) for lpar in self._filtered(msys, opts, "lssyscfg")[0]]
                else:
                    lpars, profile_filter = self._filtered(msys, opts, "lssyscfg", ("profile_names",))
                    objects = [self._prof_attrs(lpar, name) for lpar in lpars for name in lpar.profiles
                               if profile_filter is None or name in profile_filter[1]]
            else:
                raise usage("lssyscfg", f"An invalid resource type was specified: {resource}")
        if not objects:
            return "No results were found.\n"
        return render(objects, opts.get("-F"), bool(opts.get("--header")), "lssyscfg")

    def _sys_attrs(self, msys: ManagedSystem) -> Attrs:
        return [("name", msys.name), ("type_model", msys.type_model), ("serial_num", msys.serial),
                ("ipaddr", self.SYSTEM_IPADDR), ("state", msys.state), ("detailed_state", "None"),
                ("sys_time", self.world.clock.now().strftime(self.TIME_FORMAT)),
                ("power_off_policy", "1"), ("max_lpars", "240"), ("service_lpar_id", "none"),
                ("service_lpar_name", "unavailable")]

    def _os_version(self, lpar: Lpar) -> str:
        version = getattr(lpar.runtime, "os_version", None)
        if version:
            return str(version)
        if isinstance(lpar, Vios) and lpar.rmc_active:
            return self.VIOS_OS_VERSION
        return "Unknown"

    def _lpar_attrs(self, lpar: Lpar) -> Attrs:
        attrs: Attrs = [
            ("name", lpar.name), ("lpar_id", str(lpar.id)), ("lpar_env", self.LPAR_ENV_NAMES[lpar.lpar_env]),
            ("state", lpar.state), ("resource_config", "1"), ("os_version", self._os_version(lpar)),
            ("logical_serial_num", lpar.logical_serial_num), ("default_profile", lpar.default_profile),
            ("curr_profile", lpar.curr_profile), ("work_group_id", "none"), ("shared_proc_pool_util_auth", "0"),
            ("allow_perf_collection", "0"), ("power_ctrl_lpar_ids", "none"), ("boot_mode", lpar.boot_mode),
            ("lpar_keylock", lpar.keylock)]
        if lpar.lpar_env == "os400" and "ipl_source" in self.IBMI_LPAR_ATTRS:
            attrs.append(("ipl_source", lpar.ipl_source))
        attrs += [("auto_start", "0"), ("redundant_err_path_reporting", "0"),
                  ("rmc_state", "active" if lpar.rmc_active else "inactive"),
                  ("rmc_ipaddr", str(getattr(lpar.runtime, "rmc_ipaddr", "") or "")), ("sync_curr_profile", "1")]
        return attrs

    def _prof_attrs(self, lpar: Lpar, name: str) -> Attrs:
        prof = lpar.profiles[name]
        scsi = ",".join(lpar.virtual_scsi_adapters()) or "none"
        attrs: Attrs = [
            ("name", prof.name), ("lpar_name", lpar.name), ("lpar_id", str(lpar.id)),
            ("lpar_env", self.LPAR_ENV_NAMES[lpar.lpar_env]), ("all_resources", "0"),
            ("min_mem", str(prof.min_mem)), ("desired_mem", str(prof.desired_mem)), ("max_mem", str(prof.max_mem)),
            ("proc_mode", prof.proc_mode), ("min_proc_units", prof.min_proc_units),
            ("desired_proc_units", prof.desired_proc_units), ("max_proc_units", prof.max_proc_units),
            ("min_procs", str(prof.min_procs)), ("desired_procs", str(prof.desired_procs)),
            ("max_procs", str(prof.max_procs)), ("sharing_mode", prof.sharing_mode), ("uncap_weight", "128"),
            ("max_virtual_slots", str(prof.max_virtual_slots)),
            ("virtual_serial_adapters", "0/server/1/any//any/1,1/server/1/any//any/1"),
            ("virtual_scsi_adapters", scsi), ("virtual_eth_adapters", "40/0/1//0/0"),
            ("hca_adapters", "none"), ("boot_mode", prof.boot_mode), ("conn_monitoring", "0"), ("auto_start", "0"),
            ("power_ctrl_lpar_ids", "none"), ("work_group_id", "none"), ("redundant_err_path_reporting", "0")]
        if lpar.lpar_env == "os400" and "ipl_source" in self.IBMI_LPAR_ATTRS:
            attrs += [("console_slot", "hmc"), ("ipl_source", prof.ipl_source), ("lpar_keylock", prof.keylock)]
        return attrs

    # ---------------------------------------------------------------- chsysstate

    def chsysstate(self, args: List[str]) -> str:
        opts = parse_options("chsysstate", args, {
            "-m": True, "-r": True, "-o": True, "-n": True, "--id": True, "-f": True, "-k": True, "-b": True,
            "-i": True, "--immed": False, "--restart": False, "--force": False, "--novsi": False},
            required=("-m", "-r", "-o"))
        if opts["-r"] != "lpar":
            raise usage("chsysstate", "The lab HMC manages partitions only (-r lpar).")
        for flag, allowed in (("-k", KEYLOCKS), ("-i", IPL_SOURCES), ("-b", BOOT_MODES)):
            if flag in opts and opts[flag] not in allowed:
                raise usage("chsysstate", f"An invalid value was specified for {flag}: {opts[flag]}")
        lpar = self._target(self._system(opts["-m"]), opts, "chsysstate")
        operation = opts["-o"]
        if operation == "on":
            lpar.activate(opts.get("-f"), opts.get("-k"), opts.get("-i"), opts.get("-b"))
        elif operation in ("shutdown", "osshutdown"):
            lpar.shutdown(immediate=bool(opts.get("--immed")), restart=bool(opts.get("--restart")),
                          os_shutdown=operation == "osshutdown")
        elif operation == "chkey":
            if "-k" not in opts:
                raise usage("chsysstate", "The -k parameter is required with -o chkey.")
            lpar.change_keylock(str(opts["-k"]))
        else:
            raise usage("chsysstate", f"An invalid operation was specified: {operation}")
        return ""

    # ---------------------------------------------------------------- lsrefcode

    def lsrefcode(self, args: List[str]) -> str:
        opts = parse_options("lsrefcode", args, {"-r": True, "-m": True, "-s": True, "-n": True, "--filter": True,
                                                 "-F": True, "--header": False}, required=("-r", "-m"))
        if opts["-r"] != "lpar":
            raise usage("lsrefcode", "The lab HMC lists partition reference codes only (-r lpar).")
        try:
            count = int(str(opts.get("-n", 1)))
        except ValueError:
            count = 0
        if count < 1:
            raise usage("lsrefcode", f"An invalid number was specified for -n: {opts.get('-n')}")
        with self.world.lock:
            lpars = self._filtered(self._system(opts["-m"]), opts, "lsrefcode")[0]
            objects = [self._refcode_attrs(lpar, entry) for lpar in lpars for entry in lpar.history(count)]
        return render(objects, opts.get("-F"), bool(opts.get("--header")), "lsrefcode")

    def _refcode_attrs(self, lpar: Lpar, entry) -> Attrs:
        words = [(f"word{n}", "00000000" if entry.code else "") for n in range(2, 10)]     # [U] values
        return [("lpar_name", lpar.name), ("lpar_id", str(lpar.id)),
                ("time_stamp", entry.at.strftime(self.TIME_FORMAT)), ("refcode", entry.code)] + words + \
               [("fru_call_out_loc_codes", "")]

    # ---------------------------------------------------------------- lshmc

    def lshmc(self, args: List[str]) -> str:
        """`lshmc -V` as the HMC's major version prints it.

        V10 [V]: plain lines (randomparity/hmc-mcp tests/fixtures/pcie/power9-v10r3m1060-live-sriov.json,
        a live V10R3 M1060 capture). V9 and earlier: one default-format object whose quoted values
        span lines, `"version= Version: 8\n Release: 8.2.0\n ..."` then `"base_version=V8R8.2.0\n"`
        [V for V7R7.9 and V8R8.2: ziutus/hmc_vios_aix data/20180603_1656/hmc/192.168.200.34/lshmc_V.txt and
        data/192.168.200.34.20170910_0102.txt; R for V9, which no public capture shows]."""
        parse_options("lshmc", args, {"-V": False}, required=("-V",))
        version = self.hmc.version
        major = str(version.get("version", ""))
        release = str(version.get("release", ""))
        service_pack = str(version.get("service_pack", ""))
        build = str(version.get("build_level", self.DEFAULT_BUILD_LEVEL))
        if not major.isdigit() or int(major) >= 10:
            return f"Version: {major}\nRelease: {release}\nService Pack: {service_pack}\nBuild level: {build}\n"
        return (f'"version= Version: {major}\n Release: {release}\n Service Pack: {service_pack}\n'
                f'HMC Build level {build}\n","base_version=V{major}R{release}\n"\n')

    # ---------------------------------------------------------------- viosvrcmd

    def viosvrcmd(self, args: List[str]) -> str:
        opts = parse_options("viosvrcmd", args, {"-m": True, "-p": True, "--id": True, "-c": True, "-t": True,
                                                 "--admin": False}, required=("-m", "-c"))
        lpar = self._target(self._system(opts["-m"]), opts, "viosvrcmd", name_flag="-p")
        if not isinstance(lpar, Vios):
            raise not_found("Virtual I/O Server partition", lpar.name)     # [U] code for a non-VIOS target
        if not lpar.rmc_active:
            raise no_rmc(lpar.name)                                       # [U] code reused for viosvrcmd
        try:
            words = shlex.split(str(opts["-c"]))
        except ValueError as exc:
            raise IoscliError(f"rksh: syntax error: {exc}") from None
        if not words:
            raise usage("viosvrcmd", "The -c parameter requires a command.")
        handler = {"lsmap": self._lsmap, "cfgdev": self._cfgdev, "rmdev": self._rmdev, "mkvdev": self._mkvdev,
                   "lsdev": self._lsdev}.get(words[0])
        if handler is None:
            raise IoscliError(f'"{words[0]}" is not a valid command.')      # [U]
        with self.world.lock:
            out = handler(lpar, ioscli_options(words[1:]))
        return out + "\n" if out else ""

    # ---------------------------------------------------------------- ioscli commands

    LSMAP_HEADER = ("SVSA                 Physloc                           Client Partition ID",
                    "-------------        --------------------------------- ------------------")
    LSMAP_FIELDS_VHOST = ("svsa", "physloc", "clientid")
    LSMAP_FIELDS_VTD = ("vtd", "status", "lun", "backing", "bdphysloc")

    def _lsmap(self, vios: Vios, opts: Dict[str, List[str]]) -> str:
        if "-npiv" in opts:
            return ""                     # the lab models NPIV on the arrays, not as vfchost adapters
        if "-vadapter" in opts:
            vhosts = [vios.vhost(_one(opts, "-vadapter", "lsmap"))]
        elif "-all" in opts:
            vhosts = list(vios.vhosts.values())
        else:
            raise IoscliError("lsmap: specify -all or -vadapter.")     # [U]
        if "-fmt" in opts or "-field" in opts:
            return self._lsmap_fields(vios, vhosts, opts)
        lines: List[str] = []
        for vhost in vhosts:
            lines += [*self.LSMAP_HEADER, f"{vhost.name:<21}{vhost.physloc:<34}0x{vhost.client_lpar_id:08x}"]
            vtds = sorted(vios.vtds_of(vhost.name), key=lambda v: v.lun)
            if not vtds:
                lines += ["", "NO VIRTUAL TARGET DEVICE FOUND"]     # [U]
            for vtd in vtds:
                lines += ["", f"{'VTD':<22}{vtd.name}", f"{'Status':<22}{vtd.status}", f"{'LUN':<22}{vtd.lun}",
                          f"{'Backing device':<22}{vtd.hdisk}", "Physloc"]
        return "\n".join(lines)

    def _lsmap_fields(self, vios: Vios, vhosts: List, opts: Dict[str, List[str]]) -> str:
        """`-field ... -fmt D`: one line per vhost, its own fields then each VTD's [U order]."""
        fields = opts.get("-field") or list(self.LSMAP_FIELDS_VHOST + self.LSMAP_FIELDS_VTD)
        unknown = [f for f in fields if f not in self.LSMAP_FIELDS_VHOST + self.LSMAP_FIELDS_VTD]
        if unknown:
            raise IoscliError(f'lsmap: "{unknown[0]}" is not a valid field.')     # [U]
        delimiter = _one(opts, "-fmt", "lsmap") if "-fmt" in opts else " "
        lines = []
        for vhost in vhosts:
            own = {"svsa": vhost.name, "physloc": vhost.physloc, "clientid": f"0x{vhost.client_lpar_id:08x}"}
            values = [own[f] for f in fields if f in own]
            for vtd in sorted(vios.vtds_of(vhost.name), key=lambda v: v.lun):
                mine = {"vtd": vtd.name, "status": vtd.status, "lun": vtd.lun, "backing": vtd.hdisk, "bdphysloc": ""}
                values += [mine[f] for f in fields if f in mine]
            lines.append(delimiter.join(values))
        return "\n".join(lines)

    def _cfgdev(self, vios: Vios, opts: Dict[str, List[str]]) -> str:
        vios.cfgdev()
        return ""

    def _rmdev(self, vios: Vios, opts: Dict[str, List[str]]) -> str:
        deleted = vios.rmdev(_one(opts, "-dev", "rmdev"), recursive="-recursive" in opts)
        return "\n".join(f"{name} deleted" for name in deleted)       # [U] wording

    def _mkvdev(self, vios: Vios, opts: Dict[str, List[str]]) -> str:
        vtd = vios.mkvdev(_one(opts, "-vdev", "mkvdev"), _one(opts, "-vadapter", "mkvdev"),
                          _one(opts, "-dev", "mkvdev") if "-dev" in opts else None)
        return f"{vtd.name} {vtd.status}"

    def _lsdev(self, vios: Vios, opts: Dict[str, List[str]]) -> str:
        """`lsdev -type disk`, `lsdev -dev hdiskN`, `lsdev -dev hdiskN -attr unique_id` [U layouts]."""
        if "-dev" in opts:
            disk = vios.hdisk(_one(opts, "-dev", "lsdev"))
            if "-attr" in opts:
                attr = _one(opts, "-attr", "lsdev")
                values = {"unique_id": disk.unique_id, "pvid": "none"}
                if attr not in values:
                    raise IoscliError(f'lsdev: "{attr}" is not a valid attribute of {disk.name}.')   # [U]
                return f"value\n\n{values[attr]}"
            disks = [disk]
        elif opts.get("-type") == ["disk"]:
            disks = sorted(vios.hdisks.values(), key=lambda d: int(d.name[5:]))
        else:
            raise no_such_device(" ".join(f"{k} {' '.join(v)}" for k, v in opts.items()).strip())
        lines = [f"{'name':<17}{'status':<12}description"]
        lines += [f"{d.name:<17}{'Available':<12}{d.description}" for d in disks]
        return "\n".join(lines)
