"""Status of environments: what the store knows (runs, steps, schedule) and what the devices
say now (FlashCopy group on the storage, clone partition on the HMC, the function's progress
on the clone).

Device calls go through the product's drivers, each bounded by a short timeout, the devices
of one environment asked in parallel. A device that fails is reported in its own item
(`probe`: ok | unreachable | error | not_checked) and never stops the rest.
"""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..devices.ssh import Endpoint, SshSession
from ..errors import DeviceUnreachable, Flash4iError, StepTimeout
from ..store import models as m
from ..store import queries
from ..store.db import utcnow
from . import DEFAULT_TIMEOUT

FINISHED = ("SUCCEEDED", "FAILED", "CANCELLED")
OK, UNREACHABLE, ERROR, NOT_CHECKED = "ok", "unreachable", "error", "not_checked"
NOT_ASKED = "--no-devices"


# ------------------------------------------------------------------ talking to devices

class DeviceProbe:
    """The device side of one status or check call: one SSH session per device, every call
    bounded, and a device found unreachable is not tried again within the same call."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT):
        self.timeout = timeout
        # connection + a couple of commands, each bounded by `timeout`; the backstop for what
        # has no timeout of its own (an SFTP read that hangs)
        self.deadline = 3 * timeout + 1
        self.sessions: Dict[str, SshSession] = {}
        self.down: Dict[str, str] = {}
        self._lock = threading.Lock()

    def _session(self, endpoint: Endpoint) -> SshSession:
        with self._lock:
            session = self.sessions.get(endpoint.name)
            if session is None:
                bounded = dataclasses.replace(endpoint, connect_timeout=min(endpoint.connect_timeout, self.timeout))
                session = self.sessions[endpoint.name] = SshSession(bounded)
            return session

    def _mark_down(self, name: str, message: str) -> None:
        with self._lock:
            self.down.setdefault(name, message)
            session = self.sessions.pop(name, None)
        if session is not None:
            session.close()

    def call(self, endpoint: Endpoint, fn: Callable[[SshSession], Any]) -> Tuple[str, Any, Optional[str]]:
        """(probe, value, error) of FN run against ENDPOINT's session."""
        known = self.down.get(endpoint.name)
        if known is not None:
            return UNREACHABLE, None, known
        try:
            return OK, fn(self._session(endpoint)), None
        except (DeviceUnreachable, StepTimeout) as exc:     # no connection, or no answer in time
            self._mark_down(endpoint.name, str(exc))
            return UNREACHABLE, None, str(exc)
        except Flash4iError as exc:                          # the device answered with an error
            return ERROR, None, str(exc)
        except Exception as exc:
            return ERROR, None, f"{endpoint.name}: {type(exc).__name__}: {exc}"

    def gather(self, calls: Dict[str, Tuple[Endpoint, Callable[[SshSession], Any]]]) -> Dict[str, tuple]:
        """Run CALLS in parallel; whatever has not answered by the deadline is unreachable."""
        results: Dict[str, tuple] = {}
        threads = []
        for key, (endpoint, fn) in calls.items():
            def work(key=key, endpoint=endpoint, fn=fn) -> None:
                results[key] = self.call(endpoint, fn)
            thread = threading.Thread(target=work, name=f"probe-{endpoint.name}", daemon=True)
            thread.start()
            threads.append((key, endpoint, thread))
        end = time.monotonic() + self.deadline
        answered: Dict[str, tuple] = {}
        for key, endpoint, thread in threads:
            thread.join(max(0.0, end - time.monotonic()))
            if thread.is_alive():
                message = f"{endpoint.name}: no answer within {self.deadline:.0f}s"
                self._mark_down(endpoint.name, message)
                answered[key] = (UNREACHABLE, None, message)
            else:
                answered[key] = results[key]
        return answered

    def close(self) -> None:
        with self._lock:
            sessions, self.sessions = list(self.sessions.values()), {}
        for session in sessions:
            session.close()


# ------------------------------------------------------------------ the store side

def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def _seconds(later: datetime, earlier: Optional[datetime]) -> Optional[float]:
    return round((later - earlier).total_seconds(), 3) if earlier else None


def _naive_utc(moment: Optional[datetime]) -> datetime:
    if moment is None:
        return utcnow()
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def may_be_suspended(run: m.Run) -> bool:
    """RUN ended without a confirmed resume after it suspended (or may have suspended)
    production: its phase is still inside the window, or its RESUME step failed."""
    from ..engine.phases import SUSPEND_WINDOW
    if run.resume_confirmed:
        return False
    resume_failed = m.Step.select().where((m.Step.run == run) & (m.Step.name == "RESUME")
                                          & (m.Step.status == "FAILED")).exists()
    return run.phase in SUSPEND_WINDOW or resume_failed


