"""The steps of a run. Each takes the RunContext and returns a one-line detail for the record.

Every step is safe to run again after a worker restart (it checks before it changes), so a
run picked up by another worker continues from its first unfinished step. QUIESCE and FLASH
are the exception: the runner never repeats them once the run is past FLASH.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Dict, List, Optional

from peewee import IntegrityError

from ..devices.ibmi import resume_command
from ..devices.storage.base import VolumePair
from ..families import FAMILIES
from ..errors import DeviceError, Flash4iError, NotFound, SafetyRefusal, StepTimeout
from ..store import models as m
from ..store.db import utcnow, write_transaction
from .context import RunContext
from .order import build_order, order_bytes, order_path, resumed_path
from .queue import resources_of

NOT_ACTIVATED = "Not Activated"


# ------------------------------------------------------------------ CHECK

def check(ctx: RunContext) -> str:
    """Refuse the run, before any change, if anything could harm a partition or a volume."""
    defs = ctx.defs
    source, clone = defs.source, defs.clone
    if (source.managed_system_id, source.lpar_id) == (clone.managed_system_id, clone.lpar_id):
        raise SafetyRefusal(f"clone partition {clone.name} is the source LPAR {source.lpar_name}")
    _check_locks(ctx)
    src_lpar = _check_lpar(ctx, source)
    if src_lpar.state != "Running":
        raise SafetyRefusal(f"source partition {source.name} ({source.lpar_name}) is {src_lpar.state}, not Running")
    clone_lpar = _check_lpar(ctx, clone)
    info = ctx.ibmi(source).system_info()
    if int(info.get("partition_id", -1)) != source.lpar_id:
        raise SafetyRefusal(f"the IBM i at {source.ssh_host}:{source.ssh_port} is partition "
                            f"{info.get('partition_id')}, not source partition {source.name} "
                            f"(id {source.lpar_id}): check the partition's ssh address")
    ctx.source_info = info
    volumes = _check_volumes(ctx)
    if defs.generation is not None:
        _check_copy_limit(ctx)
        _check_not_booted(ctx)
    if defs.vscsi and defs.generation is None:
        _check_vios(ctx, volumes, clone_lpar.state)
    if defs.starts_clone:
        addresses = [i["address"] for i in defs.env["clone_identity"]["interfaces"]]
        if (clone.address or clone.ssh_host) not in addresses:
            raise SafetyRefusal(f"clone partition {clone.name} has address {clone.address or clone.ssh_host}, which "
                                f"is not one of its clone interfaces ({', '.join(addresses)}): the logs could not "
                                "come back")
        from .agentctl import verify_installed
        verify_installed(ctx.ibmi(source), source)
    return (f"source {source.lpar_name} Running (id {source.lpar_id}, {info.get('host_name')}); clone "
            f"{clone.lpar_name} {clone_lpar.state}; {len(defs.pairs)} target volumes checked")


def _check_locks(ctx: RunContext) -> None:
    """The run's resource locks, taken when it was queued, must still be its own."""
    for resource in resources_of(m.Environment.get(m.Environment.name == ctx.defs.env["name"])):
        lock = m.ResourceLock.get_or_none(m.ResourceLock.resource == resource)
        if lock is None or lock.run_id != ctx.run.id:
            holder = f"run {lock.run_id}" if lock else "nobody"
            raise SafetyRefusal(f"{resource} is held by {holder}, not by this run")


def _check_lpar(ctx: RunContext, partition: m.Partition):
    system = partition.managed_system.name
    lpar = ctx.hmc(partition).lpar(system, partition.lpar_name)
    if lpar.id != partition.lpar_id:
        raise SafetyRefusal(f"partition {partition.lpar_name} has id {lpar.id} on {system}; the configuration "
                            f"says {partition.lpar_id}")
    return lpar


