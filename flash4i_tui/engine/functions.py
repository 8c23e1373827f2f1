"""The engine's side of the functions that run on the clone, and of bringing its logs back.

The agent on the clone does the work (re-identification, restart, BRMS, SAVE 21, user
commands) and reports in its status file /QOpenSys/flash4i/status/run<id>.json (keys: run_id,
state running|succeeded|failed|restricted, phase, progress 0-100, message, function_job
'nnnnnn/USER/NAME', agent_log, commands [{command, ok, msg_id, text}]). The engine follows that
file over SSH, does the production side of *BRMS (restore QUSRBRM, end the FlashCopy process),
and collects the clone's history log, the function's joblog and the agent's log.

The clone cannot be reached while it IPLs, restarts, or saves in restricted state, so the wait
is watched through the HMC: an IPL (or power down) that does not complete within the
environment's ipl_timeout fails the step, and so does a clone that completed its IPL but whose
agent stays silent that long (without a valid order it keeps the clone in restricted state).
A *SAVE21 clone saves before it can report, so only the IPL rule applies to it.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Iterable, List, Optional

from ..errors import DeviceError, Flash4iError, StepTimeout
from ..cl import cl_command
from ..store import models as m
from ..store.db import utcnow, write_transaction
from .context import Defs, RunContext
from .order import AGENT_DIR, status_path
from .steps import record_proof

FUNCTION_HOURS = {"*BRMS": 24, "*SAVE21": 24, "*USER": 12, "*NONE": 0}
UNREADABLE_POLLS = 3          # consecutive unreadable status files before the run fails
TERMINAL = ("succeeded", "failed", "restricted")
IPL_COMPLETE = "00000000"


def bound(defs: Defs) -> float:
    """The function's bound includes the clone's restart IPL after re-identification."""
    return FUNCTION_HOURS[defs.function] * 3600.0 + float(defs.env["ipl_timeout"])


def read_status(ctx: RunContext) -> Optional[dict]:
    """The agent's status file for this run, or None while the clone cannot be reached."""
    clone = ctx.defs.clone
    path = status_path(ctx.run.id)
    try:
        data = ctx.ibmi(clone).read_file(path)
    except DeviceError:
        # refused, dropped (PWRDWNSYS, ENDTCP) or cut mid-transfer: reconnect at the next poll
        ctx.forget(clone)
        return None
    if data is None:
        return None
    try:
        status = json.loads(data.decode())
    except (ValueError, UnicodeDecodeError):
        # A writer that does not replace the file whole can be caught mid-write: only a file that
        # stays unreadable over several polls is an error.
        ctx.unreadable_status += 1
        if ctx.unreadable_status < UNREADABLE_POLLS:
            return None
        raise DeviceError(clone.name, f"sftp {path}", f"unreadable agent status: {data[:200]!r}")
    ctx.unreadable_status = 0
    if not isinstance(status, dict):
        raise DeviceError(clone.name, f"sftp {path}", f"the agent status is not a JSON object: {data[:200]!r}")
    if status.get("run_id") != ctx.run.id:
        raise DeviceError(clone.name, "agent status", f"status file names run {status.get('run_id')}, not {ctx.run.id}")
    return status


