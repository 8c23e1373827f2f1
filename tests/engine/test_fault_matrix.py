"""The fault matrix: every step of every plan, under every fault, judged by the lab's ground truth.

The cases are generated, not written: for each storage family (svc, ds8000, powermax) and each
function (*NONE, *BRMS, *SAVE21, *USER), the steps come from the engine's own plan
(`plan.plan_for` and each step's `applies`), and each step gets each fault:

  fail          the step's command fails once (the device's own error form)
  hang          the step's command hangs past the step's bound (the bound is cut to its clean
                duration + HANG_MARGIN so the case stays fast)
  drop          the connection (SSH, or HTTPS for REST) drops once on the step's command
  drop2         ... twice in a row (the retry drops too)
  store-locked  every store write fails ("database is locked") while the step runs; the next
                pass (as the next worker would) continues the run
  store-gone    every store write fails from that step on; it comes back for the next pass
  sigkill       the worker process gets SIGKILL while the step's command is at the device (the
                device executes it: the answer is lost); a new worker recovers the run

"The step's command" is found in a clean run of the same environment recorded first (once per
session): the first command of the step that changes something on a device, else the step's
last command (reads, and the *FRCWRT flush, do not count as changes). The fault is armed only
while the engine is in that step.

Every case is judged by the lab, not only by the product's records: production runs and is not
suspended (the lab timed each pause, and counted at most one), the consistency group was started
at most once (the lab's captures), no clone used production's name or address (the lab's
conflicts), nothing was written to the store while production was suspended, and the run's
history is truthful: a failed run never says SUCCEEDED, a step marked OK happened in the lab,
and a run that succeeded left the copy on the targets (and, when it started the clone, the
clone proved it a copy taken in the window).

The full matrix runs with FLASH4I_FAULT_MATRIX=full (CI, see .ci/run); the default run takes a
slice of it (SLICE below). SIGKILL is expensive (a worker subprocess per case): it covers every
step of one function per family (SIGKILL_FUNCTION), rotated so that each family gets another one.
RELIABILITY.md has the table, the counts and the wall time.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from flash4i_tui.config.store_io import import_config, load_config_file
from flash4i_tui.engine import plan, runner
from flash4i_tui.engine.steps import ATTEMPTS_PER_BOUND
from flash4i_tui.engine.agentctl import install_agent
from flash4i_tui.engine.functions import logs_folder
from flash4i_tui.engine.order import order_path
from flash4i_tui.engine.queue import submit_run
from flash4i_tui.engine.worker import Worker
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.lab.server import Lab, load_topology
from flash4i_tui.store import models as m

from .conftest import LAB_SPEED

pytestmark = [pytest.mark.lab, pytest.mark.fault]

FULL = os.environ.get("FLASH4I_FAULT_MATRIX", "") == "full"

FAMILIES = ("svc", "ds8000", "powermax")
FUNCTIONS = ("*NONE", "*BRMS", "*SAVE21", "*USER")
DEVICE_FAULTS = ("fail", "hang", "drop", "drop2")
STORE_FAULTS = ("store-locked", "store-gone")
FAULTS = DEVICE_FAULTS + STORE_FAULTS + ("sigkill",)
SIGKILL_FUNCTION = {"svc": "*USER", "ds8000": "*BRMS", "powermax": "*SAVE21"}
WINDOW = ("QUIESCE", "FLASH", "RESUME")

HANG_MARGIN = 1.5          # seconds a hung step's bound is left above its clean duration
PASS_LIMIT = 120.0         # seconds one pass of a run may take before the case calls it unbounded
PASSES = 3                 # a run left RUNNING by a failing store is continued this often
FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


# ------------------------------------------------------------------ the labs and their environments

def topology(family: str) -> dict:
    """The lab of FAMILY, with one environment per function.

    svc: the shipped demo datacenter, which has them. ds8000 and powermax (tests/data): the demo's
    environment of each function moved onto the family's source, clone and volumes (NPIV), and
    production given what those functions use (BRMS control groups, the *USER commands' objects,
    job schedule entries), copied from the demo's production."""
    demo = load_topology()
    if family == "svc":
        return demo
    topo = load_topology(storage=family)
    demo_prod = next(i for i in demo["ibmi"] if i["name"] == "PROD")
    prod = next(i for i in topo["ibmi"] if i["name"] == "PROD")
    for key in ("brms", "job_schedule_entries", "advanced_job_scheduler"):
        prod[key] = copy.deepcopy(demo_prod[key])
    libraries = {lib["name"]: lib for lib in prod["libraries"]}
    for lib in demo_prod["libraries"]:
        mine = libraries.get(lib["name"])
        if mine is None:
            prod["libraries"].append(dict(copy.deepcopy(lib), size_mib=64))
            continue
        have = {o["name"] for o in mine.get("objects", [])}
        mine.setdefault("objects", []).extend(copy.deepcopy(o) for o in lib.get("objects", []) if o["name"] not in have)
    environments = topo["flash4i"]["environments"]
    base = environments[0]                                   # the family's *NONE environment
    clone = next(p for p in topo["flash4i"]["partitions"] if p["name"] == base["clone"])
    for env in demo["flash4i"]["environments"]:
        if env["function"] == "*NONE":
            continue
        new = copy.deepcopy(env)
        name = base["name"][:2] + env["function"][1:]
        new.update(name=name, source=base["source"], clone=base["clone"], storage=base["storage"],
                   consistency_group=f"FL_{name}", volumes=copy.deepcopy(base["volumes"]), attach={"type": "npiv"})
        new.pop("schedule", None)
        new["clone_identity"] = {"system_name": env["clone_identity"]["system_name"],
                                 "interfaces": [dict(i, address=clone["address"])
                                                for i in env["clone_identity"]["interfaces"][:1]]}
        environments.append(new)
    return topo