def _check_volumes(ctx: RunContext) -> Dict[str, object]:
    defs = ctx.defs
    storage = ctx.storage()
    names = [s for s, _ in defs.pairs] + defs.targets
    volumes = storage.volumes(names)
    all_sources = {p.source for p in m.VolumePair.select().join(m.Environment)
                   .where(m.Environment.storage == defs.storage)}
    all_sources |= {s for s, _ in defs.pairs}
    for source, target in defs.pairs:
        if source not in volumes:
            raise SafetyRefusal(f"source volume {source} does not exist on {defs.storage.name}")
        if target not in volumes:
            raise SafetyRefusal(f"target volume {target} does not exist on {defs.storage.name}")
        if target in all_sources:
            raise SafetyRefusal(f"target volume {target} is also a source volume")
        if volumes[target].capacity_bytes != volumes[source].capacity_bytes:
            raise SafetyRefusal(f"target volume {target} has {volumes[target].capacity_bytes} bytes, its source "
                                f"{source} has {volumes[source].capacity_bytes}")
    # Targets may be mapped only to the clone's own host objects (NPIV), or to its VIOS (vSCSI).
    own_hosts = set(defs.env["attach"].get("storage_hosts") or []) if defs.vscsi else set(defs.clone.storage_hosts or [])
    for target, mappings in storage.host_mappings(defs.targets).items():
        for mapping in mappings:
            # a recovery point's targets are mapped to nobody: nothing uses them (a targetless
            # generation's are the clone's own disks, linked only at boot)
            if defs.generation is not None and FAMILIES[defs.storage.type].generations == "targets":
                raise SafetyRefusal(f"generation {defs.generation} target volume {target} is mapped to host "
                                    f"{mapping.host}: a recovery point must be mapped to no host (it may be in "
                                    "use by a partition)")
            if mapping.host not in own_hosts:
                raise SafetyRefusal(f"target volume {target} is mapped to host {mapping.host}, which is not "
                                    f"clone partition {defs.clone.name}'s: it may be in use by a running partition")
    return volumes


def _check_copy_limit(ctx: RunContext) -> None:
    """Generations: the array's limit of copies per source volume, counted on the array now."""
    from ..config.schema import copy_limit
    defs = ctx.defs
    limit = copy_limit(defs.storage.type, defs.storage.options)
    if limit is None:
        return
    storage = ctx.storage()
    # the generation's own earlier copy is replaced, not added to
    counts = storage.copies_per_source([s for s, _ in defs.pairs], replacing=defs.env["consistency_group"])
    if not counts:
        return
    for source, _ in defs.pairs:
        after = counts.get(source, 0) + 1
        if after > limit:
            raise SafetyRefusal(f"source volume {source} has {counts.get(source, 0)} copies on {defs.storage.name}; "
                                f"generation {defs.generation} would make {after}, past the array's limit of "
                                f"{limit} per source volume (options.copies_per_source): lower generations or "
                                "remove other copies of it")


def _check_not_booted(ctx: RunContext) -> None:
    """A generation that a boot still reads through is not taken again: the clone's disks would
    lose what they read through it."""
    readers = ctx.storage().copies_reading(ctx.defs.env["consistency_group"])
    if readers:
        raise SafetyRefusal(f"generation {ctx.defs.generation} is in use by a boot of it ({', '.join(readers)}): "
                            "taking it again would leave the clone's disks unusable; boot another generation, or "
                            "remove that copy by hand once the clone's disks are no longer needed")


MIN_UID = 16       # hex digits: a WWN-based SCSI identifier has 32 (SVC, DS8000 NAA 6, PowerMax)


def _target_uids(ctx: RunContext, volumes: Dict[str, object]) -> Dict[str, str]:
    """uid -> target. A target's hdisk on the VIOS is found by the volume's identifier inside the
    hdisk's unique_id: a short or empty one would match other disks (removed, or booted from)."""
    uids = {}
    for target in ctx.defs.targets:
        uid = str(volumes[target].uid).lower()
        if len(uid) < MIN_UID:
            raise SafetyRefusal(f"target volume {target}: its identifier {uid!r} is too short to find its hdisk "
                                f"on {ctx.defs.env['attach']['vios']} safely")
        uids[uid] = target
    return uids


def _check_vios(ctx: RunContext, volumes: Dict[str, object], clone_state: str) -> None:
    """On the VIOS, a target's hdisk may only be mapped to the clone's own vhost."""
    defs = ctx.defs
    attach = defs.env["attach"]
    hmc = ctx.hmc(defs.clone)
    system = defs.clone.managed_system.name
    uids = _target_uids(ctx, volumes)
    disks = hmc.vios_disks(system, attach["vios"])
    for vhost in hmc.vios_lsmap(system, attach["vios"]):
        for vtd in vhost.vtds:
            uid = disks.get(vtd.backing, "").lower()
            target = next((t for u, t in uids.items() if u in uid), None)
            if target is None:
                continue
            if vhost.name != attach["vhost"] or vhost.client_id != defs.clone.lpar_id:
                raise SafetyRefusal(f"target volume {target} ({vtd.backing}) is mapped on {attach['vios']} to "
                                    f"{vhost.name}, client partition {vhost.client_id}, not to the clone")


