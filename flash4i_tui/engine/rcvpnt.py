"""The emergency boot of a recovery point: `flash4i rcvpnt boot ENV [--generation G]` (issue 13).

What a storage admin does, and so what this does:

1. Refuse before any change: the generation was taken (and its run succeeded); no run of the
   environment is queued or running; the clone partition is Not Activated (its disks are in
   use by nobody); the clone's own disks exist, have their source's size and are mapped only to
   the clone's own hosts; the generation's targets are mapped to no host.
2. svc / ds8000: copy generation G onto the clone's own disks with a FlashCopy from G's targets
   (cascaded: G's targets are the sources) in the group `<consistency_group>_B<G>`, without
   background copy. The recovery point itself is never mapped to a host nor written: the boot's
   writes land on the clone's disks, so generation G stays as it was taken and can be booted
   again. (Mapping G's targets to the clone instead would let the IPL change the recovery point.)
   The DS8000 needs cascading FlashCopy for it (release 8.3 and later).
   powermax: link the SnapVX snapshot of generation G (its newest snapid) to the clone's target
   storage group, nocopy, after unlinking whatever was linked there; the snapshot itself is never
   written, so G can be booted again. A run does not retake a generation a boot still reads
   through (CHECK).
3. Activate the clone through the HMC in manual IPL mode (`chsysstate ... -o on -f PROFILE
   -k manual`, reference §4.3): the IPL stops for the console, so the startup program does not
   run, TCP/IP does not start and no interface becomes active. Wait (bounded) until the
   partition waits at the console (MANUAL_IPL_CODES).
4. Say what the operator does next at the console (next_steps).

It runs in the calling process, like `flash4i resume` (a bounded, attended action), and writes
no run record: the recovery point table keeps the generations.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import List, Optional

from ..cl import ClStr, cl_command
from ..config.schema import GROUP_NAME_MAX, generation_group
from ..config.store_io import environment_record
from ..devices.storage.base import VolumePair
from ..errors import NotFound, SafetyRefusal, StepTimeout, ValidationError
from ..store import models as m
from ..store.queries import environment
from .context import Defs, RunContext
from .generations import generation_targets, generations_of, newest_generation, points
from .queue import resources_of

NOT_ACTIVATED = "Not Activated"
# Reference codes of an IBM i manual IPL that waits for its console: A6005008, the console was not
# found (no console session is open: reference §4.4 [V]). [U] others a real partition may show
# while the "IPL or Install the System" screen waits: add them here once seen.
MANUAL_IPL_CODES = ("A6005008",)


def boot_group(group: str, generation: int) -> str:
    """The consistency group that copies generation G onto the clone's disks."""
    return f"{group}_B{generation}"


@dataclass
class BootResult:
    environment: str
    generation: int
    run_id: Optional[int]
    taken_at: object
    clone: str
    system: str
    lpar_name: str
    refcode: str
    detail: str
    next_steps: List[str] = field(default_factory=list)


class _BootContext(RunContext):
    """A RunContext without a run record: device commands are logged in memory."""

    def __init__(self, defs: Defs, bound: float, poll: float):
        self.lines: List[str] = []
        fake = m.Run(id=0, env_name=defs.env["name"], function="*BOOT", phase="NEW")
        super().__init__(fake, defs, threading.Event(), poll=poll)
        self.deadline = time.monotonic() + bound

    def log(self, text: str, msg_id: str = "", severity: int = 0, source: str = "flash4i") -> None:
        self.lines.append(text)

    def progress(self, percent, detail=None) -> None:
        if detail:
            self.lines.append(detail)


def resolve(env_name: str, generation: Optional[int]) -> tuple:
    """(environment row, generation, its recovery point row); NotFound / ValidationError."""
    env = environment(env_name)
    count = generations_of(env)
    if count <= 1:
        raise ValidationError(f"environment {env.name} keeps no generations (generations: 1): it has no "
                              "recovery points to boot")
    if generation is None:
        generation = newest_generation(env)
        if generation is None:
            raise NotFound(f"environment {env.name} has no recovery point taken yet")
    if not 1 <= generation <= count:
        raise ValidationError(f"environment {env.name} keeps generations 1-{count}, not {generation}")
    row = points(env).get(generation)
    if row is None or row.taken_at is None:
        raise NotFound(f"generation {generation} of {env.name} holds no recovery point "
                       f"({'never taken' if row is None else row.state or 'not taken'})")
    return env, generation, row