def run_result(run: m.Run) -> dict:
    """A finished run as the status shows it."""
    return {"id": run.id, "state": run.state, "function": run.function, "requested_by": run.requested_by,
            "requested_at": _iso(run.requested_at), "started_at": _iso(run.started_at),
            "ended_at": _iso(run.ended_at), "duration": run.duration, "suspended_seconds": run.suspended_seconds,
            "resume_confirmed": run.resume_confirmed, "production_may_be_suspended": may_be_suspended(run),
            "proven": run.proven, "proof_reasons": list((run.proof or {}).get("reasons") or []),
            "space_used_bytes": run.space_used_bytes, "message": run.message, "schedule_slot": _iso(run.schedule_slot)}


def active_run_state(run: m.Run, now: datetime) -> dict:
    """A queued or running run: where it is, for how long, and whether its worker is alive."""
    step = (m.Step.select().where((m.Step.run == run) & (m.Step.status == "RUNNING"))
            .order_by(m.Step.seq.desc()).first())
    step_info = None
    if step is not None:
        elapsed = _seconds(now, step.started_at)
        overrun = None
        if elapsed is not None and step.bound_seconds is not None:
            overrun = round(max(0.0, elapsed - step.bound_seconds), 3)
        step_info = {"name": step.name, "started_at": _iso(step.started_at), "elapsed_seconds": elapsed,
                     "bound_seconds": step.bound_seconds, "overrun_seconds": overrun, "progress": step.progress,
                     "detail": step.detail}
    # The last sign of life of the run's worker: its heartbeat, else the moment it last moved.
    alive_at = run.heartbeat_at or (step.started_at if step is not None else None) or run.started_at
    return {"id": run.id, "state": run.state, "function": run.function, "requested_by": run.requested_by,
            "requested_at": _iso(run.requested_at), "started_at": _iso(run.started_at), "phase": run.phase,
            "current_step": run.current_step, "worker": run.worker, "heartbeat_at": _iso(run.heartbeat_at),
            "silent_seconds": _seconds(now, alive_at) if run.state == "RUNNING" else None,
            "waiting_seconds": _seconds(now, run.requested_at) if run.state == "QUEUED" else None,
            "cancel_requested": run.cancel_requested, "step": step_info}


def _newest_finished(env: m.Environment, *conditions) -> Optional[m.Run]:
    query = m.Run.select().where((m.Run.environment == env) & m.Run.state.in_(FINISHED))
    for condition in conditions:
        query = query.where(condition)
    return query.order_by(m.Run.id.desc()).first()


def latest_values(env: m.Environment) -> dict:
    """The newest recorded value of each run figure (a failed run may lack some), with its run."""
    values = {}
    for key, field in (("suspended_seconds", m.Run.suspended_seconds), ("duration", m.Run.duration),
                       ("space_used_bytes", m.Run.space_used_bytes)):
        run = _newest_finished(env, field.is_null(False))
        values[key] = {"run": run.id, "value": getattr(run, key)} if run else None
    return values


# ------------------------------------------------------------------ the device side

def _item(device: str, outcome: tuple) -> dict:
    probe, _, error = outcome
    return {"device": device, "probe": probe, "error": error, "reason": None}


def _storage_call(env: m.Environment, timeout: float):
    from ..devices.storage import GroupSpec, connect
    from ..devices.storage.base import VolumePair
    from ..engine.context import storage_endpoint
    storage = env.storage
    endpoint = storage_endpoint(storage)
    pairs = tuple(VolumePair(p.source, p.target) for p in env.volume_pairs.order_by(m.VolumePair.seq))
    groups = {env.consistency_group: GroupSpec(pairs, env.copy_rate)}

    def read(session: SshSession):
        # svc answers over the probe's SSH session; the REST families over their own HTTPS session.
        driver = connect(storage.type, endpoint, storage.options or {}, ssh=lambda _: session, groups=groups,
                         timeout=timeout)
        try:
            return driver.group_state(env.consistency_group)
        finally:
            if driver.session is not session:
                driver.session.close()
    return endpoint, read


