"""The configuration schema and its validation.

Validation never stops at the first problem: every problem is collected with its field
path (environments[2].clone_identity.system_name) so `config validate` can list them all.
The result of a successful validation is the normalized configuration: every optional
field present with its default, in a fixed key order. Export writes that same form.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Sequence

from .. import families, names
from ..errors import ConfigError, ConfigProblem, ValidationError
from .yamlsrc import Located, Path_, dotted

FUNCTIONS = ("*NONE", "*BRMS", "*SAVE21", "*USER")
STORAGE_TYPES = families.NAMES
COPY_MODES = ("space_efficient", "full")
QUIESCE_ACTIONS = ("*END", "*CONT")
ATTACH_TYPES = ("npiv", "vscsi")
CONFIG_VERSION = 1

INVALID = object()
_NO_DEFAULT = object()

# IBM's own defaults where the references mark spellings unverified: configurable per environment.
BRMS_DEFAULTS = {
    "option": "*FLASHCOPY",
    "state_start_backup": "*STRBKU",
    "state_end_backup": "*ENDBKU",
    "state_end_process": "*ENDPRC",
}
SAVE21_DEFAULT_COMMANDS = [
    "ENDSBS SBS(*ALL) OPTION(*IMMED)",
    "SAVSYS DEV(TAP01)",
    "SAVLIB LIB(*NONSYS) DEV(TAP01) ACCPTH(*YES)",
    "SAVDLO DLO(*ALL) FLR(*ANY) DEV(TAP01)",
    "SAV DEV('/QSYS.LIB/TAP01.DEVD') OBJ(('/*') ('/QSYS.LIB' *OMIT) ('/QDLS' *OMIT)) UPDHST(*YES)",
    "STRSBS SBSD(QCTL)",
]


class Context:
    def __init__(self, located: Located | None):
        self.located = located
        self.problems: List[ConfigProblem] = []

    def problem(self, path: Path_, message: str) -> object:
        line = self.located.line_of(path) if self.located else None
        file = self.located.file if self.located else None
        self.problems.append(ConfigProblem(file, line, dotted(path), message))
        return INVALID


# ------------------------------------------------------------------ value specs

class Spec:
    def __call__(self, value: Any, path: Path_, ctx: Context) -> Any:
        raise NotImplementedError


class Str(Spec):
    def __init__(self, check: Optional[Callable[[str], str]] = None, choices: Sequence[str] = (), nullable=False):
        self.check, self.choices, self.nullable = check, tuple(choices), nullable

    def __call__(self, value, path, ctx):
        if value is None and self.nullable:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and self.check is not None:
            value = _number_text(value)   # e.g. an IP address typed without quotes is still a string
        if not isinstance(value, str):
            return ctx.problem(path, f"expected text, got {_type(value)}")
        bad = _unstorable(value)
        if bad:
            return ctx.problem(path, bad)
        if self.choices and value not in self.choices:
            return ctx.problem(path, f"{value!r} is not one of {', '.join(self.choices)}")
        if self.check:
            try:
                return self.check(value)
            except ValidationError as exc:
                return ctx.problem(path, str(exc))
        return value


class Int(Spec):
    def __init__(self, low: int | None = None, high: int | None = None):
        self.low, self.high = low, high

    def __call__(self, value, path, ctx):
        if isinstance(value, bool) or not isinstance(value, int):
            return ctx.problem(path, f"expected a whole number, got {_type(value)}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return ctx.problem(path, f"{_number_text(value)} is out of range ({self.low}-{self.high})")
        return value


class Bool(Spec):
    def __call__(self, value, path, ctx):
        if not isinstance(value, bool):
            return ctx.problem(path, f"expected true or false, got {_type(value)}")
        return value


class ListOf(Spec):
    def __init__(self, item: Spec, min_items: int = 0):
        self.item, self.min_items = item, min_items

    def __call__(self, value, path, ctx):
        if value is None:
            value = []
        if not isinstance(value, list):
            return ctx.problem(path, f"expected a list, got {_type(value)}")
        if len(value) < self.min_items:
            return ctx.problem(path, f"needs at least {self.min_items} entr{'y' if self.min_items == 1 else 'ies'}")
        # Invalid items stay in place (as INVALID or partial records) so later checks still run.
        return [self.item(v, path + (i,), ctx) for i, v in enumerate(value)]


class Field:
    def __init__(self, spec: Spec, default: Any = _NO_DEFAULT):
        self.spec, self.default = spec, default

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT


class Record(Spec):
    def __init__(self, fields: Dict[str, Field], check: Optional[Callable[[dict, Path_, Context], None]] = None):
        self.fields, self.check = fields, check

    def __call__(self, value, path, ctx):
        if not isinstance(value, dict):
            return ctx.problem(path, f"expected a mapping, got {_type(value)}")
        out: dict = {}
        bad = False
        for key in value:
            if key not in self.fields:
                hint = _secret_hint(key)
                ctx.problem(path + (key,), hint or f"unknown key (known: {', '.join(self.fields)})")
                bad = True
        for key, field in self.fields.items():
            if key not in value:
                if field.required:
                    out[key] = ctx.problem(path + (key,), "is required")
                    bad = True
                    continue
                default = field.default() if callable(field.default) else field.default
                if isinstance(field.spec, Record) and isinstance(default, dict):
                    # a missing section gets its own defaults (storage options: {} -> every option),
                    # so what is imported is the normalized form export writes
                    default = field.spec(default, path + (key,), ctx)
                out[key] = default
                continue
            if value[key] is None and field.default is None:
                out[key] = None          # an optional section written out as empty
                continue
            result = field.spec(value[key], path + (key,), ctx)
            bad |= result is INVALID
            out[key] = result
        if bad:
            return out      # partial: the bad fields hold INVALID
        if self.check:
            before = len(ctx.problems)
            self.check(out, path, ctx)
            if len(ctx.problems) > before:
                return out
        return out


def _number_text(value: int | float) -> str:
    """str(VALUE), but short: Python 3.11 refuses str() of an int of more than 4300 digits (ValueError)."""
    if isinstance(value, int) and abs(value) >= 10 ** 30:
        return f"{'-' if value < 0 else ''}a number of {value.bit_length()} bits"
    return str(value)


def _unstorable(value: str) -> str | None:
    """Why VALUE cannot be text in the store (PostgreSQL refuses NUL, UTF-8 has no lone surrogates)."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a character that is not valid Unicode (a lone surrogate escape)"
    return None