def boot(env_name: str, generation: Optional[int] = None, bound: float = 3600.0, poll: float = 2.0) -> BootResult:
    env, generation, row = resolve(env_name, generation)
    record = environment_record(env)
    defs = Defs.load(record)
    if row.run_id is not None:
        taken_by = m.Run.get_or_none(m.Run.id == row.run_id)
        if taken_by is not None and taken_by.state != "SUCCEEDED":
            raise SafetyRefusal(f"generation {generation} of {env.name} was taken by run {taken_by.id}, which "
                                f"ended {taken_by.state}: it is not a recovery point to boot")
    _refuse_locked(env)
    group = boot_group(env.consistency_group, generation)
    if len(group) > GROUP_NAME_MAX:
        raise ValidationError(f"consistency group {group!r} is longer than {GROUP_NAME_MAX} characters")
    ctx = _BootContext(defs, bound, poll)
    try:
        return _boot(ctx, env, generation, row, group)
    finally:
        ctx.close()


def _refuse_locked(env: m.Environment) -> None:
    for resource in resources_of(env):
        lock = m.ResourceLock.get_or_none(m.ResourceLock.resource == resource)
        if lock is not None:
            raise SafetyRefusal(f"run {lock.run_id} holds {resource.partition(':')[2]}: wait for it to end "
                                "before booting a recovery point")


def _clone_lpar(ctx: _BootContext) -> tuple:
    """(hmc, managed system, the clone's partition) after checking the partition is the configured one."""
    clone = ctx.defs.clone
    system = clone.managed_system.name
    hmc = ctx.hmc(clone)
    lpar = hmc.lpar(system, clone.lpar_name)
    if lpar.id != clone.lpar_id:
        raise SafetyRefusal(f"partition {clone.lpar_name} has id {lpar.id} on {system}; the configuration says "
                            f"{clone.lpar_id}")
    return hmc, system, lpar


def _boot(ctx: _BootContext, env: m.Environment, generation: int, row: m.RecoveryPoint, group: str) -> BootResult:
    defs = ctx.defs
    clone = defs.clone
    hmc, system, lpar = _clone_lpar(ctx)
    if lpar.state != NOT_ACTIVATED:
        raise SafetyRefusal(f"clone partition {clone.name} ({clone.lpar_name}) is {lpar.state}: its disks are in "
                            f"use; shut it down first (nothing was changed)")
    if defs.storage.type == "powermax":
        detail = _link_snapshot(ctx, env, generation)
    else:
        detail = _copy_generation(ctx, env, generation, group)
    hmc.activate(system, clone.lpar_name, clone.profile, keylock="manual")
    refcode = _wait_console(ctx, hmc, system, clone.lpar_name)
    return BootResult(environment=env.name, generation=generation, run_id=row.run_id, taken_at=row.taken_at,
                      clone=clone.name, system=system, lpar_name=clone.lpar_name, refcode=refcode, detail=detail,
                      next_steps=next_steps(defs, generation, refcode))


def _clone_pairs(ctx: _BootContext, env: m.Environment, generation: int, targetless: bool = False) -> List[VolumePair]:
    """(what generation G is read from, clone's disk) per pair, after the checks a run's CHECK
    makes: G's targets, or (TARGETLESS snapshots) the source volumes whose snapshot G is."""
    defs = ctx.defs
    gen_targets = [] if targetless else [t[generation - 1] for t in generation_targets(env)]
    copy_from = [s for s, _ in defs.pairs] if targetless else gen_targets
    clone_disks = defs.targets
    if len(copy_from) != len(clone_disks):
        raise SafetyRefusal(f"environment {env.name}: its generation targets do not match its volume pairs")
    storage = ctx.storage()
    volumes = storage.volumes(gen_targets + clone_disks + [s for s, _ in defs.pairs])
    for (source, disk), gen in zip(defs.pairs, copy_from):
        for name in (source, disk, gen):
            if name not in volumes:
                raise SafetyRefusal(f"volume {name} does not exist on {defs.storage.name}")
        if volumes[disk].capacity_bytes != volumes[gen].capacity_bytes:
            raise SafetyRefusal(f"clone volume {disk} has {volumes[disk].capacity_bytes} bytes, generation "
                                f"{generation}'s {gen} has {volumes[gen].capacity_bytes}")
    sources = {s for s, _ in defs.pairs} | {p.source for p in m.VolumePair.select().join(m.Environment)
                                            .where(m.Environment.storage == defs.storage)}
    for disk in clone_disks:
        if disk in sources:
            raise SafetyRefusal(f"clone volume {disk} is a source volume: production is never overwritten")
    own = set(defs.env["attach"].get("storage_hosts") or []) if defs.vscsi else set(defs.clone.storage_hosts or [])
    for volume, mappings in storage.host_mappings(clone_disks + gen_targets).items():
        for mapping in mappings:
            if volume in gen_targets:
                raise SafetyRefusal(f"generation {generation} target {volume} is mapped to host {mapping.host}: "
                                    "a recovery point is mapped to no host")
            if mapping.host not in own:
                raise SafetyRefusal(f"clone volume {volume} is mapped to host {mapping.host}, which is not clone "
                                    f"partition {defs.clone.name}'s: it may be in use by a running partition")
    return [VolumePair(g, d) for g, d in zip(copy_from, clone_disks)]