# ------------------------------------------------------------------ before the suspend

def stop_clone(ctx: RunContext) -> str:
    clone = ctx.defs.clone
    hmc = ctx.hmc(clone)
    system = clone.managed_system.name
    lpar = hmc.lpar(system, clone.lpar_name)
    if lpar.state == NOT_ACTIVATED:
        return f"{clone.lpar_name} already Not Activated"
    if lpar.state != "Shutting Down":
        hmc.shutdown(system, clone.lpar_name, immediate=True)
    ctx.progress(None, f"waiting for {clone.lpar_name} to reach Not Activated")
    hmc.wait_state(system, clone.lpar_name, {NOT_ACTIVATED}, timeout=ctx.bounded(3600), poll=ctx.poll,
                   on_progress=lambda state, code: ctx.watch(f"{clone.lpar_name}: {state} {code}"))
    return f"{clone.lpar_name} was {lpar.state}; now Not Activated"


def unmap_vios(ctx: RunContext) -> str:
    """Remove the targets' hdisks from the VIOS so nothing of the old copy stays cached there."""
    defs = ctx.defs
    attach = defs.env["attach"]
    hmc = ctx.hmc(defs.clone)
    system = defs.clone.managed_system.name
    uids = _target_uids(ctx, ctx.storage().volumes(defs.targets))
    removed = []
    for hdisk, uid in sorted(hmc.vios_disks(system, attach["vios"]).items()):
        if any(u in uid.lower() for u in uids):
            hmc.vios_rmdev(system, attach["vios"], hdisk)
            removed.append(hdisk)
    return f"removed {', '.join(removed)} on {attach['vios']}" if removed else "no target hdisk on the VIOS"


def prepare_flash(ctx: RunContext) -> str:
    defs = ctx.defs
    storage = ctx.storage()
    group = defs.env["consistency_group"]
    rate = defs.env["copy"]["rate"]
    if defs.generation is not None:       # from here on the generation's old copy is gone
        _record_generation(ctx, state="taking", taken_at=None, space_used_bytes=None, proven=None)
    storage.ensure_group(group, [VolumePair(s, t) for s, t in defs.pairs], rate)
    timeout = (defs.storage.options or {}).get("prepare_timeout", 300)
    state = storage.prepare(group, timeout=ctx.bounded(timeout))
    ctx.advance("prepared")
    return f"consistency group {group}: {state.status} ({len(state.mappings)} mappings, copy rate {rate})"


def write_clone_order(ctx: RunContext) -> str:
    defs = ctx.defs
    info = ctx.source_info or ctx.ibmi(defs.source).system_info()
    order = build_order(ctx.run.id, defs, info)
    path = order_path(defs.clone.lpar_id)
    ibmi = ctx.ibmi(defs.source)
    ibmi.make_dirs(path.rsplit("/", 1)[0])
    data = order_bytes(order)
    ibmi.write_file(path, data, mode=0o600)
    if ibmi.read_file(path) != data:
        raise DeviceError(defs.source.name, f"sftp {path}", "the clone order read back differs from what was written")
    return f"order for partition {defs.clone.lpar_id} written to {path} on {defs.source.name}{read_markers(ctx, 'before')}"


def read_markers(ctx: RunContext, when: str) -> str:
    """Production's proof markers, WHEN "before" the suspend (the last step before QUIESCE) or
    "after" the resume. Best effort, outside the suspended window: a marker that cannot be read
    leaves the clone unproven, never the run failed nor the resume delayed."""
    from . import proof
    journals = proof.journals_of(ctx.defs.env)
    if not journals or (when == "after" and "after" in (ctx.run.proof or {})):
        return ""
    try:
        markers = proof.read(ctx.ibmi(ctx.defs.source), journals)
    except Flash4iError as exc:
        ctx.log(f"the proof markers {when} the window were not read ({exc}): the clone cannot be proven",
                severity=20)
        markers = {"error": str(exc)}
    ctx.update_run(proof=dict(ctx.run.proof or {}, **{when: markers}))
    shown = ", ".join(f"{j} {n}" for j, n in sorted((markers.get("journals") or {}).items()))
    return f"; markers {when} the window: {shown or 'not read'}"