def storage_item(env: m.Environment, outcome: tuple) -> dict:
    item = dict(_item(env.storage.name, outcome), group=env.consistency_group, exists=None, status=None,
                start_time=None, background_copy=None, mappings=[])
    group = outcome[1]
    if outcome[0] != OK:
        return item
    item["exists"] = group is not None
    if group is None:
        return item
    copying = [mp for mp in group.mappings if mp.copy_rate > 0]
    item.update(status=group.status, start_time=group.start_time, mappings=[
        {"name": mp.name, "source": mp.source, "target": mp.target, "status": mp.status, "progress": mp.progress,
         "copy_rate": mp.copy_rate, "start_time": mp.start_time} for mp in group.mappings])
    if copying:   # copy rate 0 is a space-efficient snapshot: there is no background copy to follow
        item["background_copy"] = {"progress": min(mp.progress for mp in copying),
                                   "copy_rate": max(mp.copy_rate for mp in copying)}
    return item


def _hmc_call(env: m.Environment, timeout: float):
    from ..devices.hmc import HmcDriver
    from ..engine.context import hmc_endpoint
    clone = env.clone
    system = clone.managed_system.name
    endpoint = hmc_endpoint(clone)

    def read(session: SshSession):
        hmc = HmcDriver(session, endpoint.name, command_timeout=timeout)
        return hmc.lpar(system, clone.lpar_name), hmc.refcode(system, clone.lpar_name)
    return endpoint, read


def clone_item(env: m.Environment, outcome: tuple) -> dict:
    clone = env.clone
    item = dict(_item(clone.managed_system.hmc.name, outcome), system=clone.managed_system.name,
                lpar=clone.lpar_name, lpar_id=clone.lpar_id, state=None, refcode=None, refcode_time=None)
    if outcome[0] == OK:
        info, ref = outcome[1]
        item.update(state=info.state, refcode=ref.code, refcode_time=ref.time)
    return item


def _agent_call(env: m.Environment, run_id: int):
    from ..devices.ibmi import IbmiDriver
    from ..engine.context import ibmi_endpoint
    from ..engine.order import status_path
    endpoint = ibmi_endpoint(env.clone)
    path = status_path(run_id)

    def read(session: SshSession):
        return IbmiDriver(session, endpoint.name).read_file(path)
    return endpoint, read


AGENT_KEYS = ("run_id", "state", "phase", "progress", "message", "updated_at")


def function_item(env: m.Environment, run_id: Optional[int], outcome: tuple, reason: Optional[str] = None) -> dict:
    item = dict(_item(env.clone.name, outcome), run=run_id, **{k: None for k in AGENT_KEYS if k != "run_id"})
    if outcome[0] != OK:
        item["reason"] = reason
        return item
    data = outcome[1]
    if data is None:
        item["reason"] = "the agent has not written its status yet"
        return item
    try:
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        item.update(probe=ERROR, error=f"{env.clone.name}: unreadable agent status file: {exc}")
        return item
    if doc.get("run_id") not in (None, run_id):
        item["reason"] = f"the status file belongs to run {doc.get('run_id')}"
        return item
    progress = doc.get("progress")
    item.update(state=doc.get("state"), phase=doc.get("phase"), message=doc.get("message"),
                updated_at=doc.get("updated_at"),
                progress=progress if isinstance(progress, (int, float)) and not isinstance(progress, bool) else None)
    return item


def _clone_started(active: Optional[m.Run]) -> bool:
    return active is not None and active.state == "RUNNING" and active.phase == "CLONE_STARTED"


def device_items(env: m.Environment, active: Optional[m.Run], probe: Optional[DeviceProbe]) -> dict:
    """The storage, clone partition and agent items; every device of ENV asked at once."""
    skipped = (NOT_CHECKED, None, None)
    run_id = active.id if active is not None else None
    if probe is None:
        return {"storage": dict(storage_item(env, skipped), reason=NOT_ASKED),
                "clone_partition": dict(clone_item(env, skipped), reason=NOT_ASKED),
                "function_progress": function_item(env, run_id, skipped, NOT_ASKED)}
    calls = {"storage": _storage_call(env, probe.timeout), "clone": _hmc_call(env, probe.timeout)}
    if _clone_started(active):
        calls["agent"] = _agent_call(env, active.id)
    outcomes = probe.gather(calls)
    items = {"storage": storage_item(env, outcomes["storage"]),
             "clone_partition": clone_item(env, outcomes["clone"])}
    if "agent" not in calls:
        why = "no active run" if active is None else \
            f"run {active.id} has not started the clone" + (f" (step {active.current_step})" if active.current_step else "")
        items["function_progress"] = function_item(env, run_id, skipped, why)
        return items
    lpar_state = items["clone_partition"]["state"]
    if lpar_state is not None and lpar_state != "Running":
        # A clone that is not up cannot answer: say so rather than "unreachable".
        items["function_progress"] = function_item(env, run_id, skipped, f"the clone partition is {lpar_state}")
    else:
        items["function_progress"] = function_item(env, active.id, outcomes["agent"])
    return items