def _copy_generation(ctx: _BootContext, env: m.Environment, generation: int, group: str) -> str:
    options = ctx.defs.storage.options or {}
    if ctx.defs.storage.type == "ds8000" and options.get("cascading_flashcopy") is False:
        # Without cascading FlashCopy a target cannot be a source: the only boot left is from G's
        # own targets, which the IPL would change, so the recovery point would be gone. A person decides that.
        raise SafetyRefusal(f"{ctx.defs.storage.name} does not do cascading FlashCopy (options.cascading_flashcopy: "
                            f"false; before release 8.3): generation {generation}'s targets cannot be copied onto "
                            "the clone's disks. Nothing was changed; to boot it anyway, map its targets to the clone "
                            "by hand, knowing the IPL changes that recovery point")
    pairs = _clone_pairs(ctx, env, generation)
    storage = ctx.storage()
    storage.ensure_group(group, pairs, 0)
    timeout = (ctx.defs.storage.options or {}).get("prepare_timeout", 300)
    storage.prepare(group, timeout=ctx.bounded(timeout))
    storage.start(group)
    storage.release(group)
    return (f"generation {generation} copied onto {', '.join(p.target for p in pairs)} (consistency group {group}, "
            "no background copy)")


def _link_snapshot(ctx: _BootContext, env: m.Environment, generation: int) -> str:
    """Targetless snapshots (PowerMax): link generation G's snapshot to the clone's target storage
    group, nocopy. The snapshot itself is not written: the boot's writes land on the linked
    disks, so G stays as it was taken and can be booted again (a new link redefines the disks)."""
    pairs = _clone_pairs(ctx, env, generation, targetless=True)
    timeout = (ctx.defs.storage.options or {}).get("prepare_timeout", 300)
    return ctx.storage().link_generation(env.consistency_group, generation_group(env.consistency_group, generation),
                                         timeout=ctx.bounded(timeout)) + f" ({len(pairs)} disks)"


def _wait_console(ctx: _BootContext, hmc, system: str, lpar_name: str) -> str:
    """Until the partition waits at its console (Running, a manual IPL code); bounded."""
    from ..devices.hmc import ERROR
    seen = ""
    while True:
        info, ref = hmc.lpar(system, lpar_name), hmc.refcode(system, lpar_name)
        if (info.state, ref.code) != seen:
            seen = (info.state, ref.code)
            ctx.lines.append(f"{lpar_name}: {info.state} {ref.code}")
        if info.state == "Running" and ref.code in MANUAL_IPL_CODES:
            return ref.code
        if info.state == ERROR:
            raise SafetyRefusal(f"partition {lpar_name} is in state Error at reference code {ref.code}")
        if ctx.remaining() <= 0:
            raise StepTimeout(f"partition {lpar_name} did not stop for its console in time: last state "
                              f"{info.state}, reference code {ref.code or '(blank)'}")
        time.sleep(min(ctx.poll, max(0.0, ctx.remaining())))


def next_steps(defs: Defs, generation: int, refcode: str) -> List[str]:
    """What the operator does at the clone's console, in order."""
    clone = defs.clone
    system = clone.managed_system.name
    hmc = clone.managed_system.hmc
    ident = defs.env["clone_identity"]
    steps = [
        f"Open the console of {clone.lpar_name}: on HMC {hmc.name} ({hmc.host}) run `vtmenu` and choose "
        f"{system} / {clone.lpar_name} (or `mkvterm -m {system} -p {clone.lpar_name}`); the partition waits "
        f"there ({refcode}).",
        "Sign on to Dedicated Service Tools if asked; on 'IPL or Install the System' take 1 (Perform an IPL).",
        "On 'IPL Options' answer: Start system to restricted state Y, Set major system options Y, Define or change "
        "the system at IPL Y (the copy is production's: its startup program and TCP/IP must not start).",
        "Sign on at the console (QSECOFR). The copy holds production's identity and addresses: before anything "
        "else, change them:",
        "  " + cl_command("CHGNETA", SYSNAME=ident["system_name"]),
        "  CFGTCP option 1: end and remove production's interfaces (RMVTCPIFC), then add the clone's own:",
    ]
    for i in ident.get("interfaces") or []:
        steps.append("  " + cl_command("ADDTCPIFC", INTNETADR=ClStr(i["address"]), LIND=i["line"],
                                       SUBNETMASK=ClStr(i["subnet_mask"])))
    if not ident.get("interfaces"):
        steps.append("  (the environment names no clone interface: add the address you were given for the clone)")
    steps += [
        "  Hold the job schedule entries (WRKJOBSCDE, 3=Hold) and the Advanced Job Scheduler (ENDJS) if it runs.",
        "Only then start what you need: STRSBS SBSD(QCTL) (or your controlling subsystem), STRTCP; and check that "
        "no address of production answers from this partition.",
        f"To stop it: PWRDWNSYS OPTION(*IMMED) at the console, or `chsysstate -m {system} -r lpar -o shutdown "
        f"-n {clone.lpar_name} --immed` on the HMC. Generation {generation} itself stays as it was taken.",
    ]
    return steps


