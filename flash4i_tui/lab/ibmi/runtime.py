"""A running IBM i: jobs, subsystems, TCP/IP, ASP activity, power down.

One `IbmiRuntime` exists per IPL of a disk set on an LPAR (`boot.boot()` creates it). It works
directly on the state found on the volumes (`IbmiState`), which is therefore "the disk".

Locking: the runtime uses the world's lock (one lock for the whole lab, so a FlashCopy
snapshot, a ticker and a command never deadlock each other). Commands run with the lock held;
every wait (`pause`, `wait_for`) releases it through a condition variable. Calls out to the
HMC side (`lpar_ref.power_off`, `set_refcode`) are made from a separate thread, never under
the lock.

Jobs: every command runs in a job (SSH command jobs in QUSRWRK, the startup job QSTRUPJD in the
controlling subsystem, submitted batch jobs). A job that is ended (ENDSBS, power down) unwinds
with `JobEnded`, a BaseException so that `except Exception` in agent code cannot swallow it.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import cl
from .messages import ClEscape, Msg, command_error, escape, msg
from .state import IbmiState, JobRecord, LogMessage

DEFAULT_PYTHON = "/QOpenSys/pkgs/bin/python3.9"
MIB = 1024 * 1024


class JobEnded(BaseException):
    """The job was ended (ENDSBS, power down, the system stopped): unwinds its thread."""


@dataclass
class Job:
    """A job of the running system (its record is what is kept on disk once it ends)."""

    rec: JobRecord
    ended: bool = False                  # end requested (ENDSBS, power down ...)
    finished: bool = False               # bookkeeping done
    cancel: threading.Event = field(default_factory=threading.Event)
    env: Dict[str, str] = field(default_factory=dict)
    conn: Any = None                     # the SSH connection this job serves, dropped when it ends
    command: str = ""                    # what a submitted job runs
    thread: Optional[threading.Thread] = None

    @property
    def qualified(self) -> str:
        return self.rec.qualified

    @property
    def subsystem(self) -> str:
        return self.rec.subsystem

    @property
    def user(self) -> str:
        return self.rec.user


@dataclass
class AspActivity:
    """CHGASPACT state of *SYSBAS."""

    suspending: bool = False             # *SUSPEND waiting for transactions to reach a boundary
    suspended: bool = False
    incomplete: bool = False             # suspended with *CONT while transactions stayed open
    action: str = ""
    timeout: int = 0
    auto_resume_at: Optional[float] = None   # real monotonic seconds (see suspend_asp)
    pause: Any = None                    # the world's ground-truth record of this hold

    @property
    def holding(self) -> bool:
        """New database work waits."""
        return self.suspending or self.suspended


@dataclass
class CommandResult:
    messages: List[Tuple[Msg, str]]      # (message, COMPLETION | INFORMATIONAL | DIAGNOSTIC)
    output: List[str]
    returns: Dict[str, Any]


class Ctx:
    """What a command implementation sees: the system, its job, and how to send messages."""

    def __init__(self, rt: "IbmiRuntime", job: Job, analysed: cl.Analysed, program: Any = None):
        self.rt, self.job, self.state = rt, job, rt.state
        self.analysed = analysed
        self.program = program
        self.sent: List[Tuple[Msg, str]] = []
        self.returns: Dict[str, Any] = {}
        self.output: List[str] = []

    @property
    def now(self) -> datetime:
        return self.rt.world.clock.now()

    def send(self, message: Msg, msg_type: str = "COMPLETION") -> None:
        self.sent.append((message, msg_type))
        self.rt.joblog(self.job, message, msg_type)

    def comp(self, msg_id: str, **fields: Any) -> None:
        self.send(msg(msg_id, **fields), "COMPLETION")

    def info(self, msg_id: str, **fields: Any) -> None:
        self.send(msg(msg_id, **fields), "INFORMATIONAL")

    def diag(self, msg_id: str, **fields: Any) -> None:
        self.send(msg(msg_id, **fields), "DIAGNOSTIC")

    def fail(self, msg_id: str, **fields: Any) -> ClEscape:
        """The escape message to raise (diagnostics already sent are in the job log)."""
        return escape(msg_id, tuple(m for m, t in self.sent if t == "DIAGNOSTIC"), **fields)

    def qhst(self, msg_id: str, **fields: Any) -> None:
        self.rt.qhst(msg(msg_id, **fields), self.job)

    def pause(self, lab_seconds: float) -> None:
        self.rt.pause(self.job, lab_seconds)

    def db_change(self, nbytes: int = MIB) -> None:
        self.rt.db_change(self.job, nbytes)


ProgramFn = Callable[["IbmiRuntime", Job, Sequence[str]], None]
BUILTIN_PROGRAMS: Dict[Tuple[str, str], ProgramFn] = {}     # (library, program) -> implementation


def builtin_program(library: str, name: str) -> Callable[[ProgramFn], ProgramFn]:
    def register(fn: ProgramFn) -> ProgramFn:
        BUILTIN_PROGRAMS[(library, name)] = fn
        return fn
    return register


class IbmiRuntime:
    """The operating system running on one LPAR from one disk set."""

    # Lab seconds (the world clock turns them into real time through its speed).
    FRCWRT_SECONDS = 3.0               # writing changed main storage pages
    SUSPEND_SECONDS = 2.0              # reaching a boundary when no long transaction is open
    POWER_DOWN_SECONDS = {"*IMMED": 45.0, "*CNTRLD": 180.0}
    SAVE_MIB_PER_SECOND = 400.0        # tape or save file throughput
    DB_CHANGE_BYTES = MIB              # bytes a database-changing command writes
    # [U] A *SUSPEND with SSPTIMOACN(*END) also ends by itself once SSPTIMO has passed (the
    # issue's reading of the parameter); the resume is recorded in QHST. That timer bounds the
    # client's own work (taking the flash), which runs in real time, so it counts real seconds.
    AUTO_RESUME_AFTER_SSPTIMO = True
    CRASH_REFCODE = "A6000255"         # [U] shown by the LPAR after the OS crashed (disk unit lost)
    POWER_DOWN_REFCODE = "D9002770"    # [U] shown while powering down
    DEFAULT_STARTUP_SUBSYSTEMS = ("QSPL", "QSERVER", "QUSRWRK", "QSYSWRK", "QBATCH", "QINTER", "QCMN")
    SSH_JOB_SUBSYSTEM = "QUSRWRK"
    # Where the applications that write the journals run (a clone held by the agent starts neither)
    APPLICATION_SUBSYSTEMS = frozenset({"QBATCH", "QINTER"})

    def __init__(self, world: Any, lpar_ref: Any, volumes: Sequence[Any], state: IbmiState,
                 python: str = DEFAULT_PYTHON):
        self.world = world
        self.lpar = lpar_ref
        self.volumes = list(volumes)
        self.state = state
        self.python = python
        self.lock = world.lock
        self.cond = threading.Condition(world.lock)
        self.managed_system = str(getattr(lpar_ref, "system", ""))
        self.partition_id = int(getattr(lpar_ref, "id", 0))
        self.partition_name = str(getattr(lpar_ref, "name", ""))
        self.serial = str(getattr(lpar_ref, "serial", "") or state.system_values.get("QSRLNBR", ""))
        self.type_model = str(getattr(lpar_ref, "type_model", "") or "")
        self.label = f"{self.partition_name} ({self.managed_system} id {self.partition_id})"
        self.phase = "down"                # ipl | running | down
        self.ipl_kind = "normal"
        self.ipl_started: Optional[datetime] = None
        self.subsystems: Dict[str, datetime] = {}
        self.restricted = False
        self.tcp_active = False
        self.interfaces: Dict[str, str] = {}     # address -> ACTIVE | FAILED
        self.servers: set = set()
        self.jobs: Dict[str, Job] = {}           # active and queued jobs
        self.asp = AspActivity()
        self.flushed = False
        self.conns: list = []
        self.scpf: Optional[Job] = None

    # ------------------------------------------------------------------ identity and status

    @property
    def key(self) -> Tuple[str, int]:
        return (self.managed_system, self.partition_id)

    @property
    def up(self) -> bool:
        return self.phase == "running"

    @property
    def ssh_active(self) -> bool:
        return self.up and self.tcp_active and "*SSHD" in self.servers and not self.restricted

    @property
    def controlling(self) -> str:
        return self.state.controlling_subsystem()

    def consistency(self) -> str:
        """How a copy taken now would IPL (called by state.snapshot under the lock)."""
        if self.asp.suspended:
            return "flushed" if self.asp.incomplete else "quiesced"
        if self.flushed:
            return "flushed"
        return "crash"

    def now(self) -> datetime:
        return self.world.clock.now()

    def record(self, text: str, **data: Any) -> None:
        self.world.record("ibmi", f"{self.label}: {text}", system=self.state.sysname, **data)

    # ------------------------------------------------------------------ waiting

    def check(self, job: Optional[Job]) -> None:
        """Raise JobEnded if JOB (or the whole system) was ended."""
        if self.phase == "down" or (job is not None and job.ended) or self.world.clock.stopped:
            raise JobEnded(job.qualified if job is not None else self.label)

    def pause(self, job: Optional[Job], lab_seconds: float) -> None:
        """Let LAB_SECONDS of lab time pass in JOB (the lock is released meanwhile)."""
        clock = self.world.clock
        deadline = clock.monotonic() + max(0.0, lab_seconds)
        with self.lock:
            while True:
                self.check(job)
                left = deadline - clock.monotonic()
                if left <= 0:
                    return
                self.cond.wait(min(clock.real(left), 0.05))

    def wait_for(self, job: Optional[Job], ready: Callable[[], bool], lab_timeout: Optional[float] = None) -> bool:
        """Wait until READY() (checked under the lock); False when LAB_TIMEOUT passed first."""
        clock = self.world.clock
        deadline = None if lab_timeout is None else clock.monotonic() + lab_timeout
        with self.lock:
            while not ready():
                self.check(job)
                left = None if deadline is None else deadline - clock.monotonic()
                if left is not None and left <= 0:
                    return False
                self.cond.wait(0.05 if left is None else min(clock.real(left), 0.05))
            return True

    def notify(self) -> None:
        with self.lock:
            self.cond.notify_all()

    # ------------------------------------------------------------------ logs

    def qhst(self, message: Msg, job: Optional[Job] = None, msg_type: str = "INFORMATIONAL") -> None:
        if self.phase == "down" and self.state.runtime is not self:
            return          # the system is gone: nothing reaches the disk any more
        source = job or self.scpf
        self.state.log(LogMessage(self.now(), message.msg_id, message.severity, message.text, msg_type,
                                  source.user if source else "QSYS", source.qualified if source else "",
                                  "QWTMCMNL" if job is None else ""))

    def joblog(self, job: Optional[Job], message: Msg, msg_type: str) -> None:
        if job is not None:
            job.rec.joblog.append(LogMessage(self.now(), message.msg_id, message.severity, message.text,
                                             msg_type, job.user, job.qualified))

    def joblog_request(self, job: Job, text: str) -> None:
        job.rec.joblog.append(LogMessage(self.now(), "", 0, text, "REQUEST", job.user, job.qualified))

    # ------------------------------------------------------------------ jobs

    def new_job(self, user: str, name: str, job_type: str, subsystem: str, status: str = "ACTIVE",
                jobq: str = "", jobd: str = "", submitter: str = "", log_start: bool = True) -> Job:
        with self.lock:
            now = self.now()
            number = 0 if (name == "SCPF" and user == "QSYS") else self.state.take_job_number()
            rec = JobRecord(number, user, name, job_type, subsystem, now, status=status,
                            jobq=jobq, jobd=jobd, submitter=submitter)
            job = Job(rec)
            self.jobs[job.qualified] = job
            if status == "ACTIVE":
                self._job_started(job, log_start)
            return job

    def _job_started(self, job: Job, log_start: bool = True) -> None:
        job.rec.status, job.rec.started = "ACTIVE", self.now()
        if log_start and job.rec.job_type in ("BCH", "ASJ", "BCI"):
            stamp = job.rec.started
            self.qhst(msg("CPF1124", job=job.qualified, date=stamp.strftime("%m/%d/%y"),
                          time=stamp.strftime("%H:%M:%S"), sbs=job.subsystem), job)

    def end_job(self, job: Job, code: int = 0, completion: str = "NORMAL") -> None:
        """Bookkeeping of a job that ended: QHST CPF1164, its joblog spooled."""
        with self.lock:
            if job.finished:
                return
            job.finished = job.ended = True
            job.cancel.set()
            self.jobs.pop(job.qualified, None)
            if self.state.runtime is not self:
                return
            rec = job.rec
            rec.ended, rec.status, rec.end_code, rec.completion = self.now(), "OUTQ", code, completion
            rec.end_severity = 0 if code == 0 else 30
            if rec.job_type in ("BCH", "ASJ", "BCI") and rec.started is not None:
                self.qhst(msg("CPF1164", job=job.qualified, date=rec.ended.strftime("%m/%d/%y"),
                              time=rec.ended.strftime("%H:%M:%S"),
                              cpu=max(1, int((rec.ended - rec.started).total_seconds())), code=code), job)
            if rec.job_type != "SYS":
                self.state.keep_ended_job(rec)
            self.cond.notify_all()

    def kill_job(self, job: Job, by: str) -> None:
        """End JOB immediately (ENDSBS *IMMED, power down): its thread unwinds at its next step."""
        with self.lock:
            if job.ended:
                return
            job.ended = True
            job.cancel.set()
            self.joblog(job, msg("CPC1125", job=job.qualified, by=by), "COMPLETION")
            if job.conn is not None:
                self.drop_connection(job.conn)
            if job.thread is None or job.rec.status != "ACTIVE":
                self.end_job(job, 50 if job.rec.status == "ACTIVE" else 0,
                             "ABNORMAL" if job.rec.status == "ACTIVE" else "NORMAL")
            self.cond.notify_all()

    def find_job(self, qualified: str) -> Optional[Job]:
        return self.jobs.get(qualified.upper())

    def start_thread(self, job: Job, body: Callable[[Job], None]) -> None:
        """Run BODY in JOB's own thread; the job ends when BODY returns or raises."""

        def run() -> None:
            code, completion = 0, "NORMAL"
            try:
                body(job)
            except ClEscape:
                code, completion = 20, "ABNORMAL"
            except JobEnded:
                code, completion = 50, "ABNORMAL"
            except Exception as exc:  # a bug in a command must not leave the job hanging
                self.record(f"job {job.qualified} failed: {type(exc).__name__}: {exc}")
                code, completion = 30, "ABNORMAL"
            finally:
                self.end_job(job, code, completion)

        job.thread = threading.Thread(target=run, name=f"ibmi-{self.partition_name}-{job.rec.name}", daemon=True)
        job.thread.start()

    # ------------------------------------------------------------------ submitted jobs and job queues

    def jobq_subsystem(self, jobq: str) -> Optional[str]:
        name = jobq.split("/")[-1]
        for sbs in self.state.subsystems.values():
            if name in sbs.job_queues:
                return sbs.name
        return None

    def submit(self, by: Job, command: str, name: str, jobq: str, jobd: str, user: str,
               env: Optional[Dict[str, str]] = None) -> Job:
        with self.lock:
            job = self.new_job(user, name, "BCH", "", status="JOBQ", jobq=jobq, jobd=jobd,
                               submitter=by.qualified)
            job.command = command
            job.env.update(env or {})
            self.dispatch()
            return job

    def dispatch(self) -> None:
        """Start the jobs waiting on job queues whose subsystem is active."""
        with self.lock:
            if not self.up:
                return
            for job in [j for j in self.jobs.values() if j.rec.status == "JOBQ"]:
                sbs = self.jobq_subsystem(job.rec.jobq)
                if sbs is None or sbs not in self.subsystems:
                    continue
                job.rec.subsystem = sbs
                self._job_started(job)
                self.start_thread(job, lambda j: self.run_command(j, j.command))

    # ------------------------------------------------------------------ commands

    def command_available(self, definition: cl.CommandDef) -> bool:
        if definition.product == "brms":
            return self.state.brms is not None
        if definition.product == "ajs":
            return self.state.ajs.installed
        return True

    def run_command(self, job: Job, text: str, variables: Optional[Dict[str, Any]] = None,
                    program: Any = None) -> CommandResult:
        """Run one CL command in JOB. Raises ClEscape with the escape message on failure."""
        with self.lock:
            self.check(job)
            self.joblog_request(job, text)
            try:
                analysed = cl.analyse(text, variables, self.command_available,
                                      expression=program.expression if program is not None else None)
                if analysed.definition.where == "program" and program is None:
                    raise command_error(msg("CPD0031", cmd=analysed.name))
            except ClEscape as exc:
                self._log_escape(job, exc, ())
                raise
            ctx = Ctx(self, job, analysed, program)
            try:
                if analysed.definition.db_change:
                    ctx.db_change(self.DB_CHANGE_BYTES)
                analysed.definition.handler(ctx, analysed.args)
            except ClEscape as exc:
                self._log_escape(job, exc, [m for m, _ in ctx.sent])
                raise
            return CommandResult(ctx.sent, ctx.output, ctx.returns)

    def _log_escape(self, job: Job, exc: ClEscape, already: Sequence[Msg]) -> None:
        """Diagnostics not yet in the job log, then the escape; once per job (nested commands)."""
        if getattr(exc, "logged_in", None) is job:
            return
        exc.logged_in = job
        for diagnostic in exc.diagnostics:
            if not any(diagnostic is m for m in already):
                self.joblog(job, diagnostic, "DIAGNOSTIC")
        self.joblog(job, exc.escape, "ESCAPE")

    def call_program(self, job: Job, lib: str, name: str, parms: Sequence[str] = ()) -> None:
        """CALL PGM(LIB/NAME): a built-in IBM program, or a CL program interpreted from its source."""
        from . import clprogram
        with self.lock:
            libraries = self.library_list(job) if lib in ("*LIBL", "*CURLIB") else [lib]
            for candidate in libraries:
                builtin = BUILTIN_PROGRAMS.get((candidate, name))
                if builtin is not None and candidate in self.state.libraries:
                    builtin(self, job, parms)
                    return
                library = self.state.library(candidate)
                obj = library.get(name, "*PGM") if library is not None else None
                if obj is not None:
                    clprogram.run_program(self, job, candidate, obj, parms)
                    return
            raise escape("CPF0001", (msg("CPD0170", pgm=name, lib=lib),), cmd="CALL")

    def library_list(self, job: Optional[Job] = None) -> List[str]:
        parts = str(self.state.system_values.get("QSYSLIBL", "")).split() + \
            str(self.state.system_values.get("QUSRLIBL", "")).split()
        return [p for p in parts if p in self.state.libraries]

    # ------------------------------------------------------------------ database work and writes

    def db_change(self, job: Optional[Job], nbytes: int) -> None:
        """Database work waits while the ASP is suspended, then writes to the disks."""
        self.wait_for(job, lambda: not self.asp.holding)
        self.write(nbytes)

    def write(self, nbytes: int) -> None:
        """NBYTES reach the disk units: main storage is no longer flushed."""
        if nbytes <= 0 or not self.volumes:
            return
        self.flushed = False
        share = max(1, int(nbytes) // len(self.volumes))
        for volume in self.volumes:
            writer = getattr(volume, "write", None)
            if writer is not None:
                writer(share)

    def tick(self, lab_seconds: float) -> None:
        """Background work (called by the world's ticker, with the lock held)."""
        if not self.up:
            return
        asp = self.asp
        if asp.suspended and asp.auto_resume_at is not None and time.monotonic() >= asp.auto_resume_at:
            self.resume_asp(automatic=True)
        if asp.holding or self.restricted:       # the applications wait: no write, no journal entry
            return
        rate = self.state.workload.write_rate_mib
        if rate > 0:
            self.write(int(rate * MIB * lab_seconds))
        if self.APPLICATION_SUBSYSTEMS & set(self.subsystems):     # a held clone runs no application
            for journal in self.state.journals.values():
                journal.advance(lab_seconds)

    # ------------------------------------------------------------------ CHGASPACT

    def force_write(self, job: Job) -> None:
        self.pause(job, self.FRCWRT_SECONDS)
        self.flushed = True

    def suspend_asp(self, ctx: Ctx, timeout: int, action: str) -> None:
        asp = self.asp
        if asp.holding:
            raise ctx.fail("CPFB71B", asp="*SYSBAS")
        asp.suspending, asp.action, asp.timeout = True, action, timeout
        asp.pause = self.world.pause_begins(self.label, "asp_suspend")     # new work waits from now
        need = self.state.workload.open_transaction_seconds or self.SUSPEND_SECONDS
        try:
            ctx.pause(min(need, timeout))
        except JobEnded:
            self._clear_suspend()
            raise
        asp.suspending = False
        if need > timeout and action == "*END":
            self._clear_suspend()
            ctx.qhst("CPFB718", asp="*SYSBAS", timeout=timeout)
            raise ctx.fail("CPFB718", asp="*SYSBAS", timeout=timeout)
        asp.suspended, asp.incomplete = True, need > timeout
        self.flushed = True
        if asp.incomplete:
            ctx.diag("CPIB719", asp="*SYSBAS", timeout=timeout)
        if action == "*END" and self.AUTO_RESUME_AFTER_SSPTIMO:
            # Real seconds: at the tests' speed (600), 30 lab seconds would leave a client 50 ms.
            asp.auto_resume_at = time.monotonic() + timeout
        ctx.qhst("CPIB71D", asp="*SYSBAS")
        self.record(f"ASP *SYSBAS suspended (SSPTIMO {timeout}, {action}"
                    f"{', some transactions still open' if asp.incomplete else ''})")

    def _clear_suspend(self, how: str = "failed") -> None:
        self.world.pause_ends(self.asp.pause, how)
        self.asp = AspActivity()
        self.cond.notify_all()

    def resume_asp(self, automatic: bool = False) -> bool:
        """Resume *SYSBAS; False when it was not suspended."""
        if not self.asp.suspended:
            return False
        timeout = self.asp.timeout
        self._clear_suspend("automatic" if automatic else "resumed")
        if automatic:
            self.qhst(msg("CPIB71C", asp="*SYSBAS", timeout=timeout))
        self.qhst(msg("CPIB71E", asp="*SYSBAS"))
        self.record("ASP *SYSBAS resumed" + (" automatically (SSPTIMO passed)" if automatic else ""))
        return True

    # ------------------------------------------------------------------ subsystems

    def start_subsystem(self, name: str, job: Optional[Job] = None) -> None:
        """STRSBS: raises ClEscape when already active or not defined."""
        with self.lock:
            if name not in self.state.subsystems:
                raise escape("CPF1003", sbs=name)
            if name in self.subsystems:
                raise escape("CPF1010", sbs=name)
            self.subsystems[name] = self.now()
            self.restricted = False
            self.new_job("QSYS", name, "SBS", name)
            self.qhst(msg("CPC1202", sbs=name), job)
            if name == "QSYSWRK" and self.state.ajs.installed and self.state.ajs.monitor_enabled:
                self.start_ajs_monitor()
            if name == self.controlling and self.up:
                self.start_startup_job()
            self.dispatch()

    def end_subsystem(self, name: str, by: Optional[Job], spare: Optional[Job] = None) -> None:
        with self.lock:
            if name not in self.subsystems:
                raise escape("CPF1054", sbs=name)
            for job in [j for j in self.jobs.values() if j.subsystem == name and j is not spare]:
                if job.rec.status == "ACTIVE":
                    self.kill_job(job, by.qualified if by else "the system")
            del self.subsystems[name]
            self.qhst(msg("CPC1206", sbs=name), by)

    def end_all_subsystems(self, by: Job, option: str) -> None:
        """ENDSBS SBS(*ALL): restricted state. The calling job survives only in the controlling subsystem."""
        with self.lock:
            spare = by if by.subsystem == self.controlling else None
            self.qhst(msg("CPF1034", option=option.lstrip("*")), by)
            self.end_tcp(by)
            for name in list(self.subsystems):
                self.end_subsystem(name, by, spare)
            self.restricted = True
            self.qhst(msg("CPF0968"), by)
            self.record("ended to restricted state" + (f" (batch restricted state, job {by.qualified})"
                                                       if spare is not None else ""))
            if spare is None:
                self.kill_job(by, by.qualified)

    def start_ajs_monitor(self) -> None:
        if not any(j.rec.name == "QIJSSCD" for j in self.jobs.values()):
            self.new_job("QIJS", "QIJSSCD", "BCH", "QSYSWRK")

    def ajs_monitor(self) -> Optional[Job]:
        for job in self.jobs.values():
            if job.rec.name == "QIJSSCD" and job.rec.status == "ACTIVE":
                return job
        return None

    def start_startup_job(self) -> None:
        """The autostart job QSTRUPJD of the controlling subsystem runs the startup program."""
        job = self.new_job("QPGMR", "QSTRUPJD", "ASJ", self.controlling)
        program = str(self.state.system_values.get("QSTRUPPGM", "*NONE")).upper()
        if program in ("*NONE", ""):
            self.end_job(job)
            return

        def run(j: Job) -> None:
            qual = cl.split_qualified(program)
            try:
                self.call_program(j, qual.lib, qual.obj)
            except ClEscape as exc:
                if any(d.msg_id == "CPD0170" for d in exc.diagnostics):
                    self.qhst(msg("CPI0997", pgm=qual.obj, lib=qual.lib), j)
                raise

        self.start_thread(job, run)

    # ------------------------------------------------------------------ TCP/IP and SSH

    def start_tcp(self, by: Optional[Job], interfaces: bool = True, servers: bool = True) -> None:
        """STRTCP: the autostart interfaces and servers, unless STRIFC(*NO) / STRSVR(*NO)."""
        with self.lock:
            self.tcp_active = True
            self.check_name_conflict()
            for iface in list(self.state.interfaces.values()):
                if interfaces and iface.autostart:
                    self.start_interface(iface.address, by)
            for server, autostart in self.state.tcp_servers.items():
                if servers and autostart:
                    self.servers.add(server)
            self.qhst(msg("TCP1A1F"), by)

    def end_tcp(self, by: Optional[Job]) -> None:
        with self.lock:
            if not self.tcp_active:
                return
            for address in list(self.interfaces):
                self.end_interface(address)
            self.servers.clear()
            self.tcp_active = False
            self.drop_ssh()
            self.qhst(msg("TCP1A77"), by)

    def start_interface(self, address: str, by: Optional[Job]) -> Optional[Msg]:
        """Start one interface; the message to send as escape when it could not start."""
        if self.interfaces.get(address) == "ACTIVE":
            return msg("TCP1D05", addr=address)
        if not self.world.network.claim(address, self, who=self.label):
            self.interfaces[address] = "FAILED"
            failure = msg("TCP8A1F", addr=address)
            self.qhst(failure, by)
            return failure
        self.interfaces[address] = "ACTIVE"
        self.qhst(msg("TCP1D03", addr=address), by)
        return None

    def end_interface(self, address: str) -> None:
        if self.interfaces.pop(address, None) == "ACTIVE":
            self.world.network.release(address, self)

    def check_name_conflict(self) -> None:
        """A system that starts TCP/IP with the name of another running system is a conflict."""
        name = self.state.sysname
        for other in list(self.world.running.values()):
            if other is not self and getattr(other, "up", False) and \
                    getattr(getattr(other, "state", None), "sysname", None) == name and \
                    getattr(other, "tcp_active", False):
                self.qhst(msg("CPI0998", name=name))
                self.world.conflict("name", f"{self.label} started TCP/IP with system name {name}, "
                                            f"which {other.label} is already using", system_name=name)

    def register_connection(self, conn: Any) -> None:
        with self.lock:
            self.conns = [c for c in self.conns if c.transport is None or c.transport.is_active()]
            self.conns.append(conn)

    def forget_connection(self, conn: Any) -> None:
        with self.lock:
            if conn in self.conns:
                self.conns.remove(conn)

    def drop_connection(self, conn: Any) -> None:
        """The SSH session ends with its job (or with SSH/TCP/the system): its transport closes.

        Closed from a separate thread, once the exec requests in flight were answered, so the
        client sees an accepted command whose connection then drops (and the lock is not held)."""
        conn.cancel.set()
        if conn in self.conns:
            self.conns.remove(conn)
        transport = getattr(conn, "transport", None)
        if transport is None:
            return

        def close() -> None:
            for channel in list(getattr(conn, "channels", [])):
                replied = getattr(channel, "lab_replied", None)
                if replied is not None:
                    replied.wait(1.0)
            transport.close()

        threading.Thread(target=close, name=f"ibmi-{self.partition_name}-drop", daemon=True).start()

    def drop_ssh(self) -> None:
        for conn in list(self.conns):
            self.drop_connection(conn)

    # ------------------------------------------------------------------ IPL (driven by boot.py)

    def begin_ipl(self, kind: str) -> None:
        """The OS part of the IPL starts: the disks are in use from now on."""
        with self.lock:
            self.ipl_kind = kind
            self.phase = "ipl"
            self.ipl_started = self.now()
            self.state.attach(self)
            # QABNORMSW tells the previous end: 1 after a crash, or a copy taken without a quiesce;
            # a quiesced copy as the topology says (normal by default [U]: the reference expects abnormal)
            normal = ("clean", "quiesced") if self.state.quiesced_copy_ipl == "normal" else ("clean",)
            self.state.system_values["QABNORMSW"] = "0" if kind in normal else "1"
            self.state.last_end = "crash"        # until a normal power down says otherwise
            self.world.running[self.key] = self
            self.scpf = self.new_job("QSYS", "SCPF", "SYS", "")
            net = self.state.network
            if net.pending_sysname and net.pending_sysname != net.sysname:
                self.qhst(msg("CPI0996", old=net.sysname, new=net.pending_sysname))
                net.sysname, net.pending_sysname = net.pending_sysname, None
            net.pending_sysname = None

    def finish_ipl(self) -> None:
        """End of the IPL: controlling subsystem, TCP/IP if STRTCP(*YES), then the startup program."""
        with self.lock:
            self.phase = "running"
            for name in ("QSYSARB", "QLUS", "QDBSRV01", "QJOBSCD"):
                self.new_job("QSYS", name, "SYS", "")
            self.subsystems[self.controlling] = self.now()
            self.new_job("QSYS", self.controlling, "SBS", self.controlling)
            self.qhst(msg("CPC1202", sbs=self.controlling))
            if self.state.ipl_attributes.get("STRTCP", "*YES") == "*YES":
                self.start_tcp(None)
            self.qhst(msg("CPI0993", partition=self.partition_name, id=self.partition_id, name=self.state.sysname))
            self.record(f"IPL complete ({self.ipl_kind}), system name {self.state.sysname}")
            self.start_startup_job()

    # ------------------------------------------------------------------ ending

    def stop(self, last_end: str, reason: str, spool: bool = True) -> None:
        """The OS stops: jobs end, addresses are released, the disks are left with LAST_END."""
        with self.lock:
            if self.phase == "down":
                return
            self.phase = "down"                  # from now on every job sees the system gone
            for job in list(self.jobs.values()):
                if spool and job.rec.job_type != "SYS":
                    job.rec.ended, job.rec.status, job.rec.completion = self.now(), "OUTQ", "ABNORMAL"
                    self.state.keep_ended_job(job.rec)
                job.ended = job.finished = True
                job.cancel.set()
            self.jobs.clear()
            for address in list(self.interfaces):
                self.end_interface(address)
            self.world.network.release_all(self)
            self.drop_ssh()
            self.subsystems.clear()
            self.servers.clear()
            self.tcp_active = False
            self.asp = AspActivity()
            if self.world.running.get(self.key) is self:
                del self.world.running[self.key]
            self.state.last_end = last_end
            self.state.detach(self)
            self.cond.notify_all()
        self.record(reason)

    def power_down(self, by: Optional[Job], option: str, restart: bool) -> None:
        """PWRDWNSYS: a normal end, then the partition powers off (or restarts) through the HMC."""
        with self.lock:
            self.qhst(msg("CPF0990", option=option.lstrip("*"), restart="YES" if restart else "NO"), by)
            self.stop("clean", f"PWRDWNSYS OPTION({option}) RESTART({'*YES' if restart else '*NO'})")
        seconds = self.POWER_DOWN_SECONDS.get(option, 60.0)

        def finish() -> None:
            self._to_lpar("set_refcode", self.POWER_DOWN_REFCODE)
            if self.world.clock.sleep(seconds):
                self._to_lpar("power_off", restart=restart, immediate=option == "*IMMED")

        threading.Thread(target=finish, name=f"ibmi-{self.partition_name}-pwrdwn", daemon=True).start()

    def halt(self, immediate: bool, reason: str) -> None:
        """The HMC shuts the partition down: immediately (an abnormal end) or in a controlled way."""
        with self.lock:
            if self.phase != "down" and not immediate:
                self.qhst(msg("CPF0990", option="CNTRLD", restart="NO"))
        self.stop("crash" if immediate else "clean", f"halted by the HMC ({reason})", spool=not immediate)

    def crash(self, reason: str) -> None:
        """The OS dies (a disk unit overwritten, ...): abnormal end, the LPAR shows an error SRC."""
        if self.phase == "down":
            return
        self.stop("crash", f"CRASHED: {reason}", spool=False)
        threading.Thread(target=self._to_lpar, args=("set_refcode", self.CRASH_REFCODE),
                         name=f"ibmi-{self.partition_name}-crash", daemon=True).start()

    def _to_lpar(self, method: str, *args: Any, **kwargs: Any) -> None:
        fn = getattr(self.lpar, method, None)
        if fn is None:
            return
        try:
            fn(*args, **kwargs)
        except Exception as exc:  # the HMC side failing must not kill the lab thread silently
            self.record(f"lpar {method} failed: {type(exc).__name__}: {exc}")


# ---------------------------------------------------------------- the world's ticker


def ensure_ticker(world: Any) -> None:
    """One ticker per world drives the background work of every running IBM i."""
    with world.lock:
        if getattr(world, "_ibmi_ticker", False):
            return
        world._ibmi_ticker = True

    def tick(lab_seconds: float) -> None:
        for runtime in list(world.running.values()):
            if isinstance(runtime, IbmiRuntime):
                runtime.tick(lab_seconds)

    world.add_ticker(tick)