def environment_of(topo: dict, function: str) -> dict:
    return next(e for e in topo["flash4i"]["environments"] if e["function"] == function)


def planned_steps(family: str, env: dict) -> List[str]:
    """The steps a run of ENV does (skipped ones left out), from the engine's plan definitions."""
    shape = SimpleNamespace(vscsi=(env.get("attach") or {}).get("type") == "vscsi",
                            starts_clone=env["function"] != "*NONE", function=env["function"], generation=None,
                            storage=SimpleNamespace(type=family))
    return [s.name for s in plan.plan_for(shape) if s.applies(shape)]


# ------------------------------------------------------------------ the cases

@dataclass(frozen=True)
class Case:
    family: str
    function: str
    env: str
    step: str
    fault: str

    @property
    def id(self) -> str:
        return f"{self.family}-{self.function.strip('*')}-{self.step}-{self.fault}"


def generate() -> List[Case]:
    cases = []
    for family in FAMILIES:
        topo = topology(family)
        for function in FUNCTIONS:
            env = environment_of(topo, function)
            for step in planned_steps(family, env):
                for fault in FAULTS:
                    if fault == "sigkill" and SIGKILL_FUNCTION[family] != function:
                        continue
                    cases.append(Case(family, function, env["name"], step, fault))
    return cases


def in_slice(case: Case) -> bool:
    """The default run's share: every in-process fault at each window step of *NONE on svc; on
    ds8000 and powermax a rotation that gives each window step two faults and each fault a window
    step; one step of a function per family; one SIGKILL (svc, inside the window)."""
    if case.function == "*NONE" and case.step in WINDOW and case.fault != "sigkill":
        if case.family == "svc":
            return True
        turn = FAMILIES.index(case.family)
        return (WINDOW.index(case.step) + FAULTS.index(case.fault) + turn) % len(WINDOW) == 0
    return (case.family, case.function, case.step, case.fault) in {
        ("svc", "*BRMS", "FUNCTION", "fail"),
        ("ds8000", "*SAVE21", "START_CLONE", "hang"),
        ("powermax", "*USER", "ACTIVATE_TARGETS", "drop"),
        ("svc", "*USER", "FLASH", "sigkill"),
    }