# ------------------------------------------------------------------ the suspended window

QUIESCE_LOCK_WAIT = 1800.0


def quiesce(ctx: RunContext) -> str:
    """Flush, then suspend. The flush runs before the suspend so the suspended window stays short."""
    defs = ctx.defs
    ibmi = ctx.ibmi(defs.source)
    _take_source_lock(ctx)
    ibmi.force_write()
    ibmi.ready_for_window()              # channels opened now cost production no round trip
    ctx.storage().ready_for_start()
    q = defs.env["quiesce"]
    ctx.advance("suspending")            # from here on, every path out resumes production
    ctx.buffering = True                   # and nothing inside the window waits on the store
    ibmi.suspend(timeout=q["timeout"], action=q["action"])
    ctx.suspended_at = time.monotonic()
    ctx.advance("suspended", suspend_started_at=utcnow())
    return f"*SYSBAS suspended (SSPTIMO({q['timeout']}) SSPTIMOACN({q['action']}))"


def flash(ctx: RunContext) -> str:
    """Only the start command: nothing else is sent while production is suspended."""
    group = ctx.defs.env["consistency_group"]
    ctx.storage().start(group)
    ctx.advance("flashed", flash_time=utcnow())
    return f"consistency group {group} started"


def flash_confirmed(ctx: RunContext) -> Optional[str]:
    """Whether the group was started after all (the start command's answer was lost, or its
    worker died). PREPARE_FLASH leaves no copy in place on any family, so a started group
    with a start time can only be this run's flash."""
    ctx.forget_storage()          # the session the start went out on may be the broken one
    group = ctx.defs.env["consistency_group"]
    state = ctx.storage().group_state(group)
    if state is not None and state.status in ("copying", "idle_or_copied") and any(
            mp.start_time for mp in state.mappings):
        return f"consistency group {group} found started ({state.status}): confirmed from the storage"
    return None


RESUME_COMMAND = resume_command()          # what an operator types on the console, too
RETRY_PAUSE = 1.0          # seconds between attempts of the resume or of the storage's release
ATTEMPTS_PER_BOUND = 5     # one attempt may take at most this share of the step's bound


def _retried(ctx: RunContext, what: str, attempt, renew) -> object:
    """ATTEMPT until it succeeds or the step's bound runs out; RENEW (a new transport) after each
    failure. Never cancelled, never cut short by a stopping worker: production waits on it.

    Each attempt has its own, shorter bound (1/ATTEMPTS_PER_BOUND of what the step had left when
    it began): a command that hangs on a dead connection would otherwise take the whole bound,
    and the resume would never be sent again on a new one."""
    from ..errors import DeviceUnreachable
    tries = 0
    per_attempt = max(RETRY_PAUSE, ctx.remaining() / ATTEMPTS_PER_BOUND)
    while True:
        tries += 1
        step_deadline = ctx.deadline
        ctx.deadline = min(step_deadline, time.monotonic() + per_attempt)
        try:
            return attempt()
        except (DeviceUnreachable, StepTimeout, DeviceError) as exc:
            failure = exc
        finally:
            ctx.deadline = step_deadline
        from ..devices.ibmi import ClError
        if isinstance(failure, ClError) and failure.msg_id in ctx.ibmi(ctx.defs.source).NOT_SUSPENDED_IDS:
            raise failure
        if ctx.remaining() <= RETRY_PAUSE:
            raise DeviceError(ctx.defs.source.name if what == "resume" else ctx.defs.storage.name, what,
                              f"{what} failed {tries} times within its bound; last error: {failure}") from None
        ctx.log(f"RESUME: {what} attempt {tries} failed, retrying on a new connection: {failure}", severity=30)
        renew()
        time.sleep(RETRY_PAUSE)


