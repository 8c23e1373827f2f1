"""`flash4i check ENV`: a monitoring plugin (Nagios / Icinga / Naemon) and a PRTG sensor.

Nagios form, as the Monitoring Plugins development guidelines ask: one line
`FLASH4I <STATE> - <text> | <performance data>` on standard output and the exit code of the
state (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN); the plugin exits with no other code, whatever
happens. Performance data: `'label'=value[UOM];[warn];[crit];[min];[max]`, labels quoted,
UOM one of s, %, B (thresholds are plain upper bounds: alert above them).

States (the worst one wins; a known CRITICAL outranks an UNKNOWN device, which outranks a WARNING):
- the last finished run ended without a confirmed resume of production (its phase still inside
  the suspend window, or its RESUME step failed): CRITICAL, with the command to type on the
  console; this finding comes first;
- the last finished run FAILED: CRITICAL; it was CANCELLED, or it succeeded with a clone that
  is not proven a copy of production taken in the window (steps.record_proof): WARNING;
- the last success is older than --max-age HOURS: CRITICAL; older than --warn-age HOURS: WARNING;
  runs but never a success, with either limit given: the state of that limit;
- a running run past its step's bound, or whose worker is silent (no heartbeat for the
  worker's stale limit): CRITICAL; a run queued for QUEUED_WARN without a worker: WARNING;
- the suspended window of the newest run that recorded one above --crit-suspend: CRITICAL,
  above --warn-suspend: WARNING;
- the clone partition in state Error: CRITICAL;
- the storage or the HMC unreachable (or answering an error): UNKNOWN. The agent on the clone
  not answering is not a state: the clone restarts itself during a run;
- no run at all yet: WARNING. Not OK (no copy exists, someone should look), but not UNKNOWN
  either (the plugin knows the state exactly) nor CRITICAL (a new environment must not page
  anyone at night before its first slot).

PRTG form (--format prtg): the EXE/Script Advanced JSON `{"prtg": {"result": [...], "text": ...}}`
with named channels and units; the state is the "Status" channel (0-3) whose limits turn the
sensor to Warning (> 0) or Down (> 1); `{"prtg": {"error": 1, "text": ...}}` when the check
cannot run. PRTG reads the state from the JSON, so this form always exits 0.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional

from . import DEFAULT_TIMEOUT
from .status import ERROR, OK as PROBE_OK, UNREACHABLE, environment_status

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
_RANK = {OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3}       # which state wins when several apply
PREFIX = "FLASH4I"
QUEUED_WARN = 600.0            # seconds a run may wait for a worker before it is a warning
TEXT_LIMIT = 200               # characters of one run message in the status line
PRTG_TEXT_LIMIT = 2000         # PRTG keeps at most this many characters of the sensor message


class UsageError(ValueError):
    """Arguments the plugin cannot work with (UNKNOWN, as the guidelines ask)."""


@dataclass(frozen=True)
class Limits:
    warn_age_hours: Optional[float] = None
    max_age_hours: Optional[float] = None
    warn_suspend: float = 5.0
    crit_suspend: float = 30.0

    def __post_init__(self) -> None:
        for name in ("warn_age_hours", "max_age_hours", "warn_suspend", "crit_suspend"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise UsageError(f"--{name.replace('_hours', '').replace('_', '-')} must be a number >= 0")
        if self.warn_age_hours is not None and self.max_age_hours is not None and \
                self.warn_age_hours > self.max_age_hours:
            raise UsageError("--warn-age must not be above --max-age")
        if self.warn_suspend > self.crit_suspend:
            raise UsageError("--warn-suspend must not be above --crit-suspend")

    @property
    def warn_age(self) -> Optional[float]:
        return self.warn_age_hours * 3600 if self.warn_age_hours is not None else None

    @property
    def max_age(self) -> Optional[float]:
        return self.max_age_hours * 3600 if self.max_age_hours is not None else None


@dataclass(frozen=True)
class Finding:
    state: int
    text: str


@dataclass(frozen=True)
class PerfValue:
    label: str
    value: float
    uom: str = ""
    warn: Optional[float] = None
    crit: Optional[float] = None
    minimum: Optional[float] = None
    maximum: Optional[float] = None

    def render(self) -> str:
        fields = [_number(self.value) + self.uom] + \
            ["" if v is None else _number(v) for v in (self.warn, self.crit, self.minimum, self.maximum)]
        text = ";".join(fields).rstrip(";")
        return f"'{self.label}'={text}"


@dataclass
class CheckResult:
    environment: str
    findings: List[Finding]
    perfdata: List[PerfValue] = field(default_factory=list)
    status: Optional[dict] = None

    @property
    def state(self) -> int:
        return max((f.state for f in self.findings), key=_RANK.__getitem__, default=OK)

    @property
    def summary(self) -> str:
        ordered = sorted(self.findings, key=lambda f: -_RANK[f.state])
        return f"{self.environment}: " + "; ".join(f.text for f in ordered)


def _number(value: float) -> str:
    """A plain decimal (never 1e+06): what every perfdata parser reads."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _ago(seconds: Optional[float]) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _first_line(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= TEXT_LIMIT else line[:TEXT_LIMIT - 3] + "..."