ALL_CASES = generate()
CASES = [c for c in ALL_CASES if FULL or in_slice(c)]


# ------------------------------------------------------------------ watching the lab and the engine

def names_of(device) -> Tuple[str, ...]:
    return (device,) if isinstance(device, str) else tuple(device)


def kind_of(command: str) -> str:
    """A command with its numbers generalised (hdisk3, job 1001, snapid ..., run 7)."""
    return re.sub(r"\d+", "#", command)


_READ_CL = re.compile(r"/system '(CHK|DSP|RTV|WRK)|OPTION\(\*FRCWRT\)")
_CHANGE = re.compile(r"^(svctask |chsysstate |POST |PUT |DELETE |PATCH |JOB |sftp (put|mkdir|rmdir|rm|rename) )"
                     r"|viosvrcmd .*-c '?(rmdev|mkvdev|cfgdev|chdev)|/QOpenSys/usr/bin/system '")


def changes(command: str) -> bool:
    return bool(_CHANGE.search(command)) and not _READ_CL.search(command)


@dataclass
class Sent:
    step: Optional[str]
    devices: Tuple[str, ...]
    command: str
    fault: Optional[str]           # the fault the lab applied to it, if any


class Probe:
    """Watches one lab and the engine running in this process: which step runs (runner._run_step),
    every command the lab's devices were sent (world.faults.check), and arms one fault rule while
    a chosen step runs (the first time it runs)."""

    def __init__(self, lab: Lab, mp: pytest.MonkeyPatch):
        self.lab = lab
        self.step: Optional[str] = None
        self.entered: Counter = Counter()
        self.log: List[Sent] = []
        self.arm_step: Optional[str] = None
        self.arm_rule: Optional[dict] = None
        self.rule = None                        # the armed rule, for its counters
        self.before: Optional[Callable[[Sent], None]] = None
        faults = lab.world.faults
        real_check = faults.check

        def check(device, command):
            sent = Sent(self.step, names_of(device), command, None)
            if self.before is not None:
                self.before(sent)
            fault = real_check(device, command)
            sent.fault = fault.action if fault is not None else None
            self.log.append(sent)
            return fault
        mp.setattr(faults, "check", check)
        real_run_step = runner._run_step

        def run_step(ctx, stepdef, row, cleanup=False):
            self.step = stepdef.name
            self.entered[stepdef.name] += 1
            armed = stepdef.name == self.arm_step and self.entered[stepdef.name] == 1 and self.arm_rule is not None
            if armed:
                rules = FaultRules.parse([self.arm_rule])
                self.rule = rules.rules[0]
                faults.replace(rules)
            try:
                return real_run_step(ctx, stepdef, row, cleanup)
            finally:
                if armed:
                    faults.replace(FaultRules())
                self.step = None
        mp.setattr(runner, "_run_step", run_step)

    def arm(self, step: str, rule: dict) -> None:
        self.arm_step, self.arm_rule = step, rule


class StoreWatch:
    """Every store write (BEGIN IMMEDIATE, INSERT, UPDATE, DELETE) goes through here: counted per
    step, noted when the lab has production paused, and failed like a locked or lost SQLite
    database while FAILING(step) holds."""

    WRITE = re.compile(r"^\s*(BEGIN\s+IMMEDIATE|INSERT|UPDATE|DELETE|REPLACE)\b", re.I)

    def __init__(self, mp: pytest.MonkeyPatch, lab: Lab, probe: Probe):
        import peewee
        self.attempts: Counter = Counter()
        self.failed = 0
        self.while_paused: List[Tuple[Optional[str], str]] = []
        self.failing: Callable[[Optional[str]], bool] = lambda step: False
        db = m.Run._meta.database.obj
        real = db.execute_sql

        def execute_sql(sql, *args, **kwargs):
            if self.WRITE.match(sql):
                step = probe.step
                self.attempts[step] += 1
                if lab.world.open_pauses():
                    self.while_paused.append((step, sql[:120]))
                if self.failing(step):
                    self.failed += 1
                    raise peewee.OperationalError("database is locked")
            return real(sql, *args, **kwargs)
        mp.setattr(db, "execute_sql", execute_sql)