class CloneWatch:
    """Bounds the silence of a clone that cannot be reached, from what the HMC shows."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.limit = float(ctx.defs.env["ipl_timeout"])
        self.heard = False
        self.ipl_since: Optional[float] = None      # IPL or power down in progress since
        self.up_since: Optional[float] = None       # IPL complete but the agent silent since

    def silent(self) -> None:
        """The clone did not answer: raise StepTimeout when it has been so for too long."""
        ctx, clone = self.ctx, self.ctx.defs.clone
        hmc = ctx.hmc(clone)
        system = clone.managed_system.name
        state = hmc.lpar(system, clone.lpar_name).state
        code = hmc.refcode(system, clone.lpar_name).code
        now = time.monotonic()
        if state == "Error":
            raise DeviceError(clone.name, "lpar state", f"partition {clone.lpar_name} is in state Error at "
                                                        f"reference code {code}", code)
        if state == "Running" and code == IPL_COMPLETE:
            self.ipl_since = None
            self.up_since = self.up_since or now
            waits_for_agent = not self.heard and ctx.defs.function != "*SAVE21"
            if waits_for_agent and now - self.up_since > self.limit:
                address = clone.address or clone.ssh_host
                raise StepTimeout(
                    f"clone {clone.lpar_name} completed its IPL but its agent did not report within "
                    f"{self.limit:.0f}s (no status over SSH at {address}): without a valid clone order the agent "
                    "keeps the clone in restricted state (no TCP/IP); see QSYSOPR on its console")
            ctx.progress(None, f"{clone.lpar_name}: IPL complete, waiting for the agent")
            return
        self.up_since = None
        self.ipl_since = self.ipl_since or now
        if now - self.ipl_since > self.limit:
            raise StepTimeout(f"clone {clone.lpar_name} did not complete its IPL within {self.limit:.0f}s "
                              f"(ipl_timeout): last state {state}, reference code {code or '(blank)'}")
        ctx.progress(None, f"{clone.lpar_name}: {state} {code}")

    def answered(self) -> None:
        self.heard = True
        self.ipl_since = self.up_since = None


def run_function(ctx: RunContext) -> str:
    """Follow the agent until the function ends; then the production side of *BRMS."""
    watch = CloneWatch(ctx)
    last = None
    while True:
        status = read_status(ctx)
        if status is None:
            watch.silent()
        else:
            watch.answered()
            ctx.function_status = status
            record_proof(ctx, status)
            line = f"{status.get('phase', '')}: {status.get('message', '')}".strip(": ")
            if line != last:
                ctx.log(f"agent: {line}", source=ctx.defs.clone.name)
                last = line
            ctx.progress(status.get("progress"), line)
            state = status.get("state")
            if state == "succeeded":
                break
            if state in ("failed", "restricted"):
                _fail(ctx, status)
        ctx.sleep(ctx.poll)
    detail = status.get("message") or "function completed"
    if ctx.defs.function == "*BRMS":
        detail += "; " + brms_on_production(ctx, status)
    return detail


def _fail(ctx: RunContext, status: dict) -> None:
    """The agent reports a failure: bring its logs back first (they say why), then fail the step."""
    message = status.get("message") or f"agent {status.get('state')}"
    try:
        message += f" (logs: {collect_logs(ctx)})"
    except Flash4iError as exc:
        message += f" (the logs could not be collected: {exc})"
    raise DeviceError(ctx.defs.clone.name, f"agent {status.get('phase', '')}".strip(), message)


def brms_restore_commands(brms: dict, save_file: str) -> tuple:
    """The CL that puts the clone's BRMS history into production's QUSRBRM and ends the BRMS
    FlashCopy process there: what the run sends and what `flash4i plan` shows."""
    return (cl_command("RSTLIB", SAVLIB="QUSRBRM", DEV="*SAVF", SAVF=save_file, MBROPT="*ALL", ALWOBJDIF="*ALL"),
            cl_command("INZBRM", OPTION=brms["option"], STATE=brms["state_end_process"]))


def brms_on_production(ctx: RunContext, status: dict) -> str:
    """Bring the clone's QUSRBRM back to production, restore it, end the FlashCopy process."""
    brms = ctx.defs.env["brms"]
    save_file = status.get("brms_save_file") or brms["save_file"]
    lib, savf = save_file.split("/")
    path = f"/QSYS.LIB/{lib}.LIB/{savf}.FILE"
    data = ctx.ibmi(ctx.defs.clone).read_file(path)
    if not data:
        raise DeviceError(ctx.defs.clone.name, f"sftp {path}", "the clone's QUSRBRM save file is missing or empty")
    prod = ctx.ibmi(ctx.defs.source)
    _cl_tolerating(prod, cl_command("CRTLIB", LIB=lib), "CPF2111")
    _cl_tolerating(prod, cl_command("CRTSAVF", FILE=f"{lib}/{savf}"), "CPF5813")
    prod.cl(cl_command("CLRSAVF", FILE=f"{lib}/{savf}"))
    prod.write_file(path, data)
    restore, end_process = brms_restore_commands(brms, save_file)
    prod.cl(restore, timeout=ctx.bounded(3600))
    prod.cl(end_process, timeout=ctx.bounded(1800))
    return f"QUSRBRM ({len(data)} bytes) restored on {ctx.defs.source.name}; INZBRM {brms['state_end_process']}"


def _cl_tolerating(ibmi, command: str, tolerated: str) -> None:
    from ..devices.ibmi import ClError
    try:
        ibmi.cl(command)
    except ClError as exc:
        if exc.msg_id != tolerated:
            raise


# ------------------------------------------------------------------ logs

LOG_KINDS = ("QHST", "JOBLOG", "AGENT")