def resume(ctx: RunContext) -> str:
    """Resume production, then release whatever the storage holds of production's I/O. Runs on
    every path out of QUIESCE, is never cancelled, and retries on a new connection each time
    until it succeeds or its bound runs out."""
    from ..devices.ibmi import ClError
    source = ctx.defs.source
    note = ""
    try:
        _retried(ctx, "resume", lambda: ctx.ibmi(source).resume(), lambda: ctx.forget(source))
    except ClError as exc:
        if exc.msg_id not in ctx.ibmi(source).NOT_SUSPENDED_IDS:
            raise
        # Not suspended: the suspend failed, or it ended by itself (SSPTIMOACN *END) before now.
        note = f"; the ASP was not suspended any more ({exc.msg_id})"
        if ctx.run.phase == "FLASHED":
            note += ": it ended by itself before the resume, so the copy may not be fully quiesced"
            ctx.log(f"RESUME: {exc}", msg_id=exc.msg_id or "", severity=30)
    except Flash4iError as exc:
        raise DeviceError(source.name, RESUME_COMMAND,
                          f"PRODUCTION MAY STILL BE SUSPENDED: {exc}. On the console of {source.name} "
                          f"({source.lpar_name}) type: {RESUME_COMMAND}, or, once it answers again, run: "
                          f"flash4i resume {ctx.run.id}") from None
    finally:
        ended = utcnow()
        fields = dict(suspend_ended_at=ended)
        if ctx.suspended_at is not None:
            fields["suspended_seconds"] = time.monotonic() - ctx.suspended_at
        elif ctx.run.suspend_started_at is not None:      # picked up after a restart: wall clock
            fields["suspended_seconds"] = max(0.0, (ended - ctx.run.suspend_started_at).total_seconds())
        ctx.update_run(**fields)
    released = _release_storage(ctx)
    ctx.advance("resumed", resume_confirmed=True)
    _release_source_lock(ctx)
    window_text = f"{ctx.run.suspended_seconds:.3f}s" if ctx.run.suspended_seconds is not None else "unknown"
    marked = mark_resumed(ctx)
    return f"*SYSBAS resumed; suspended window {window_text}{note}{released}{marked}"


def mark_resumed(ctx: RunContext) -> str:
    """After the resume, the run's marker on production: a clone whose copy holds it was taken
    after the window (its proof fails). Best effort: production is resumed already; a marker
    that could not be written leaves the clone unproven, never the run failed. Written once the
    run is RESUMED with a copy: by the resume, or after a restart once the flash is confirmed."""
    if ctx.run.phase != "RESUMED":
        return ""
    read_markers(ctx, "after")
    if not ctx.defs.starts_clone or "resumed_marker" in (ctx.run.proof or {}):
        return ""
    source = ctx.defs.source
    path = resumed_path(ctx.defs.clone.lpar_id)
    marker = dumps({"run_id": ctx.run.id, "resumed_at": utcnow().isoformat() + "Z"}).encode()
    try:
        ctx.ibmi(source).write_file(path, marker, mode=0o600)
    except Flash4iError as exc:
        ctx.log(f"RESUME: the resumed marker was not written ({exc}): the clone cannot be proven", severity=20)
        ctx.update_run(proof=dict(ctx.run.proof or {}, resumed_marker=False), proven=False)
        return "; resumed marker NOT written (the clone cannot be proven)"
    ctx.update_run(proof=dict(ctx.run.proof or {}, resumed_marker=True))
    return ""


def record_proof(ctx: RunContext, status: dict) -> None:
    """The clone's own account of its copy (the agent's status), judged once (engine/proof.py):
    proven when the copy holds the order but not the resumed marker, the marker was written, the
    clone's journal markers lie between production's before and after values, and the clone's
    IPL followed a normal end (unless the environment expects an abnormal one)."""
    from . import proof as judgment
    clone = status.get("proof")
    if not isinstance(clone, dict) or "clone" in (ctx.run.proof or {}):
        return
    abnormal_expected = bool(ctx.defs.env["quiesce"].get("abnormal_ipl_expected"))
    proven, why = judgment.judge(ctx.run.proof or {}, clone, judgment.journals_of(ctx.defs.env), abnormal_expected)
    ctx.update_run(proof=dict(ctx.run.proof or {}, clone=clone, **({"reasons": why} if why else {})), proven=proven)
    if not proven:
        ctx.log("the clone is NOT proven: " + "; ".join(why), severity=30)