def _utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso.rstrip("Z"))        # the status's times: naive UTC + "Z"


def _age_of(iso: Optional[str], now_iso: str) -> Optional[float]:
    return (_utc(now_iso) - _utc(iso)).total_seconds() if iso else None


# ------------------------------------------------------------------ the rules

def evaluate(status: dict, limits: Limits) -> CheckResult:
    """The state of one environment from its status (environment_status()): pure, so every rule
    is tested against plain data."""
    findings: List[Finding] = []
    findings += _production_findings(status)
    findings += _last_run_findings(status)
    findings += _age_findings(status, limits)
    findings += _active_run_findings(status)
    findings += _suspend_findings(status, limits)
    findings += _device_findings(status)
    return CheckResult(status["environment"], findings, _perfdata(status, limits), status)


def _production_findings(status: dict) -> List[Finding]:
    from ..engine.steps import RESUME_COMMAND
    last = status["last_run"]
    if last is None or not last.get("production_may_be_suspended"):
        return []
    return [Finding(CRITICAL, f"PRODUCTION MAY STILL BE SUSPENDED after run {last['id']}: on the console of "
                              f"{status['source']} type {RESUME_COMMAND}, or run: flash4i resume {last['id']}")]


def _last_run_findings(status: dict) -> List[Finding]:
    last, active = status["last_run"], status["active_run"]
    if last is None:
        # the active run, if any, is described by its own finding
        return [Finding(WARNING, "no finished run yet" if active is not None else "no run yet")]
    ago = _ago(_age_of(last["ended_at"], status["checked_at"]))
    if last["state"] == "FAILED":
        message = _first_line(last["message"])
        return [Finding(CRITICAL, f"last run {last['id']} FAILED {ago} ago" + (f": {message}" if message else ""))]
    if last["state"] == "CANCELLED":
        return [Finding(WARNING, f"last run {last['id']} was CANCELLED {ago} ago")]
    if last.get("proven") is False:
        why = last.get("proof_reasons") or []
        return [Finding(WARNING, f"last run {last['id']} SUCCEEDED {ago} ago, but its clone is NOT proven a "
                                 "quiesced copy of production" + (f": {why[0]}" if why else "") +
                                 " (see its product log)")]
    return [Finding(OK, f"last run {last['id']} SUCCEEDED {ago} ago")]


def _age_findings(status: dict, limits: Limits) -> List[Finding]:
    if limits.max_age is None and limits.warn_age is None:
        return []
    success = status["last_success"]
    worst = CRITICAL if limits.max_age is not None else WARNING
    if success is None:
        return [Finding(worst, "no successful run yet")] if status["last_run"] is not None else []
    age = success["age_seconds"]
    for limit, state, name in ((limits.max_age, CRITICAL, "--max-age"), (limits.warn_age, WARNING, "--warn-age")):
        if limit is not None and age is not None and age > limit:
            return [Finding(state, f"last success (run {success['id']}) is {_ago(age)} old "
                                   f"({name} {_number(limit / 3600)} h)")]
    return []