# ------------------------------------------------------------------ one lab with its store

def _tune_store(function: str, source: str) -> None:
    """The storage drivers poll every 0.1 s; production suspends with SSPTIMOACN(*CONT), so only
    flash4i's resume ends a suspend (a lab that resumed it by itself would hide a lost resume)."""
    for st in m.StorageSystem.select():
        m.StorageSystem.update(options=dict(st.options or {}, poll_interval=0.1)).where(
            m.StorageSystem.id == st.id).execute()
    m.Environment.update(quiesce_action="*CONT").execute()
    if function != "*NONE":
        install_agent(source)


@contextmanager
def family_lab(family: str, env: dict, where: Path) -> Iterator[Lab]:
    from flash4i_tui.store import open_store
    where.mkdir(parents=True, exist_ok=True)
    lab = Lab(topology(family), where / "lab", speed=LAB_SPEED).start()
    db = None
    saved = {}
    try:
        for variable, password in lab.passwords().items():
            saved[variable] = os.environ.get(variable)
            os.environ[variable] = password
        db = open_store(f"sqlite:///{where / 'store.db'}")
        import_config(load_config_file(lab.write_config(where / "lab.yaml")))
        _tune_store(env["function"], env["source"])
        yield lab
    finally:
        if db is not None:
            db.close()
        lab.stop()
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value


# ------------------------------------------------------------------ the clean run of each environment

@dataclass
class Recording:
    """What a clean run of one environment sent to the lab, step by step."""

    sent: Dict[str, List[Sent]]
    durations: Dict[str, float]

    def target(self, step: str) -> Sent:
        """The step's first command that changes something, else its last command: a step that
        only reads may poll a varying number of times first (a loaded machine), but it always
        ends with the read that saw what it waited for."""
        sent = self.sent.get(step) or []
        assert sent, f"a clean run's {step} sent no command to the lab: nothing to fault"
        return next((s for s in sent if changes(s.command)), sent[-1])

    def kinds(self, step: str) -> set:
        return {(s.devices[0], kind_of(s.command)) for s in self.sent.get(step, [])}

    def unique_to(self, step: str, sent: Sent) -> bool:
        """SENT's kind appears in no other step of the clean run."""
        key = (sent.devices[0], kind_of(sent.command))
        return all(key not in self.kinds(other) for other in self.sent if other != step)


_RECORDINGS: Dict[Tuple[str, str], Recording] = {}


def clean_recording(family: str, function: str, where: Path) -> Recording:
    key = (family, function)
    if key not in _RECORDINGS:
        env = environment_of(topology(family), function)
        with pytest.MonkeyPatch.context() as mp, family_lab(family, env, where) as lab:
            probe = Probe(lab, mp)
            run = _submit(env["name"])
            runner.execute(run.id, threading.Event(), poll=0.05)
            run = m.Run.get_by_id(run.id)
            assert run.state == "SUCCEEDED", f"the clean run of {env['name']} on {family}: {run.message}"
            sent: Dict[str, List[Sent]] = {}
            for s in probe.log:
                if s.step is not None:
                    sent.setdefault(s.step, []).append(s)
            durations = {s.name: s.duration or 0.0 for s in run.steps}
        _RECORDINGS[key] = Recording(sent, durations)
    return _RECORDINGS[key]