def collect_logs(ctx: RunContext) -> str:
    """The clone's history log, the function's joblog and the agent's log: into the store, and
    into one folder per run on production's IFS. Collecting again replaces what was collected."""
    clone = ctx.ibmi(ctx.defs.clone)
    status = read_status(ctx) or ctx.function_status or {}
    record_proof(ctx, status)
    since = _aware(ctx.run.flash_time or ctx.run.started_at or utcnow() - timedelta(days=1))
    qhst = clone.history_log(since - timedelta(minutes=1), datetime.now(timezone.utc) + timedelta(minutes=1))
    joblog: List[dict] = []
    job = status.get("function_job")
    if job:
        joblog = clone.joblog(job)
    agent_text = ""
    if status.get("agent_log"):
        agent_text = (clone.read_file(status["agent_log"]) or b"").decode("utf-8", errors="replace")
    with write_transaction():
        m.LogEntry.delete().where((m.LogEntry.run == ctx.run.id) & m.LogEntry.kind.in_(LOG_KINDS)).execute()
    store_log(ctx.run.id, "QHST", ((r["timestamp"], r["msg_id"], r["severity"], r.get("from_job", ""), r["text"])
                                   for r in qhst))
    store_log(ctx.run.id, "JOBLOG", ((r["timestamp"], r["msg_id"], r["severity"], r["type"], r["text"])
                                     for r in joblog))
    store_log(ctx.run.id, "AGENT", (_agent_line(line) for line in agent_text.splitlines()))
    folder = write_logs_to_production(ctx, qhst, joblog, agent_text)
    purged = purge_old_logs(ctx)
    return (f"{len(qhst)} history log lines, {len(joblog)} joblog lines ({job or 'no function job'}), "
            f"{len(agent_text.splitlines())} agent log lines; copied to {folder} on {ctx.defs.source.name}"
            + (f"; purged {purged}" if purged else ""))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _agent_line(line: str) -> tuple:
    """An agent log line ('2026-01-01T00:00:00Z text') as a log row."""
    stamp, _, text = line.partition(" ")
    at = _as_utc(stamp)
    return (at, "", 0, "agent", text if at is not None else line)


def store_log(run_id: int, kind: str, rows: Iterable[tuple]) -> int:
    """Store log lines (timestamp, msg_id, severity, source, text) with the run, in batches."""
    from .context import _next_seq
    seq = _next_seq(run_id, kind)
    batch: List[dict] = []
    count = 0
    for at, msg_id, severity, source, text in rows:
        batch.append(dict(run=run_id, kind=kind, seq=seq, logged_at=_as_utc(at), msg_id=str(msg_id or "")[:10],
                          severity=int(severity or 0), source=str(source or "")[:60], text=str(text)))
        seq += 1
        if len(batch) >= 500:
            count += _insert(batch)
    return count + _insert(batch)


def _insert(batch: List[dict]) -> int:
    if batch:
        with write_transaction():
            m.LogEntry.insert_many(batch).execute()
    n = len(batch)
    batch.clear()
    return n


def _as_utc(value):
    """Timestamps (aware datetimes from the driver, ISO text from the agent) as naive UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    text = str(value).strip().replace("Z", "+00:00")
    for fmt in ("%Y-%m-%d-%H.%M.%S.%f", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def _lines(rows: List[dict], columns: Iterable[str]) -> bytes:
    cols = list(columns)
    text = "\n".join(" ".join(str(r.get(c) if r.get(c) is not None else "") for c in cols) for r in rows)
    return (text + "\n").encode() if rows else b""


def logs_folder(run_id: int) -> str:
    return f"{AGENT_DIR}/logs/run{run_id}"


def write_logs_to_production(ctx: RunContext, qhst: List[dict], joblog: List[dict], agent_text: str) -> str:
    prod = ctx.ibmi(ctx.defs.source)
    folder = logs_folder(ctx.run.id)
    prod.make_dirs(folder)
    prod.write_file(f"{folder}/qhst.txt", _lines(qhst, ("timestamp", "msg_id", "from_job", "text")))
    prod.write_file(f"{folder}/joblog.txt", _lines(joblog, ("timestamp", "msg_id", "type", "text")))
    prod.write_file(f"{folder}/agent.log", agent_text.encode())
    return folder


def purge_old_logs(ctx: RunContext) -> str:
    """Drop the logs of this environment's runs past the retention: the folders on production
    first, then the lines in the store (a run whose lines are gone is not looked at again)."""
    days = int(ctx.defs.env["log_retention_days"])
    cutoff = utcnow() - timedelta(days=days)
    with_logs = m.LogEntry.select(m.LogEntry.run).where(m.LogEntry.kind.in_(LOG_KINDS))
    old = [r.id for r in m.Run.select(m.Run.id).where(
        (m.Run.env_name == ctx.defs.env["name"]) & (m.Run.ended_at.is_null(False)) & (m.Run.ended_at < cutoff) &
        (m.Run.id != ctx.run.id) & m.Run.id.in_(with_logs))]
    if not old:
        return ""
    prod = ctx.ibmi(ctx.defs.source)
    folders = sum(1 for run_id in old if prod.remove_tree(logs_folder(run_id)))
    with write_transaction():
        removed = m.LogEntry.delete().where(m.LogEntry.run.in_(old) & m.LogEntry.kind.in_(LOG_KINDS)).execute()
    return f"{removed} log lines and {folders} folders of runs older than {days} days"
