"""The engine's side of the functions that run on the clone, and of bringing its logs back.

The agent on the clone does the work (re-identification, restart, BRMS, SAVE 21, user
commands) and reports in a status file; the engine follows that file over SSH, does the
production side of *BRMS (restore QUSRBRM, end the FlashCopy process), and collects the
clone's history log, the function's joblog and the agent's log.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Iterable, List, Optional

from ..errors import DeviceError, DeviceUnreachable
from ..names import cl_command
from ..store import models as m
from ..store.db import utcnow, write_transaction
from .context import Defs, RunContext
from .order import AGENT_DIR, status_path

FUNCTION_HOURS = {"*BRMS": 24, "*SAVE21": 24, "*USER": 12, "*NONE": 0}
TERMINAL = ("succeeded", "failed", "restricted")


def bound(defs: Defs) -> float:
    """The function's bound includes the clone's restart IPL after re-identification."""
    return FUNCTION_HOURS[defs.function] * 3600.0 + float(defs.env["ipl_timeout"])


def read_status(ctx: RunContext) -> Optional[dict]:
    """The agent's status file for this run, or None while the clone cannot be reached."""
    clone = ctx.defs.clone
    try:
        data = ctx.ibmi(clone).read_file(status_path(ctx.run.id))
    except DeviceUnreachable:
        ctx.forget(clone)          # the clone restarts or changes address: reconnect next time
        return None
    if data is None:
        return None
    try:
        status = json.loads(data.decode())
    except (ValueError, UnicodeDecodeError):
        raise DeviceError(clone.name, f"sftp {status_path(ctx.run.id)}", f"unreadable agent status: {data[:200]!r}")
    if status.get("run_id") != ctx.run.id:
        raise DeviceError(clone.name, "agent status", f"status file names run {status.get('run_id')}, not {ctx.run.id}")
    return status


def run_function(ctx: RunContext) -> str:
    """Follow the agent until the function ends; then the production side of *BRMS."""
    last = None
    while True:
        status = read_status(ctx)
        if status is not None:
            ctx.function_status = status
            line = f"{status.get('phase', '')}: {status.get('message', '')}".strip(": ")
            if line != last:
                ctx.log(f"agent: {line}", source=ctx.defs.clone.name)
                last = line
            ctx.progress(status.get("progress"), line)
            state = status.get("state")
            if state == "succeeded":
                break
            if state in ("failed", "restricted"):
                raise DeviceError(ctx.defs.clone.name, "agent", status.get("message") or f"agent {state}")
        ctx.sleep(ctx.poll)
    detail = status.get("message") or "function completed"
    if ctx.defs.function == "*BRMS":
        detail += "; " + brms_on_production(ctx, status)
    return detail