@pytest.fixture(scope="session")
def recordings(tmp_path_factory):
    return lambda family, function: clean_recording(family, function, tmp_path_factory.mktemp("clean"))


# ------------------------------------------------------------------ faults

def fail_form(device: str) -> dict:
    """A failure in the device's own form."""
    if device.startswith("ibmi:"):
        return {"exit_status": 255, "message": "CPF9898: Injected by the fault matrix."}
    if device.startswith("svc:"):
        return {"exit_status": 1, "message": "CMMVC5786E The action failed because the cluster is not in a stable "
                                             "state."}
    if device.startswith("hmc:"):
        return {"exit_status": 1, "message": "HSCL3205 The managed system is busy, try again later."}
    if device.startswith("ds8000:"):
        return {"exit_status": 500, "message": "BE7A002F The storage image is busy, try again later."}
    return {"exit_status": 500, "message": "The Unisphere server is busy (injected by the fault matrix)."}


def device_rule(fault: str, target: Sent) -> dict:
    pattern = "^" + re.sub(r"\\#", r"\\d+", re.escape(kind_of(target.command))) + "$"
    rule = {"device": target.devices[0], "match": pattern}
    if fault == "fail":
        rule.update(action="fail", times=1, **fail_form(target.devices[0]))
    elif fault == "hang":
        rule.update(action="hang", times=1)
    else:
        rule.update(action="drop", times=2 if fault == "drop2" else 1)
    return rule


def cut_bound(mp: pytest.MonkeyPatch, step: str, seconds: float) -> None:
    """The step's bound, cut (as test_run.py does) so a hang ends in seconds."""
    steps = [dataclasses.replace(s, bound=lambda d: seconds) if s.name == step else s for s in plan.STEPS]
    mp.setattr(plan, "STEPS", steps)
    cleanup = next(s for s in steps if s.cleanup)
    mp.setattr(plan, "CLEANUP", cleanup)
    mp.setattr(runner, "CLEANUP", cleanup)


# ------------------------------------------------------------------ running a case

def _submit(env: str) -> m.Run:
    run = submit_run(env, "pytest")
    m.Run.update(state="RUNNING", worker="pytest").where(m.Run.id == run.id).execute()
    return m.Run.get_by_id(run.id)


def _bounded(fn: Callable[[], object], lab: Lab, what: str) -> List[BaseException]:
    """Run FN in a thread; a pass that does not end within PASS_LIMIT is a wait without a bound
    (the lab is stopped to set the thread free, and the case fails)."""
    errors: List[BaseException] = []

    def target():
        try:
            fn()
        except BaseException as exc:      # the store failed past the engine's retries
            errors.append(exc)
    thread = threading.Thread(target=target, name="matrix-pass", daemon=True)
    thread.start()
    thread.join(PASS_LIMIT)
    if thread.is_alive():
        lab.stop()
        thread.join(30)
        pytest.fail(f"{what} did not end within {PASS_LIMIT:.0f}s: a wait without a bound")
    return errors


@dataclass
class Outcome:
    run: m.Run
    passes: int = 0
    errors: List[BaseException] = field(default_factory=list)
    killed: bool = False


def run_in_process(case: Case, lab: Lab, store: StoreWatch) -> Outcome:
    run = _submit(case.env)
    outcome = Outcome(run)
    while outcome.passes < PASSES:
        outcome.passes += 1
        outcome.errors += _bounded(lambda: runner.execute(run.id, threading.Event(), poll=0.05), lab,
                                   f"pass {outcome.passes} of the run")
        production_is_safe(lab)                       # after every pass, whatever the store did
        store.failing = lambda step: False            # the store is back for the next worker
        outcome.run = m.Run.get_by_id(run.id)
        if outcome.run.state in FINAL:
            break
    return outcome