def _active_run_findings(status: dict) -> List[Finding]:
    from ..engine.worker import STALE_AFTER
    active = status["active_run"]
    if active is None:
        return []
    run = f"run {active['id']}"
    if active["state"] == "QUEUED":
        waited = active["waiting_seconds"] or 0.0
        if waited > QUEUED_WARN:
            return [Finding(WARNING, f"{run} queued for {_ago(waited)}: no worker has taken it")]
        return [Finding(OK, f"{run} queued")]
    step = active["step"]
    if step and step["overrun_seconds"]:
        return [Finding(CRITICAL, f"{run} stuck in step {step['name']} for {_ago(step['elapsed_seconds'])} "
                                  f"(bound {_ago(step['bound_seconds'])})")]
    silent = active["silent_seconds"]
    if silent is not None and silent > STALE_AFTER:
        return [Finding(CRITICAL, f"{run} has no live worker (no heartbeat for {_ago(silent)})")]
    where = f" in step {step['name']}" if step else ""
    return [Finding(OK, f"{run} running{where}")]


def _suspend_findings(status: dict, limits: Limits) -> List[Finding]:
    latest = status["latest"]["suspended_seconds"]
    if latest is None:
        return []
    window = latest["value"]
    for limit, state, name in ((limits.crit_suspend, CRITICAL, "critical"), (limits.warn_suspend, WARNING, "warning")):
        if window > limit:
            return [Finding(state, f"production was suspended {_number(window)}s in run {latest['run']} "
                                   f"({name} above {_number(limit)}s)")]
    return []


def _device_findings(status: dict) -> List[Finding]:
    findings = []
    for key, what in (("storage", "storage"), ("clone_partition", "HMC")):
        item = status[key]
        if item["probe"] in (UNREACHABLE, ERROR):
            word = "unreachable" if item["probe"] == UNREACHABLE else "error"
            findings.append(Finding(UNKNOWN, f"{what} {item['device']} {word}: {_first_line(item['error'])}"))
    clone = status["clone_partition"]
    if clone["probe"] == PROBE_OK:
        if clone["state"] == "Error":
            findings.append(Finding(CRITICAL, f"clone partition {clone['lpar']} is in Error, reference code "
                                              f"{clone['refcode'] or '(blank)'}"))
        else:
            findings.append(Finding(OK, f"clone {clone['lpar']} {clone['state']}"))
    return findings


def _perfdata(status: dict, limits: Limits) -> List[PerfValue]:
    latest = status["latest"]
    perf = []
    if latest["suspended_seconds"]:
        perf.append(PerfValue("suspend", latest["suspended_seconds"]["value"], "s", limits.warn_suspend,
                              limits.crit_suspend))
    if latest["duration"]:
        perf.append(PerfValue("duration", round(latest["duration"]["value"], 3), "s"))
    if latest["space_used_bytes"]:
        perf.append(PerfValue("space_used", latest["space_used_bytes"]["value"], "B"))
    success = status["last_success"]
    if success and success["age_seconds"] is not None:
        perf.append(PerfValue("age", round(success["age_seconds"]), "s", limits.warn_age, limits.max_age))
    copy = status["storage"].get("background_copy")
    if copy:
        perf.append(PerfValue("copy_progress", copy["progress"], "%", minimum=0, maximum=100))
    return perf


def check_environment(name: str, limits: Limits, devices: bool = True, timeout: float = DEFAULT_TIMEOUT,
                      now: Optional[datetime] = None) -> CheckResult:
    return evaluate(environment_status(name, devices=devices, timeout=timeout, now=now), limits)


# ------------------------------------------------------------------ output forms

def _clean(text: str) -> str:
    """One line without `|` (it starts the performance data)."""
    return " ".join(text.replace("|", "/").split())


def nagios_line(result: CheckResult) -> str:
    line = f"{PREFIX} {STATE_NAMES[result.state]} - {_clean(result.summary)}"
    if result.perfdata:
        line += " | " + " ".join(p.render() for p in result.perfdata)
    return line


def nagios_unknown(message: str) -> str:
    return f"{PREFIX} UNKNOWN - {_clean(message)}"


def _channel(name: str, value: float, unit: str, as_float: bool = False, **extra: Any) -> Dict[str, Any]:
    """One PRTG channel. PRTG reads a value as an integer unless the channel says float."""
    channel: Dict[str, Any] = {"channel": name, "unit": unit}
    if as_float or not float(value).is_integer():
        channel.update(value=round(float(value), 3), float=1, decimalmode="All")
    else:
        channel["value"] = int(value)
    channel.update(extra)
    return channel