def brms_on_production(ctx: RunContext, status: dict) -> str:
    """Bring the clone's QUSRBRM back to production, restore it, end the FlashCopy process."""
    brms = ctx.defs.env["brms"]
    lib, savf = brms["save_file"].split("/")
    path = f"/QSYS.LIB/{lib}.LIB/{savf}.FILE"
    data = ctx.ibmi(ctx.defs.clone).read_file(path)
    if not data:
        raise DeviceError(ctx.defs.clone.name, f"sftp {path}", "the clone's QUSRBRM save file is missing or empty")
    prod = ctx.ibmi(ctx.defs.source)
    _cl_tolerating(prod, cl_command("CRTLIB", LIB=lib), "CPF2111")
    _cl_tolerating(prod, cl_command("CRTSAVF", FILE=f"{lib}/{savf}"), "CPF5813")
    prod.cl(cl_command("CLRSAVF", FILE=f"{lib}/{savf}"))
    prod.write_file(path, data)
    prod.cl(cl_command("RSTLIB", SAVLIB="QUSRBRM", DEV="*SAVF", SAVF=f"{lib}/{savf}", MBROPT="*ALL",
                       ALWOBJDIF="*ALL"), timeout=ctx.bounded(3600))
    prod.cl(cl_command("INZBRM", OPTION=brms["option"], STATE=brms["state_end_process"]), timeout=ctx.bounded(1800))
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
    into one folder per run on production's IFS."""
    clone = ctx.ibmi(ctx.defs.clone)
    status = getattr(ctx, "function_status", None) or read_status(ctx) or {}
    since = ctx.run.flash_time or ctx.run.started_at or utcnow() - timedelta(days=1)
    qhst = clone.history_log(since - timedelta(minutes=1), utcnow() + timedelta(minutes=1))
    store_log(ctx.run.id, "QHST", ((r.get("MESSAGE_TIMESTAMP"), r.get("MESSAGE_ID") or "", r.get("SEVERITY") or 0,
                                   r.get("FROM_JOB") or "", r.get("MESSAGE_TEXT") or "") for r in qhst))
    joblog: List[dict] = []
    job = status.get("function_job")
    if job:
        joblog = clone.joblog(job)
        store_log(ctx.run.id, "JOBLOG", ((r.get("MESSAGE_TIMESTAMP"), r.get("MESSAGE_ID") or "",
                                          r.get("SEVERITY") or 0, r.get("MESSAGE_TYPE") or "",
                                          r.get("MESSAGE_TEXT") or "") for r in joblog))
    agent_text = ""
    if status.get("agent_log"):
        agent_text = (clone.read_file(status["agent_log"]) or b"").decode("utf-8", errors="replace")
        store_log(ctx.run.id, "AGENT", ((None, "", 0, "agent", line) for line in agent_text.splitlines()))
    folder = write_logs_to_production(ctx, qhst, joblog, agent_text)
    purged = purge_old_logs(ctx)
    return (f"{len(qhst)} history log lines, {len(joblog)} joblog lines ({job or 'no job'}), "
            f"{len(agent_text.splitlines())} agent log lines; copied to {folder}"
            + (f"; purged {purged}" if purged else ""))


def store_log(run_id: int, kind: str, rows: Iterable[tuple]) -> int:
    """Store log lines (timestamp, msg_id, severity, source, text) with the run, in batches."""
    from .context import _next_seq
    seq = _next_seq(run_id, kind)
    batch: List[dict] = []
    count = 0
    for at, msg_id, severity, source, text in rows:
        batch.append(dict(run=run_id, kind=kind, seq=seq, logged_at=_as_utc(at), msg_id=str(msg_id)[:10],
                          severity=int(severity or 0), source=str(source)[:60], text=str(text)))
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
    """db2util timestamps ('2026-11-24-23.59.01.123456' or ISO) to naive UTC datetimes."""
    from datetime import datetime, timezone
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
    return ("\n".join(" ".join(str(r.get(c) or "") for c in cols) for r in rows) + "\n").encode()


def logs_folder(run_id: int) -> str:
    return f"{AGENT_DIR}/logs/run{run_id}"


def write_logs_to_production(ctx: RunContext, qhst: List[dict], joblog: List[dict], agent_text: str) -> str:
    prod = ctx.ibmi(ctx.defs.source)
    folder = logs_folder(ctx.run.id)
    prod.make_dirs(folder)
    prod.write_file(f"{folder}/qhst.txt", _lines(qhst, ("MESSAGE_TIMESTAMP", "MESSAGE_ID", "MESSAGE_TEXT")))
    prod.write_file(f"{folder}/joblog.txt", _lines(joblog, ("MESSAGE_TIMESTAMP", "MESSAGE_ID", "MESSAGE_TEXT")))
    prod.write_file(f"{folder}/agent.log", agent_text.encode())
    return folder


def purge_old_logs(ctx: RunContext) -> str:
    """Drop log lines and production log folders of this environment's runs past the retention."""
    days = int(ctx.defs.env["log_retention_days"])
    cutoff = utcnow() - timedelta(days=days)
    old = [r.id for r in m.Run.select(m.Run.id).where(
        (m.Run.env_name == ctx.defs.env["name"]) & (m.Run.ended_at.is_null(False)) & (m.Run.ended_at < cutoff) &
        (m.Run.id != ctx.run.id))]
    if not old:
        return ""
    with write_transaction():
        removed = m.LogEntry.delete().where(m.LogEntry.run.in_(old) & m.LogEntry.kind.in_(LOG_KINDS)).execute()
    prod = ctx.ibmi(ctx.defs.source)
    folders = 0
    for run_id in old:
        if prod.remove_tree(logs_folder(run_id)):
            folders += 1
    return f"{removed} log lines and {folders} folders of runs older than {days} days"