def _worker_process(tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flash4i_tui", "--db", f"sqlite:///{tmp_path / 'store.db'}",
                             "worker", "--step-poll", "0.05"], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_with_sigkill(case: Case, lab: Lab, probe: Probe, rec: Recording, tmp_path: Path) -> Outcome:
    """A worker process runs the case; it is killed when the step's command reaches the lab (the
    device then executes it: the answer is lost); a new worker takes the run over."""
    target = rec.target(case.step)
    pattern = re.compile("^" + re.sub(r"\\#", r"\\d+", re.escape(kind_of(target.command))) + "$")
    unique = rec.unique_to(case.step, target)
    run = submit_run(case.env, "pytest")
    outcome = Outcome(run)
    killed = threading.Event()
    proc: List[subprocess.Popen] = []
    table = m.Run._meta.table_name

    def current_step() -> Optional[str]:
        con = sqlite3.connect(str(tmp_path / "store.db"), timeout=5)
        try:
            row = con.execute(f"SELECT current_step FROM {table} WHERE id = ?", (run.id,)).fetchone()
        finally:
            con.close()
        return row[0] if row else None

    def before(sent: Sent) -> None:
        if killed.is_set() or not proc or sent.devices[0] != target.devices[0] or not pattern.match(sent.command):
            return
        if not unique and current_step() != case.step:
            return
        os.kill(proc[0].pid, signal.SIGKILL)
        killed.set()
    probe.before = before
    proc.append(_worker_process(tmp_path))
    try:
        deadline = time.monotonic() + PASS_LIMIT
        while not killed.is_set() and proc[0].poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc[0].wait(30)
    finally:
        probe.before = None
        if proc[0].poll() is None:
            proc[0].kill()
    outcome.killed = killed.is_set()
    assert outcome.killed, f"the worker never sent {target.command!r} in {case.step}"
    outcome.passes = 1
    time.sleep(0.6)                         # its heartbeat is stale for the new worker
    worker = Worker(f"sqlite:///{tmp_path / 'store.db'}", poll=0.05, step_poll=0.05, stale_after=0.5,
                    idle_exit=1.0)
    outcome.errors += _bounded(worker.serve, lab, "the new worker")
    outcome.passes = 2
    outcome.run = m.Run.get_by_id(run.id)
    return outcome


# ------------------------------------------------------------------ the lab's verdict

def _partition(name: str) -> m.Partition:
    return m.Partition.get(m.Partition.name == name)


def _lpar(lab: Lab, partition: m.Partition):
    system = lab.world.systems[partition.managed_system.name]
    return next(lp for lp in system.lpars.values() if lp.id == partition.lpar_id)


def _array(lab: Lab, env: m.Environment):
    return lab.world.arrays[env.storage.name]


def production_is_safe(lab: Lab) -> None:
    """Production runs, is not suspended, and every pause the lab saw has ended."""
    world = lab.world
    source = next(iter({e.source for e in m.Environment.select()}))
    runtime = world.running.get((source.managed_system.name, source.lpar_id))
    assert runtime is not None and _lpar(lab, source).state == "Running", "production is not running"
    assert not runtime.asp.suspended, "PRODUCTION IS LEFT SUSPENDED"
    assert world.open_pauses() == [], f"the lab still holds production: {[p.as_dict() for p in world.open_pauses()]}"