def _type(value: Any) -> str:
    if value is None:
        return "nothing"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


def _secret_hint(key: str) -> str | None:
    if key.lower() in ("password", "passwd", "secret", "pass"):
        return ("passwords are never stored in the configuration: use key_file, agent: true, "
                "or password_env: VARIABLE")
    return None


# ------------------------------------------------------------------ domain checks

def cl_command_text(value: str) -> str:
    """A CL command typed by the operator: one command, balanced quotes and parentheses."""
    if any(ord(c) < 32 for c in value):
        raise ValidationError(f"{value!r} contains a newline or control character; give one command per entry")
    text = value.strip()
    if not re.match(r"[A-Za-z][A-Za-z0-9]{0,9}(/[A-Za-z][A-Za-z0-9]{0,9})?(\s|$)", text):
        raise ValidationError(f"{value!r} does not start with a CL command name")
    depth, quoted = 0, False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth < 0:
                break
    if quoted or depth != 0:
        raise ValidationError(f"{value!r} has unbalanced quotes or parentheses")
    if len(text) > 6000:
        raise ValidationError("a CL command is limited to 6000 characters")
    return text


def qualified_object(value: str) -> str:
    """LIB/OBJ with IBM i names (a program or save file)."""
    parts = value.split("/")
    if len(parts) != 2:
        raise ValidationError(f"{value!r} is not a qualified name LIBRARY/OBJECT")
    names.ibmi_name(parts[0], "library name")
    names.ibmi_name(parts[1], "object name")
    return value