def resume_by_hand(run_id: int, bound: float = 300.0) -> str:
    """`flash4i resume RUN`: for a run that ended without a confirmed resume, send the resume and
    the storage's release again (same retries, BOUND seconds), then record it confirmed, so the
    monitor stops reporting production as possibly suspended."""
    from ..devices.ibmi import ClError
    from .context import Defs
    run = m.Run.get_or_none(m.Run.id == run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    if run.state not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        raise SafetyRefusal(f"run {run_id} is {run.state}: its worker resumes production (to stop it: "
                            f"flash4i cancel {run_id})")
    ctx = RunContext(run, Defs.load(run.snapshot), threading.Event())
    ctx.deadline = time.monotonic() + bound
    source = ctx.defs.source
    try:
        try:
            _retried(ctx, "resume", lambda: ctx.ibmi(source).resume(), lambda: ctx.forget(source))
            done = f"*SYSBAS of {source.name} resumed"
        except ClError as exc:
            if exc.msg_id not in ctx.ibmi(source).NOT_SUSPENDED_IDS:
                raise
            done = f"*SYSBAS of {source.name} was not suspended ({exc.msg_id})"
        done += _release_storage(ctx)
        ctx.update_run(resume_confirmed=True)
        _release_source_lock(ctx)
        ctx.log(f"RESUME by hand (flash4i resume): {done}", severity=10)
    finally:
        ctx.close()
    return done


def _release_storage(ctx: RunContext) -> str:
    """The storage's own hold on production's I/O (a DS8000 freeze) is released the same way."""
    group = ctx.defs.env["consistency_group"]
    try:
        detail = _retried(ctx, "release", lambda: ctx.storage().release(group), ctx.forget_storage)
    except Flash4iError as exc:
        raise DeviceError(ctx.defs.storage.name, "release",
                          f"production was resumed but the storage still holds its I/O: {exc}") from None
    return f"; {detail}" if detail else ""


def activate_targets(ctx: RunContext) -> str:
    """After the resume: make the flash visible on the targets where the family needs a second
    request for it (PowerMax links the new snapshot to the target storage group)."""
    group = ctx.defs.env["consistency_group"]
    return ctx.storage().activate_targets(group) or f"consistency group {group}: nothing to activate"


def _source_lock_key(ctx: RunContext) -> str:
    src = ctx.defs.source
    return f"quiesce:{src.managed_system.hmc.name}/{src.managed_system.name}/{src.lpar_id}"


def _take_source_lock(ctx: RunContext) -> None:
    """Runs of the same source may overlap, but never inside their QUIESCE-FLASH-RESUME windows."""
    key = _source_lock_key(ctx)
    deadline = time.monotonic() + min(QUIESCE_LOCK_WAIT, max(1.0, ctx.remaining()))
    while True:
        holder = _lock_holder(key, ctx.run.id)      # a plain read first: no write transaction
        if holder is None:                          # for a lock that is plainly held
            try:
                with write_transaction():
                    lock = m.ResourceLock.get_or_none(m.ResourceLock.resource == key)
                    if lock is not None and lock.run_id == ctx.run.id:
                        return
                    if lock is None:
                        m.ResourceLock.create(resource=key, run=ctx.run.id)
                        return
                    holder = lock.run_id
            except IntegrityError:
                holder = "another run"
        if time.monotonic() > deadline:
            raise StepTimeout(f"source {ctx.defs.source.name} stayed in another run's suspend window "
                              f"(run {holder}) for too long")
        _wait_window_freed(ctx, min(ctx.poll, 1.0), f"waiting for run {holder} to resume {ctx.defs.source.name}")


def _lock_holder(key: str, run_id: int) -> Optional[int]:
    lock = m.ResourceLock.get_or_none(m.ResourceLock.resource == key)
    return None if lock is None or lock.run_id == run_id else lock.run_id


# A window takes a fraction of a second: runs of this process that wait for one are woken as soon
# as a run of this process leaves one (runs of other workers are seen at the next poll). Without
# it, runs queued behind one source wait out whole poll intervals, one after the other.
_WINDOW_FREED = threading.Condition()
_windows_freed = [0]           # how many windows this process has left: a wake-up is never lost


def _wait_window_freed(ctx: RunContext, seconds: float, detail: str) -> None:
    end = time.monotonic() + min(seconds, max(0.0, ctx.remaining()))
    with _WINDOW_FREED:
        seen = _windows_freed[0]
    while True:
        ctx.watch(detail)                     # shown on the live panel; stops on cancel
        left = end - time.monotonic()
        with _WINDOW_FREED:
            if left <= 0 or _WINDOW_FREED.wait_for(lambda: _windows_freed[0] != seen, min(0.2, left)):
                return


def _release_source_lock(ctx: RunContext) -> None:
    key, run_id = _source_lock_key(ctx), ctx.run.id
    ctx.write(lambda: m.ResourceLock.delete().where((m.ResourceLock.resource == key) &
                                                    (m.ResourceLock.run == run_id)).execute())
    with _WINDOW_FREED:
        _windows_freed[0] += 1
        _WINDOW_FREED.notify_all()


# ------------------------------------------------------------------ the clone

def map_vios(ctx: RunContext) -> str:
    defs = ctx.defs
    attach = defs.env["attach"]
    hmc = ctx.hmc(defs.clone)
    system = defs.clone.managed_system.name
    hmc.vios_cfgdev(system, attach["vios"])
    disks = hmc.vios_disks(system, attach["vios"])
    mapped = {vtd.backing for vh in hmc.vios_lsmap(system, attach["vios"]) if vh.name == attach["vhost"]
              for vtd in vh.vtds}
    done: List[str] = []
    volumes = ctx.storage().volumes(defs.targets)
    _target_uids(ctx, volumes)
    for target, info in volumes.items():
        found = [h for h, uid in sorted(disks.items()) if info.uid.lower() in uid.lower()]
        if len(found) > 1:
            raise SafetyRefusal(f"target volume {target} (uid {info.uid}) matches several hdisks on "
                                f"{attach['vios']}: {', '.join(found)}")
        hdisk = found[0] if found else None
        if hdisk is None:
            raise DeviceError(attach["vios"], "cfgdev", f"no hdisk for target volume {target} (uid {info.uid}) "
                                                        "after cfgdev: is it mapped to the VIOS on the storage?")
        if hdisk not in mapped:
            hmc.vios_mkvdev(system, attach["vios"], hdisk, attach["vhost"])
        done.append(f"{target}={hdisk}")
    return f"mapped to {attach['vhost']}: {', '.join(done)}"


def start_clone(ctx: RunContext) -> str:
    clone = ctx.defs.clone
    hmc = ctx.hmc(clone)
    system = clone.managed_system.name
    lpar = hmc.lpar(system, clone.lpar_name)
    if lpar.state == NOT_ACTIVATED:
        hmc.activate(system, clone.lpar_name, clone.profile, keylock="norm")
    ctx.advance("clone_started")
    code = hmc.wait_ipl(system, clone.lpar_name, timeout=ctx.bounded(ctx.defs.env["ipl_timeout"]), poll=ctx.poll,
                        on_progress=lambda state, ref: ctx.watch(f"{clone.lpar_name}: {state} {ref}"))
    return f"{clone.lpar_name} IPL complete ({code.code})"


# ------------------------------------------------------------------ end of the run

def finish(ctx: RunContext) -> str:
    defs = ctx.defs
    parts = []
    if defs.starts_clone and defs.env["stop_clone_after"]:
        hmc = ctx.hmc(defs.clone)
        system = defs.clone.managed_system.name
        if hmc.lpar(system, defs.clone.lpar_name).state != NOT_ACTIVATED:
            hmc.shutdown(system, defs.clone.lpar_name, immediate=True)
            hmc.wait_state(system, defs.clone.lpar_name, {NOT_ACTIVATED}, timeout=ctx.bounded(3600), poll=ctx.poll,
                           on_progress=lambda state, code: ctx.watch(f"{defs.clone.lpar_name}: {state} {code}"))
        parts.append(f"{defs.clone.lpar_name} stopped")
    used = ctx.storage().recovery_point_space(defs.env["consistency_group"], defs.targets) \
        if defs.generation is not None else ctx.storage().space_used(defs.targets)
    ctx.update_run(space_used_bytes=used)
    parts.append(f"space used on the targets: {used} bytes")
    if defs.generation is not None:
        group = ctx.storage().group_state(defs.env["consistency_group"])
        _record_generation(ctx, state=group.status if group is not None else "missing",
                           taken_at=ctx.run.flash_time, space_used_bytes=used, proven=ctx.run.proven)
        parts.append(f"recovery point generation {defs.generation} taken")
    return "; ".join(parts)


def _record_generation(ctx: RunContext, **fields) -> None:
    from .generations import record_point
    env_id = ctx.run.environment_id
    if env_id is None:            # the environment was deleted meanwhile
        return
    generation, run_id = ctx.defs.generation, ctx.run.id
    ctx.write(lambda: record_point(env_id, generation, run=run_id, **fields))


def dumps(data: object) -> str:
    return json.dumps(data, sort_keys=True, default=str)