def judge(case: Case, lab: Lab, outcome: Outcome, probe: Probe, rec: Recording,
          store: Optional[StoreWatch]) -> None:
    world = lab.world
    run = outcome.run
    env = m.Environment.get(m.Environment.name == case.env)
    steps = {s.name: s for s in run.steps}
    planned = [n for n in planned_steps(case.family, environment_of(topology(case.family), case.function))]
    arr = _array(lab, env)
    sources = [arr.volume(p.source).name for p in env.volume_pairs.order_by(m.VolumePair.seq)]
    targets = [arr.volume(p.target) for p in env.volume_pairs.order_by(m.VolumePair.seq)]
    prod = world.running[(env.source.managed_system.name, env.source.lpar_id)].state
    where = f"run {run.state} ({run.message!r}); steps " + ", ".join(f"{n}={steps[n].status}" for n in planned)

    # Production: running, resumed, suspended at most once, for a time the lab measured.
    production_is_safe(lab)
    suspends = [p for p in world.pauses if p.kind == "asp_suspend"]
    assert len(suspends) <= 1, f"production was suspended {len(suspends)} times; {where}"
    assert all(p.seconds is not None and p.seconds < 15.0 for p in world.pauses), \
        f"pauses {[p.as_dict() for p in world.pauses]}; {where}"
    if suspends and run.suspended_seconds is not None:
        assert abs(run.suspended_seconds - suspends[0].seconds) < 1.0, \
            f"the run says {run.suspended_seconds:.3f}s suspended, the lab {suspends[0].seconds:.3f}s"
    # The group started at most once; no clone took production's name or address.
    captures = world.captures_of(sources)
    assert len(captures) <= 1, f"{len(captures)} point-in-time copies of production; {where}"
    assert world.conflicts == [], [c.text for c in world.conflicts]
    # Nothing waited on the store while production was suspended (the new worker of a SIGKILL
    # case writes before it resumes: it has to find the run first).
    if store is not None and case.fault != "sigkill":
        assert store.while_paused == [], f"store writes while production was paused: {store.while_paused[:3]}"

    # The history.
    assert run.state in ("SUCCEEDED", "FAILED"), where
    if run.state == "SUCCEEDED":
        assert run.message == "", where
        assert all(steps[n].status == "OK" for n in planned), where
        assert len(captures) == 1 and run.resume_confirmed, where
        assert all(t.content is not None for t in targets), "the run succeeded but a target holds nothing"
        states = {id(t.content.state) for t in targets}
        assert len(states) == 1 and targets[0].content.state is not prod, "the targets do not hold one copy"
        if case.function != "*NONE":     # the lab quiesced the copy: its clone must say so
            assert run.proven is True, f"the clone of a run that SUCCEEDED is not proven: {run.proof}; {where}"
    else:
        assert run.message, where
        assert any(steps[n].status != "OK" for n in planned), f"FAILED with every step OK; {where}"
    assert not any(s.status == "FAILED" for s in steps.values()) or run.state == "FAILED", where

    # A step marked OK happened in the lab.
    answered = {(s.devices[0], kind_of(s.command)) for s in probe.log if s.fault is None}
    clone_events = [e for e in world.events if e.kind == "boot" and e.data.get("lpar") == env.clone.lpar_name]
    for name in planned:
        if steps[name].status != "OK":
            continue
        detail = steps[name].detail or ""
        if name == "QUIESCE":
            assert len(suspends) == 1, f"QUIESCE OK, but the lab never suspended production; {where}"
        elif name == "FLASH":
            assert len(captures) == 1, f"FLASH OK, but the storage made no copy; {where}"
        elif name == "RESUME":
            if suspends:
                assert suspends[0].how == "resumed", f"RESUME OK, but the suspend ended {suspends[0].how!r}"
            else:
                assert "not suspended" in detail, f"RESUME OK without a suspend: {detail}"
        elif name == "WRITE_CLONE_ORDER":
            order = json.loads(prod.ifs.read(order_path(env.clone.lpar_id)))
            assert order["run_id"] == run.id, "WRITE_CLONE_ORDER OK, but production holds another order"
        elif name == "ACTIVATE_TARGETS":
            assert all(t.content is not None for t in targets), "ACTIVATE_TARGETS OK, but the targets hold nothing"
        elif name == "START_CLONE":
            assert any("disks left quiesced" in e.text for e in clone_events), \
                f"START_CLONE OK, but the clone never booted from a quiesced copy: {[e.text for e in clone_events]}"
        elif name == "FUNCTION":
            function_happened(case.function, lab, env, prod)
        elif name == "COLLECT_LOGS":
            assert prod.ifs.list_dir(logs_folder(run.id)) == ["agent.log", "joblog.txt", "qhst.txt"], \
                "COLLECT_LOGS OK, but production holds no logs of the run"
        elif name == "FINISH":
            assert run.space_used_bytes is not None, "FINISH OK without the space used"
            if case.function != "*NONE" and env.stop_clone_after:
                assert _lpar(lab, env.clone).state == "Not Activated", "FINISH OK, but the clone still runs"
        else:
            assert answered & rec.kinds(name), f"{name} OK, but the lab answered none of its commands"
    if run.state == "SUCCEEDED":
        if case.function == "*NONE":
            copy_ = targets[0].content
            assert copy_.consistency == "quiesced", f"the copy is {copy_.consistency}, not quiesced"
            order = json.loads(copy_.state.ifs.read(order_path(env.clone.lpar_id)))
            assert order["run_id"] == run.id, "the copy does not hold this run's clone order"