# ------------------------------------------------------------------ one environment

def environment_status(env: Any, devices: bool = True, timeout: float = DEFAULT_TIMEOUT,
                       now: Optional[datetime] = None, probe: Optional[DeviceProbe] = None,
                       tz=None) -> dict:
    """Everything known about ENV (a name or an Environment row) as plain data with stable keys.

    NOW (naive UTC or aware) fixes the clock for ages; PROBE shares device sessions between
    environments (one is made, and closed, here when devices are asked and none is given)."""
    from ..engine.scheduler import schedule_info
    env = queries.environment(env) if isinstance(env, str) else env
    clock = _naive_utc(now)
    finished = _newest_finished(env)
    success = queries.last_success(env)
    active = queries.active_run(env)
    own_probe = devices and probe is None
    if own_probe:
        probe = DeviceProbe(timeout)
    try:
        items = device_items(env, active, probe if devices else None)
    finally:
        if own_probe and probe is not None:
            probe.close()
    return {
        "environment": env.name, "description": env.description, "function": env.function,
        "source": env.source.name, "clone": env.clone.name, "storage": env.storage.name,
        "consistency_group": env.consistency_group, "checked_at": _iso(clock), "devices_checked": bool(devices),
        "last_run": run_result(finished) if finished else None,
        "last_success": {"id": success.id, "ended_at": _iso(success.ended_at),
                         "age_seconds": _seconds(clock, success.ended_at or success.requested_at)}
        if success else None,
        "active_run": active_run_state(active, clock) if active else None,
        "latest": latest_values(env),
        "schedule": schedule_info(env, 3, clock.replace(tzinfo=timezone.utc), tz),
        **items,
    }


def status_of(names: Optional[List[str]] = None, devices: bool = True, timeout: float = DEFAULT_TIMEOUT,
              now: Optional[datetime] = None, tz=None) -> dict:
    """The status of the named environments (all when NAMES is empty), devices shared between them."""
    envs = [queries.environment(n) for n in names] if names else queries.environments()
    probe = DeviceProbe(timeout) if devices else None
    try:
        return {"checked_at": _iso(_naive_utc(now)),
                "environments": [environment_status(e, devices, timeout, now, probe, tz) for e in envs]}
    finally:
        if probe is not None:
            probe.close()


# ------------------------------------------------------------------ text for operators

def _when(iso: Optional[str], tz=None) -> str:
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso.rstrip("Z")).replace(tzinfo=timezone.utc)
    return (moment.astimezone(tz) if tz is not None else moment.astimezone()).strftime("%Y-%m-%d %H:%M:%S")


def _zone_or_none(name: str):
    from ..engine.schedule import schedule_zone
    try:
        return schedule_zone(name)
    except Flash4iError:
        return None


def _in_zone(moment: datetime, zone) -> datetime:
    """With the zone's own abbreviation (CET, CEST) rather than a bare offset."""
    return moment.astimezone(zone) if zone is not None else moment


def _device_problem(item: dict) -> Optional[str]:
    if item["probe"] == NOT_CHECKED:
        return f"not checked ({item['reason']})"
    if item["probe"] in (UNREACHABLE, ERROR):
        return f"{'UNREACHABLE' if item['probe'] == UNREACHABLE else 'ERROR'}: {item['error']}"
    return None