def _limits(warn: Optional[float], error: Optional[float], what: str) -> Dict[str, Any]:
    """Upper limits of a channel (PRTG applies them when it creates the channel)."""
    if warn is None and error is None:
        return {}
    limits: Dict[str, Any] = {"limitmode": 1}
    if warn is not None:
        limits.update(limitmaxwarning=_plain(warn), limitwarningmsg=f"{what} above the warning limit")
    if error is not None:
        limits.update(limitmaxerror=_plain(error), limiterrormsg=f"{what} above the critical limit")
    return limits


def _plain(value: float) -> float:
    return int(value) if float(value).is_integer() else round(value, 3)


def prtg_document(result: CheckResult) -> dict:
    """The EXE/Script Advanced sensor result: one channel per figure, named, with its unit."""
    state = result.state
    status_channel = _channel("Status", state, "Custom", customunit="state", limitmode=1,
                              limitmaxwarning=0, limitmaxerror=1,
                              limitwarningmsg="flash4i check: WARNING",
                              limiterrormsg="flash4i check: CRITICAL or UNKNOWN")
    if state == WARNING:
        status_channel["warning"] = 1     # Warning whatever the channel's limits were edited to
    channels = [status_channel]
    by_label = {p.label: p for p in result.perfdata}
    if "suspend" in by_label:
        p = by_label["suspend"]
        channels.append(_channel("Suspended window", p.value, "Custom", as_float=True, customunit="s",
                                 **_limits(p.warn, p.crit, "suspended window")))
    if "duration" in by_label:
        channels.append(_channel("Duration", round(by_label["duration"].value), "TimeSeconds"))
    if "space_used" in by_label:
        channels.append(_channel("Space used", by_label["space_used"].value, "BytesDisk", volumesize="GigaByte"))
    if "age" in by_label:
        p = by_label["age"]
        channels.append(_channel("Age of last success", p.value, "TimeSeconds",
                                 **_limits(p.warn, p.crit, "age of the last success")))
    if "copy_progress" in by_label:
        channels.append(_channel("Background copy", by_label["copy_progress"].value, "Percent"))
    text = f"{STATE_NAMES[state]}: {_clean(result.summary)}"
    return {"prtg": {"result": channels, "text": text[:PRTG_TEXT_LIMIT]}}


def prtg_error(message: str) -> dict:
    return {"prtg": {"error": 1, "text": _clean(f"flash4i check: {message}")[:PRTG_TEXT_LIMIT]}}


# ------------------------------------------------------------------ the command

def run_check(args: Any) -> int:
    """`flash4i check`: print one result and return its exit code. Never raises."""
    prtg = getattr(args, "format", "nagios") == "prtg"
    try:
        limits = Limits(args.warn_age, args.max_age, args.warn_suspend, args.crit_suspend)
        if not (args.timeout > 0 and math.isfinite(args.timeout)):
            raise UsageError("--timeout must be a number of seconds above 0")
        from ..store import open_store
        open_store(args.db)
        result = check_environment(args.env, limits, devices=not args.no_devices, timeout=args.timeout)
    except UsageError as exc:
        return report_unknown(f"invalid arguments: {exc}", prtg)
    except (Exception, KeyboardInterrupt) as exc:    # a plugin reports UNKNOWN, never a traceback
        return report_unknown(_problem(exc), prtg)
    if prtg:
        print(json.dumps(prtg_document(result), indent=2))
        return 0
    print(nagios_line(result))
    return result.state


def report_unknown(message: str, prtg: bool) -> int:
    if prtg:
        print(json.dumps(prtg_error(message), indent=2))
        return 0
    print(nagios_unknown(message))
    return UNKNOWN


def _problem(exc: BaseException) -> str:
    from ..errors import Flash4iError
    if isinstance(exc, Flash4iError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"internal error {type(exc).__name__}: {exc}"


def usage_error(message: str) -> None:
    """For the `check` argument parser: bad arguments are UNKNOWN (exit 3), in the asked format."""
    argv = sys.argv[1:]
    prtg = "--format=prtg" in argv or any(a == "--format" and b == "prtg" for a, b in zip(argv, argv[1:]))
    sys.stdout.flush()
    sys.exit(report_unknown(f"invalid arguments: {message}", prtg))