def qualified_journal(value: str) -> str:
    """LIB/JRN with IBM i names (a journal of the clone's proof)."""
    lib, sep, jrn = value.partition("/")
    if not sep:
        raise ValidationError(f"{value!r} is not a qualified journal name LIBRARY/JOURNAL")
    names.ibmi_name(lib, "library name")
    names.ibmi_name(jrn, "journal name")
    return value


def _special(choices: Sequence[str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not re.fullmatch(r"\*[A-Z0-9]{1,10}", value):
            raise ValidationError(f"{value!r} is not a CL special value (*NAME)")
        return value
    return check


def _auth_check(rec: dict, path: Path_, ctx: Context) -> None:
    given = [k for k in ("key_file", "agent", "password_env") if rec.get(k) not in (None, False)]
    if len(given) != 1:
        ctx.problem(path, "give exactly one of key_file, agent: true, password_env")


AUTH = Record({
    "key_file": Field(Str(nullable=True), None),
    "agent": Field(Bool(), False),
    "password_env": Field(Str(names.env_var, nullable=True), None),
}, check=_auth_check)


def _endpoint_fields(default_port: int) -> Dict[str, Field]:
    return {
        "host": Field(Str(names.host)),
        "port": Field(Int(1, 65535), default_port),
        "user": Field(Str(_user_name)),
        "auth": Field(AUTH),
        "known_hosts": Field(Str(nullable=True), None),
    }


def _user_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.$#@\-]{1,32}", value):
        raise ValidationError(f"{value!r} is not a valid user name")
    return value


NAME = Str(lambda v: names.ibmi_name(v, "name"))

HMC = Record({
    "name": Field(NAME),
    **_endpoint_fields(22),
    "managed_systems": Field(ListOf(Str(lambda v: names.hmc_name(v, "managed system name")), 1)),
    "description": Field(Str(), ""),
})

# The port each storage type listens on by default: SSH for SVC, the REST APIs for the others.
STORAGE_PORTS = {f.name: f.port for f in families.FAMILIES.values()}
REST_STORAGE_TYPES = families.named(transport="rest")


def _storage_check(rec: dict, path: Path_, ctx: Context) -> None:
    if rec["port"] is None:
        rec["port"] = STORAGE_PORTS[rec["type"]]
    if rec["type"] in REST_STORAGE_TYPES and not rec["auth"].get("password_env"):
        ctx.problem(path + ("auth",), f"a {rec['type']} REST API authenticates with a user and password: give "
                                      "password_env: VARIABLE")


def _suffix(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,16}", value):
        raise ValidationError(f"{value!r} is not a valid storage group name suffix (letters, digits, _ -)")
    return value


def _digits(what: str, length: Optional[int] = None) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not value.isdigit() or not value.isascii() or (length is not None and len(value) != length):
            raise ValidationError(f"{value!r} is not a valid {what}")
        return value
    return check


STORAGE = Record({
    "name": Field(NAME),
    "type": Field(Str(choices=STORAGE_TYPES)),
    **_endpoint_fields(22),
    "port": Field(Int(1, 65535), None),           # default by type (STORAGE_PORTS)
    "options": Field(Record({
        "pool": Field(Str(lambda v: names.svc_name(v, "pool name"), nullable=True), None),
        "verify_tls": Field(Bool(), True),
        "ca_file": Field(Str(nullable=True), None),
        "prepare_timeout": Field(Int(1, 3600), 300),
        # REST families: the bound of each request (seconds; the driver's default when empty)
        "request_timeout": Field(Int(1, 3600), None),
        # PowerMax: the array (found on Unisphere when it manages only one), the REST API version,
        # and the storage groups of a consistency group: <group><suffix>
        "symmetrix_id": Field(Str(_digits("Symmetrix id (12 digits)", 12), nullable=True), None),
        "api_version": Field(Str(_digits("Unisphere REST API version (e.g. 100)"), nullable=True), None),
        "source_sg_suffix": Field(Str(_suffix, nullable=True), None),
        "target_sg_suffix": Field(Str(_suffix, nullable=True), None),
        # Generations: the array's limit of copies per source volume (SVC FlashCopy mappings,
        # DS8000 relationships, PowerMax snapshots); the family's default when empty (COPY_LIMITS).
        "copies_per_source": Field(Int(1, 4096), None),
        # DS8000: whether the array does cascading FlashCopy (release 8.3 and later), which the
        # boot of a generation needs (a copy from the generation's targets onto the clone's disks)
        "cascading_flashcopy": Field(Bool(), True),
    }), dict),
    "description": Field(Str(), ""),
}, check=_storage_check)

PARTITION = Record({
    "name": Field(NAME),
    "hmc": Field(NAME),
    "managed_system": Field(Str(lambda v: names.hmc_name(v, "managed system name"))),
    "lpar_name": Field(Str(lambda v: names.hmc_name(v, "partition name"))),
    "lpar_id": Field(Int(1, 1000)),
    "profile": Field(Str(lambda v: names.hmc_name(v, "profile name"))),
    "ssh": Field(Record(_endpoint_fields(22))),
    # The partition's own IP address on the network, when SSH reaches it another way (a jump
    # host or a port forward); by default the SSH host is the address.
    "address": Field(Str(names.ip_address, nullable=True), None),
    # Host objects on the storage that are this partition's own (NPIV WWPNs): a target mapped
    # to any other host belongs to someone else and is refused.
    "storage_hosts": Field(ListOf(Str(lambda v: names.svc_name(v, "storage host name"))), list),
    "description": Field(Str(), ""),
})


def _interface_check(rec: dict, path: Path_, ctx: Context) -> None:
    if ":" in rec["address"]:
        ctx.problem(path + ("address",), "IPv6 clone interfaces are not supported yet; give an IPv4 address")


INTERFACE = Record({
    "address": Field(Str(names.ip_address)),
    "subnet_mask": Field(Str(names.subnet_mask)),
    "line": Field(Str(lambda v: names.ibmi_name(v, "line description name"))),
}, check=_interface_check)


def _attach_check(rec: dict, path: Path_, ctx: Context) -> None:
    if rec["type"] == "vscsi":
        for key in ("vios", "vhost", "storage_hosts"):
            if not rec.get(key):
                ctx.problem(path + (key,), "is required for vSCSI attachment")
    elif rec.get("vios") or rec.get("vhost") or rec.get("storage_hosts"):
        ctx.problem(path, "vios, vhost and storage_hosts apply to vSCSI attachment only")


def _copy_check(rec: dict, path: Path_, ctx: Context) -> None:
    if rec["mode"] == "space_efficient" and rec["rate"] != 0:
        ctx.problem(path + ("rate",), "a space-efficient copy has no background copy: rate must be 0")
    if rec["mode"] == "full" and rec["rate"] == 0:
        ctx.problem(path + ("rate",), "a full copy needs a background copy rate (1-150)")


ENVIRONMENT = Record({
    "name": Field(NAME),
    "description": Field(Str(), ""),
    "function": Field(Str(choices=FUNCTIONS)),
    "source": Field(NAME),
    "clone": Field(NAME),
    "storage": Field(NAME),
    "consistency_group": Field(Str(lambda v: names.svc_name(v, "consistency group name", 15))),
    "copy": Field(Record({
        "mode": Field(Str(choices=COPY_MODES), "space_efficient"),
        "rate": Field(Int(0, 150), 0),
    }, check=_copy_check), lambda: {"mode": "space_efficient", "rate": 0}),
    # Checked against the storage family's naming in the cross checks (which know the storage type).
    "volumes": Field(ListOf(Record({
        "source": Field(Str(names.any_storage_volume)),
        "target": Field(Str(names.any_storage_volume)),
        # generations > 1 (svc, ds8000): one target per generation; `target` stays the clone's own disk
        # (powermax: none, its generations are targetless snapshots linked to `target` at boot)
        "targets": Field(ListOf(Str(names.any_storage_volume)), list),
    }), 1)),
    # Recovery points kept (issue 13): 1 is one copy on the targets, as always.
    "generations": Field(Int(1, 4096), 1),
    "attach": Field(Record({
        "type": Field(Str(choices=ATTACH_TYPES)),
        "vios": Field(Str(lambda v: names.hmc_name(v, "VIOS partition name"), nullable=True), None),
        "vhost": Field(Str(names.vios_device, nullable=True), None),
        # the VIOS's own host objects on the storage (vSCSI): targets may be mapped only to them
        "storage_hosts": Field(ListOf(Str(lambda v: names.svc_name(v, "storage host name"))), list),
    }, check=_attach_check), lambda: {"type": "npiv", "vios": None, "vhost": None, "storage_hosts": []}),
    "quiesce": Field(Record({
        "timeout": Field(Int(1, 3600), 60),
        "action": Field(Str(choices=QUIESCE_ACTIONS), "*END"),
        # Whether a copy taken while suspended IPLs abnormally on this site's releases (the
        # reference expects it [U]; the lab's default does not): then the clone's proof rests on
        # the resumed marker alone, and QABNORMSW 1 is recorded but does not make it unproven.
        "abnormal_ipl_expected": Field(Bool(), False),
    }), lambda: {"timeout": 60, "action": "*END", "abnormal_ipl_expected": False}),
    # The clone's proof (issue 13): journals whose last sequence number is read on production just
    # before the suspend and just after the resume, and on the clone at its IPL; libraries whose
    # object counts the clone reports. Empty: the proof rests on the order, the resumed marker
    # and the IPL.
    "proof": Field(Record({
        "journals": Field(ListOf(Str(qualified_journal)), list),
        "libraries": Field(ListOf(Str(lambda v: names.ibmi_name(v, "library name"))), list),
    }), lambda: {"journals": [], "libraries": []}),
    "clone_identity": Field(Record({
        "system_name": Field(Str(names.system_name)),
        "interfaces": Field(ListOf(INTERFACE)),
        "default_route": Field(Str(names.ip_address, nullable=True), None),
        "hold_job_schedules": Field(Bool(), True),
        "end_job_scheduler": Field(Bool(), True),
    })),
    "brms": Field(Record({
        "control_groups": Field(ListOf(Str(lambda v: names.ibmi_name(v, "control group name")))),
        "option": Field(Str(_special(())), BRMS_DEFAULTS["option"]),
        "state_start_backup": Field(Str(_special(())), BRMS_DEFAULTS["state_start_backup"]),
        "state_end_backup": Field(Str(_special(())), BRMS_DEFAULTS["state_end_backup"]),
        "state_end_process": Field(Str(_special(())), BRMS_DEFAULTS["state_end_process"]),
        "save_file": Field(Str(qualified_object), "FLASH4I/QUSRBRM"),
    }), None),
    "save21": Field(Record({
        "commands": Field(ListOf(Str(cl_command_text), 1), lambda: list(SAVE21_DEFAULT_COMMANDS)),
    }), None),
    "user": Field(Record({
        "commands": Field(ListOf(Str(cl_command_text)), list),
        "program": Field(Str(qualified_object, nullable=True), None),
    }), None),
    "schedule": Field(Str(names.cron_expression, nullable=True), None),
    "stop_clone_after": Field(Bool(), False),
    "ipl_timeout": Field(Int(60, 24 * 3600), 4 * 3600),
    "log_retention_days": Field(Int(1, 3650), 30),
})

CONFIG = Record({
    "version": Field(Int(CONFIG_VERSION, CONFIG_VERSION)),
    "hmcs": Field(ListOf(HMC), list),
    "storage": Field(ListOf(STORAGE), list),
    "partitions": Field(ListOf(PARTITION), list),
    "environments": Field(ListOf(ENVIRONMENT), list),
})


# ------------------------------------------------------------------ cross references

def _records(items: Any) -> list:
    """(index, record) of the usable records of a section; indexes stay those of the file."""
    if not isinstance(items, list):
        return []
    return [(i, r) for i, r in enumerate(items) if isinstance(r, dict)]


def _valid(*values: Any) -> bool:
    return all(v is not INVALID and v is not None for v in values)


def _unique(items: list, path: Path_, ctx: Context) -> None:
    seen: Dict[str, int] = {}
    for i, item in items:
        name = item.get("name", INVALID)
        if not _valid(name):
            continue
        if name in seen:
            ctx.problem(path + (i, "name"), f"duplicate name {name!r} (also at {dotted(path + (seen[name],))})")
        else:
            seen[name] = i


def _cross_check(cfg: dict, ctx: Context) -> None:
    """Checks between records. Runs on partly invalid data too, so every problem is listed at once."""
    sec = {k: _records(cfg.get(k)) for k in ("hmcs", "storage", "partitions", "environments")}
    for section, items in sec.items():
        _unique(items, (section,), ctx)
    hmcs = {h["name"]: h for _, h in sec["hmcs"] if _valid(h.get("name"))}
    storage = {s["name"]: s.get("type") for _, s in sec["storage"] if _valid(s.get("name"))}
    partitions = {p["name"]: p for _, p in sec["partitions"] if _valid(p.get("name"))}
    lpar_keys: Dict[tuple, str] = {}
    for i, part in sec["partitions"]:
        path = ("partitions", i)
        hmc = hmcs.get(part.get("hmc"))
        if _valid(part.get("hmc")) and hmc is None:
            ctx.problem(path + ("hmc",), f"unknown HMC {part['hmc']!r}")
        elif hmc is not None and _valid(part.get("managed_system"), hmc.get("managed_systems")) \
                and part["managed_system"] not in hmc["managed_systems"]:
            ctx.problem(path + ("managed_system",),
                        f"{part['managed_system']!r} is not a managed system of HMC {hmc['name']}")
        key = (part.get("hmc"), part.get("managed_system"), part.get("lpar_id"))
        if _valid(*key):
            if key in lpar_keys:
                ctx.problem(path + ("lpar_id",), f"partition id {key[2]} is already partition {lpar_keys[key]}")
            lpar_keys[key] = part.get("name")
    all_sources: Dict[tuple, str] = {}
    for _, env in sec["environments"]:
        for _, pair in _records(env.get("volumes")):
            if _valid(env.get("storage"), pair.get("source")):
                all_sources[(env["storage"], pair["source"])] = env.get("name")
    for i, env in sec["environments"]:
        _check_environment(env, ("environments", i), partitions, storage, all_sources, ctx,
                           {s["name"]: s.get("options") for _, s in sec["storage"] if _valid(s.get("name"))})


# Copies one source volume can have on the array (generations count against it): the family's
# (families.py), or the storage's options.copies_per_source.
COPY_LIMITS = {f.name: f.copies_per_source for f in families.FAMILIES.values()}
GENERATION_FAMILIES_WITH_TARGETS = families.named(generations="targets")
GENERATION_FAMILIES_WITH_SNAPSHOTS = families.named(generations="snapshots")
GROUP_NAME_MAX = 15


def copy_limit(family: Optional[str], options: Optional[dict]) -> Optional[int]:
    given = (options or {}).get("copies_per_source")
    return given if isinstance(given, int) else COPY_LIMITS.get(family or "")


def generation_group(group: str, generation: int) -> str:
    """The consistency group of one generation: <consistency_group>_G<k>."""
    return f"{group}_G{generation}"


def _check_generations(env: dict, path: Path_, pairs: list, family: Optional[str], options: dict,
                       all_sources: dict, ctx: Context) -> None:
    gens = env.get("generations")
    if not isinstance(gens, int) or isinstance(gens, bool):
        return
    listed = [(j, p.get("targets")) for j, p in pairs if isinstance(p.get("targets"), list) and p.get("targets")]
    if gens == 1:
        for j, _ in listed:
            ctx.problem(path + ("volumes", j, "targets"), "targets (one per generation) need generations: 2 or more")
        return
    limit = copy_limit(family, options)
    if limit is not None and gens > limit:
        ctx.problem(path + ("generations",),
                    f"{gens} generations are more than {family} allows per source volume ({limit} copies): "
                    "lower generations (or set the storage's options.copies_per_source if the array allows more)")
    if env.get("function") not in ("*NONE", INVALID):
        ctx.problem(path + ("function",), "an environment with generations keeps recovery points: its function "
                                          "must be *NONE (boot one with flash4i rcvpnt boot)")
    group = env.get("consistency_group")
    if _valid(group) and len(generation_group(group, gens)) > GROUP_NAME_MAX:
        ctx.problem(path + ("consistency_group",),
                    f"{group!r} is too long for generations: {generation_group(group, gens)!r} is more than "
                    f"{GROUP_NAME_MAX} characters")
    if family in GENERATION_FAMILIES_WITH_SNAPSHOTS:
        # targetless snapshots (PowerMax SnapVX): nothing to name per generation
        for j, _ in listed:
            ctx.problem(path + ("volumes", j, "targets"), f"{family} keeps generations as targetless snapshots, "
                                                          "linked to the pair's target only at boot: give no targets")
        return
    if family not in GENERATION_FAMILIES_WITH_TARGETS:
        built = GENERATION_FAMILIES_WITH_TARGETS + GENERATION_FAMILIES_WITH_SNAPSHOTS
        ctx.problem(path + ("generations",), f"generations are not built for {family} storage "
                                             f"(only {', '.join(built)})")
        return
    seen: Dict[str, tuple] = {}
    for j, pair in pairs:
        targets = pair.get("targets")
        tpath = path + ("volumes", j, "targets")
        if not isinstance(targets, list) or len(targets) != gens:
            ctx.problem(tpath, f"give one target per generation ({gens})")
            continue
        for k, target in enumerate(targets):
            if not _valid(target):
                continue
            if family in STORAGE_TYPES:
                try:
                    names.storage_volume(family, target, f"{family} volume name")
                except ValidationError as exc:
                    ctx.problem(tpath + (k,), str(exc))
            others = [p.get("target") for _, p in pairs] + [p.get("source") for _, p in pairs]
            if target in seen or target in others:
                ctx.problem(tpath + (k,), f"volume {target!r} is listed twice")
            seen[target] = tpath + (k,)
            owner = all_sources.get((env.get("storage"), target))
            if owner:
                ctx.problem(tpath + (k,), f"target {target!r} is a source volume of environment {owner}: "
                                          "flashing onto it would overwrite a production disk")


def _check_environment(env: dict, path: Path_, partitions: dict, storage: Dict[str, Any], all_sources: dict,
                       ctx: Context, storage_options: Optional[dict] = None) -> None:
    storage_options = storage_options or {}
    for role in ("source", "clone"):
        if _valid(env.get(role)) and env[role] not in partitions:
            ctx.problem(path + (role,), f"unknown partition {env[role]!r}")
    src, cln = partitions.get(env.get("source")), partitions.get(env.get("clone"))
    if _valid(env.get("source")) and env.get("source") == env.get("clone"):
        ctx.problem(path + ("clone",), "the clone partition cannot be the source partition")
    elif src and cln and _valid(src.get("lpar_id")) and \
            (src.get("hmc"), src.get("managed_system"), src.get("lpar_id")) == \
            (cln.get("hmc"), cln.get("managed_system"), cln.get("lpar_id")):
        ctx.problem(path + ("clone",), "the clone partition is the same LPAR as the source")
    if _valid(env.get("storage")) and env["storage"] not in storage:
        ctx.problem(path + ("storage",), f"unknown storage system {env['storage']!r}")
    pairs = _records(env.get("volumes"))
    sources = [p.get("source") for _, p in pairs]
    targets = [p.get("target") for _, p in pairs]
    family = storage.get(env.get("storage"))
    for j, pair in pairs:
        vpath = path + ("volumes", j)
        for role in ("source", "target"):
            if family in STORAGE_TYPES and _valid(pair.get(role)):
                try:
                    names.storage_volume(family, pair[role], f"{family} volume name")
                except ValidationError as exc:
                    ctx.problem(vpath + (role,), str(exc))
        if _valid(pair.get("source")) and sources.count(pair["source"]) > 1:
            ctx.problem(vpath + ("source",), f"volume {pair['source']!r} is listed twice as a source")
        if not _valid(pair.get("target")):
            continue
        if targets.count(pair["target"]) > 1:
            ctx.problem(vpath + ("target",), f"volume {pair['target']!r} is listed twice as a target")
        owner = all_sources.get((env.get("storage"), pair["target"]))
        if owner:
            ctx.problem(vpath + ("target",),
                        f"target {pair['target']!r} is a source volume of environment {owner}: "
                        "flashing onto it would overwrite a production disk")
    _check_generations(env, path, pairs, family, storage_options.get(env.get("storage")) or {}, all_sources, ctx)
    fn = env.get("function")
    brms, user = env.get("brms"), env.get("user")
    if fn == "*BRMS" and brms is None:
        ctx.problem(path + ("brms",), "function *BRMS needs a brms section with control_groups")
    elif fn == "*BRMS" and isinstance(brms, dict) and brms.get("control_groups") == []:
        ctx.problem(path + ("brms", "control_groups"), "name at least one BRMS control group")
    if fn == "*USER" and (user is None or (isinstance(user, dict) and not user.get("commands")
                                           and not user.get("program"))):
        ctx.problem(path + ("user",), "function *USER needs user.commands or user.program")
    if fn == "*SAVE21" and env.get("save21") is None:
        env["save21"] = {"commands": list(SAVE21_DEFAULT_COMMANDS)}
    ident = env.get("clone_identity")
    if fn not in ("*NONE", INVALID) and isinstance(ident, dict) and ident.get("interfaces") == []:
        ctx.problem(path + ("clone_identity", "interfaces"),
                    "a clone that is started needs its own interface (logs come back over it)")


def validate(located: Located) -> dict:
    """Validate parsed YAML; return the normalized configuration or raise ConfigError with all problems."""
    ctx = Context(located)
    data = located.data
    if data is None:
        ctx.problem((), "the configuration is empty")
        raise ConfigError(ctx.problems)
    cfg = CONFIG(data, (), ctx)
    if isinstance(cfg, dict):
        _cross_check(cfg, ctx)
    if ctx.problems:
        raise ConfigError(ctx.problems)
    return cfg


def validate_environment(env: dict, cfg: dict | None = None, replacing: str | None = None) -> dict:
    """Validate one environment (from a panel) against the rest of the configuration.

    REPLACING is the name of the stored environment being changed (None for a new one).
    Problem fields are relative to the environment (clone_identity.system_name).
    """
    ctx = Context(None)
    out = ENVIRONMENT(env, (), ctx)
    if isinstance(out, dict) and cfg is not None:
        others = [e for e in cfg["environments"] if e["name"] != replacing]
        prefix = dotted(("environments", len(others)))
        ctx2 = Context(None)
        _cross_check(dict(cfg, environments=others + [out]), ctx2)
        for p in ctx2.problems:
            if p.field == prefix or p.field.startswith(prefix + "."):
                p.field = p.field[len(prefix):].lstrip(".")
                ctx.problems.append(p)
    if ctx.problems:
        raise ConfigError(ctx.problems)
    return out