def function_happened(function: str, lab: Lab, env: m.Environment, prod) -> None:
    """FUNCTION OK: what the function leaves behind, in the lab."""
    arr = _array(lab, env)
    clone_disk = arr.volume(env.volume_pairs.order_by(m.VolumePair.seq)[0].target).content.state
    if function == "*BRMS":
        assert prod.brms.flashcopy_state == "*ENDPRC", "FUNCTION OK, but BRMS on production did not end the process"
        assert any(h.flashcopy for h in prod.brms.history), "FUNCTION OK, but production has no FlashCopy backups"
    elif function == "*SAVE21":
        assert "SAVSYS" in {s.command for s in clone_disk.saves}, "FUNCTION OK, but the clone saved nothing"
    elif function == "*USER":
        assert clone_disk.libraries["APPDTA"].get("ENVIRON", "*DTAARA").value == "TEST", \
            "FUNCTION OK, but the user's commands did not run on the clone"
        assert prod.libraries["APPDTA"].get("ENVIRON", "*DTAARA").value == "PROD"


# ------------------------------------------------------------------ the test

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault(case: Case, recordings, tmp_path, monkeypatch):
    rec = recordings(case.family, case.function)
    env = environment_of(topology(case.family), case.function)
    monkeypatch.setattr("flash4i_tui.engine.context.FLUSH_PAUSE", 0.02)
    with family_lab(case.family, env, tmp_path) as lab:
        probe = Probe(lab, monkeypatch)
        store = StoreWatch(monkeypatch, lab, probe)
        if case.fault == "sigkill":
            outcome = run_with_sigkill(case, lab, probe, rec, tmp_path)
        else:
            if case.fault in DEVICE_FAULTS:
                target = rec.target(case.step)
                probe.arm(case.step, device_rule(case.fault, target))
                if case.fault == "hang":
                    bound = rec.durations[case.step] + HANG_MARGIN
                    if case.step == "RESUME":     # each attempt gets its share: leave room for a retry
                        bound *= ATTEMPTS_PER_BOUND
                    cut_bound(monkeypatch, case.step, bound)
            elif case.fault == "store-locked":
                store.failing = lambda step: step == case.step and probe.entered[case.step] == 1
            else:
                store.failing = lambda step: probe.entered[case.step] > 0
            outcome = run_in_process(case, lab, store)
            if case.fault in DEVICE_FAULTS:
                assert probe.rule is not None and probe.rule.fired >= 1, \
                    f"the fault on {target.command!r} never fired in {case.step}"
            elif case.step == "FLASH":
                # Inside the window nothing is written: a store that fails there changes nothing.
                assert store.attempts["FLASH"] == 0, "FLASH wrote to the store while production was suspended"
            else:
                assert store.failed > 0, f"the store was never written in {case.step}"
        judge(case, lab, outcome, probe, rec, store)