def render_text(status: dict, tz=None) -> str:
    """One environment's status for an operator."""
    from ..engine.steps import RESUME_COMMAND
    from ..textfmt import fmt_bytes, fmt_seconds
    lines = [f"{status['environment']}  {status['function']}  {status['source']} -> {status['clone']}"
             + (f"  ({status['description']})" if status["description"] else "")]

    def row(label: str, text: str) -> None:
        lines.append(f"  {label:<18} {text}".rstrip())

    storage = status["storage"]
    problem = _device_problem(storage)
    if problem:
        row("FlashCopy", f"{storage['group']} on {storage['device']}: {problem}")
    elif not storage["exists"]:
        row("FlashCopy", f"{storage['group']} on {storage['device']}: the group does not exist yet")
    else:
        copy = storage["background_copy"]
        copy_text = f"background copy {copy['progress']}% (rate {copy['copy_rate']})" if copy else \
            "no background copy (space-efficient snapshot)"
        started = f", started {storage['start_time']}" if storage["start_time"] else ""
        row("FlashCopy", f"{storage['group']} on {storage['device']}: {storage['status']}{started}; {copy_text}")
        for mp in storage["mappings"]:
            row("", f"  {mp['name']:<12} {mp['source']} -> {mp['target']}  {mp['status']}  {mp['progress']}%")
    clone = status["clone_partition"]
    problem = _device_problem(clone)
    name = f"{clone['lpar']} on {clone['system']} ({clone['device']})"
    if problem:
        row("Clone partition", f"{name}: {problem}")
    else:
        stamp = f" at {clone['refcode_time']}" if clone["refcode_time"] else ""
        row("Clone partition", f"{name}: {clone['state']}, reference code {clone['refcode'] or '(blank)'}{stamp}")
    fn = status["function_progress"]
    problem = _device_problem(fn)
    if fn["probe"] == NOT_CHECKED:
        row("Function on clone", f"not read: {fn['reason']}")
    elif problem:
        row("Function on clone", f"run {fn['run']}: {problem}")
    elif fn["state"] is None:
        row("Function on clone", f"run {fn['run']}: {fn['reason']}")
    else:
        words = [fn["state"], fn["phase"], f"{fn['progress']:.0f}%" if fn["progress"] is not None else None]
        text = f"run {fn['run']}: " + " ".join(str(w) for w in words if w)
        text += (f": {fn['message']}" if fn["message"] else "") + \
            (f" (updated {fn['updated_at']})" if fn["updated_at"] else "")
        row("Function on clone", text)
    last = status["last_run"]
    if last is None:
        row("Last run", "none yet")
    else:
        parts = [f"{last['id']} {last['state']}", f"ended {_when(last['ended_at'], tz)}"]
        if last["duration"] is not None:
            parts.append(f"took {fmt_seconds(last['duration'])}")
        if last["suspended_seconds"] is not None:
            parts.append(f"production suspended {fmt_seconds(last['suspended_seconds'])}")
        if last["space_used_bytes"] is not None:
            parts.append(f"{fmt_bytes(last['space_used_bytes'])} used on the targets")
        row("Last run", ", ".join(parts))
        if last["message"]:
            row("", last["message"].splitlines()[0][:200])
        if last["production_may_be_suspended"]:
            row("", f"PRODUCTION MAY STILL BE SUSPENDED: on the console of {status['source']} type "
                    f"{RESUME_COMMAND}, or run: flash4i resume {last['id']}")
    success = status["last_success"]
    if success and (last is None or success["id"] != last["id"]):
        row("Last success", f"run {success['id']}, ended {_when(success['ended_at'], tz)}")
    active = status["active_run"]
    if active is None:
        row("Active run", "none")
    elif active["state"] == "QUEUED":
        row("Active run", f"{active['id']} QUEUED since {_when(active['requested_at'], tz)}")
    else:
        step = active["step"]
        text = f"{active['id']} RUNNING"
        if step:
            text += f", step {step['name']} for {fmt_seconds(step['elapsed_seconds'])}"
            if step["bound_seconds"] is not None:
                text += f" (bound {fmt_seconds(step['bound_seconds'])})"
            if step["progress"] is not None:
                text += f" {step['progress']:.0f}%"
        elif active["current_step"]:
            text += f", step {active['current_step']}"
        row("Active run", text)
        if step and step["detail"]:
            row("", step["detail"][:200])
    schedule = status["schedule"]
    if not schedule["cron"]:
        row("Schedule", "none")
    else:
        zone = _zone_or_none(schedule["timezone"])
        nexts = ", ".join(_in_zone(datetime.fromisoformat(t), zone).strftime("%Y-%m-%d %H:%M %Z")
                          for t in schedule["next"])
        row("Schedule", f"{schedule['cron']} ({schedule['timezone']})"
            + (f": {schedule['error']}" if schedule["error"] else f"; next {nexts}"))
        slot = schedule["last_slot"]
        if slot:
            what = f"run {slot['run']}" if slot["status"] == "STARTED" else slot["note"]
            row("", f"last slot {_when(slot['slot_at'], tz)} {slot['status']}" + (f": {what}" if what else ""))
    return "\n".join(lines)