# ------------------------------------------------------------------ verify (the proof of a generation)
#
# `flash4i rcvpnt verify ENV G` proves a recovery point the first time it is booted. The markers
# are journal sequence numbers and QABNORMSW, which only the running OS can tell. A manual IPL
# stops before the OS runs (at DST / "IPL or Install the System"), and the isolated clone has no
# network by design, so nothing can read them over SSH; and no public interface lets the HMC run
# SQL on a partition's console unattended. The honest channel is the operator at the console,
# after the restricted-state IPL that next_steps describes (interfaces inactive, no startup
# program): verify boots the generation isolated and prints the statements to type there; then
# `verify ... --journal LIB/JRN=SEQ --previous-end normal|abnormal` judges what the operator read
# against the markers the run recorded on production, records the generation's `proven`, and
# stops the partition again.


def console_steps(defs: Defs, generation: int) -> List[str]:
    """What the operator types at the console of the booted generation to read its markers."""
    from . import proof
    steps = ["After the restricted-state IPL, sign on at the console and read, before anything changes them:",
             "  DSPSYSVAL SYSVAL(QABNORMSW)   (0: the previous end was normal, 1: abnormal)"]
    for journal in proof.journals_of(defs.env):
        lib, _, name = journal.partition("/")
        steps.append(f"  STRSQL, then: SELECT LAST_SEQUENCE_NUMBER FROM QSYS2.JOURNAL_RECEIVER_INFO WHERE "
                     f"JOURNAL_LIBRARY = '{lib}' AND JOURNAL_NAME = '{name}' AND STATUS = 'ATTACHED'")
    journals = " ".join(f"--journal {j}=SEQ" for j in proof.journals_of(defs.env))
    steps.append(f"Then record them (this stops the partition again): flash4i rcvpnt verify {defs.env['name']} "
                 f"{generation} {journals} --previous-end normal|abnormal")
    return steps


@dataclass
class VerifyResult:
    environment: str
    generation: int
    proven: bool
    reasons: List[str]
    stopped: str


def verify_record(env_name: str, generation: int, journals: dict, previous_end: str, bound: float = 600.0,
                  poll: float = 2.0) -> VerifyResult:
    """Judge what the operator read on the booted generation, record it, stop the clone."""
    from . import proof
    from .generations import record_point
    from ..store.db import write_transaction
    if previous_end not in ("normal", "abnormal"):
        raise ValidationError(f"--previous-end must be normal or abnormal, not {previous_end!r}")
    env, generation, row = resolve(env_name, generation)
    _refuse_locked(env)
    defs = Defs.load(environment_record(env))
    wanted = proof.journals_of(defs.env)
    unknown = sorted(set(journals) - set(wanted))
    if unknown:
        raise ValidationError(f"environment {env.name} proves no journal {', '.join(unknown)} "
                              f"(proof.journals: {', '.join(wanted) or 'none'})")
    run = m.Run.get_or_none(m.Run.id == row.run_id) if row.run_id is not None else None
    if run is None:
        raise NotFound(f"generation {generation} of {env.name}: the run that took it is gone, and its markers "
                       "with it")
    clone = {"previous_end": previous_end, "journals": dict(journals)}
    proven, why = proof.judge(run.proof or {}, clone, wanted, bool(defs.env["quiesce"].get("abnormal_ipl_expected")),
                              needs_marker=False)
    ctx = _BootContext(defs, bound, poll)
    try:
        stopped = _stop_clone(ctx)
    finally:
        ctx.close()
    with write_transaction():
        record_point(env.id, generation, proven=proven)
        m.Run.update(proof=dict(run.proof or {}, verify=dict(clone, proven=proven, reasons=why))).where(
            m.Run.id == run.id).execute()
    return VerifyResult(env.name, generation, proven, why, stopped)


def _stop_clone(ctx: _BootContext) -> str:
    """Shut the booted clone down again (immediately: it runs nothing), bounded."""
    clone = ctx.defs.clone
    hmc, system, lpar = _clone_lpar(ctx)
    if lpar.state == NOT_ACTIVATED:
        return f"{clone.lpar_name} already Not Activated"
    hmc.shutdown(system, clone.lpar_name, immediate=True)
    hmc.wait_state(system, clone.lpar_name, {NOT_ACTIVATED}, timeout=max(1.0, ctx.remaining()), poll=ctx.poll)
    return f"{clone.lpar_name} stopped"
