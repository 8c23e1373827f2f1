"""The simulated HMC: managed systems, partitions (LPARs), profiles and VIOS. No I/O here.

An activation runs in its own thread: partition firmware (C2xxxxxx reference codes), then,
for IBM i, the IBM i model boots from the volumes the partition sees (it reports the LIC
C6xxxxxx and OS C9xxxxxx codes and ends at 00000000). Shutdowns move through Shutting Down
(D6xx/D9xx codes) to Not Activated. Every power operation is a `_Run`; a newer operation
supersedes the older one (its cancel event is set), so a late thread never changes state.

Durations are lab seconds in class attributes; items marked [U] are unverified against a
real HMC and are attributes so they can be changed without touching the logic.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import (IoscliError, already_backing, already_off, already_on, device_busy,
                     no_rmc, no_such_device, not_found, wrong_state)

NOT_ACTIVATED = "Not Activated"
STARTING = "Starting"
RUNNING = "Running"
SHUTTING_DOWN = "Shutting Down"
ERROR = "Error"
STATES = (NOT_ACTIVATED, STARTING, RUNNING, SHUTTING_DOWN, ERROR)

ENVS = ("os400", "vioserver", "aixlinux")
KEYLOCKS = ("norm", "manual")
IPL_SOURCES = ("a", "b", "c", "d")
BOOT_MODES = ("norm", "dd", "ds", "of", "sms")
IPL_COMPLETE = "00000000"

Steps = Tuple[Tuple[str, float], ...]     # (reference code, lab seconds shown) in order


def load_ibmi_boot() -> Tuple[Callable[..., Any], type]:
    """The IBM i model's boot function and its failure class. Imported lazily (in the
    activation thread) so the HMC model does not depend on the IBM i model at import time."""
    from ..ibmi.boot import BootFailure, boot
    return boot, BootFailure


@dataclass(frozen=True)
class RefCodeEntry:
    code: str
    at: datetime


@dataclass
class Profile:
    """A partition profile. Resource values are plausible defaults [U], not a capture."""

    name: str
    lpar_env: str
    boot_mode: str = "norm"
    keylock: str = "norm"
    ipl_source: str = "b"
    min_mem: int = 8192
    desired_mem: int = 65536
    max_mem: int = 131072
    proc_mode: str = "shared"
    min_proc_units: str = "0.5"
    desired_proc_units: str = "2.0"
    max_proc_units: str = "4.0"
    min_procs: int = 1
    desired_procs: int = 2
    max_procs: int = 4
    sharing_mode: str = "uncap"
    max_virtual_slots: int = 200


class _Run:
    """One power operation (activation or shutdown) of one partition."""

    def __init__(self, kind: str, instant: bool = False):
        self.kind = kind
        self.instant = instant
        self.cancel = threading.Event()
        self.os_ended = False          # the OS powered itself down (PWRDWNSYS): do not halt it again


class LparRef:
    """What the IBM i model gets to know about, and do to, the partition it runs in.

    The boot contract: `boot(world, lpar_ref, volumes, report=, cancel=, instant=)` reports each
    reference code through `report` (which blocks while an IPL stall fault holds that code, and
    returns False once the IPL was superseded), stops when `cancel` is set, returns a runtime
    with `.halt(immediate, reason)` and `.crash(reason)` once the IBM i is up (00000000), or
    raises BootFailure(refcode, message, state). One LparRef per activation: calls from the
    runtime of an earlier IPL are ignored.
    """

    def __init__(self, lpar: "Lpar", run: _Run):
        self._lpar, self._run = lpar, run
        self.system = lpar.system.name
        self.name = lpar.name
        self.id = lpar.id
        self.serial = lpar.system.serial
        self.keylock = lpar.keylock
        self.ipl_source = lpar.ipl_source
        self.profile = lpar.curr_profile

    def power_off(self, restart: bool = False, immediate: bool = True) -> None:
        """PWRDWNSYS: the IBM i has ended; the partition powers off (and IPLs again on restart)."""
        self._lpar.os_power_off(self._run, restart, immediate)

    def set_refcode(self, code: str) -> None:
        self._lpar.os_refcode(self._run, code)


class Lpar:
    """A partition. HMC operations raise HsclError; the IPL runs in a thread per activation.

    Timeline of an IBM i activation: Starting with the firmware codes below, then (RUNNING_AT_LIC)
    Running while the IBM i model runs its LIC and OS phases (most of a ~10 lab minute IPL is
    its part), ending at 00000000.
    """

    # ---- timeline (lab seconds) ----------------------------------------------------------
    # Partition firmware before the LIC gets control (C2001100 adding partition resources,
    # C20012FF partition IPL allowed to proceed [V]; the codes in between [U]).
    FIRMWARE_STEPS: Steps = (("C2001100", 10.0), ("C20011FF", 10.0), ("C2001200", 10.0), ("C20012FF", 10.0))
    # AIX/VIOS boot after firmware [U codes]; such partitions end with a blank reference code.
    AIX_STEPS: Steps = (("CA00E1F7", 30.0), ("0517", 60.0))
    AIX_RUNNING_REFCODE = ""
    # Power down [U codes]: the HMC's own shutdowns, and the tail after the OS ended itself.
    DELAYED_SHUTDOWN_STEPS: Steps = (("D9002010", 60.0), ("D6000430", 15.0), ("D600430B", 15.0))
    IMMEDIATE_SHUTDOWN_STEPS: Steps = (("D6000430", 5.0), ("D600430B", 5.0))
    OS_SHUTDOWN_STEPS: Steps = (("D9002010", 90.0), ("D6000430", 15.0), ("D600430B", 15.0))
    OS_IMMEDIATE_SHUTDOWN_STEPS: Steps = (("D9002010", 20.0), ("D6000430", 10.0), ("D600430B", 10.0))
    OS_ENDED_STEPS: Steps = (("D6000430", 5.0), ("D600430B", 5.0))
    # An IBM i that is not activated shows 00000000 too [V pypowervm lpar_ibmi.txt]: only
    # Running + 00000000 means "IPL complete".
    NOT_ACTIVATED_REFCODE = {"os400": IPL_COMPLETE}
    # [U] the HMC shows Running once firmware hands over to the LIC, so Running alone is not
    # "IPL complete"; False keeps Starting until the IBM i reports 00000000.
    RUNNING_AT_LIC = True
    # [U] a manual-keylock IBM i IPL waits for a console; the lab has none (A6005008 [V]).
    MANUAL_IPL_HALT: Optional[str] = "A6005008"
    # [U] reference code families that mean the running OS failed: the partition shows Error.
    FAILURE_PREFIXES = ("B1", "B2", "B6", "B7", "B9")
    # [U] what an activation that crashed inside the lab shows.
    INTERNAL_FAILURE_REFCODE = "B2008105"
    STALL_POLL = 5.0               # lab seconds between checks of a stall fault
    HISTORY = 200                  # reference codes kept per partition

    boot_loader = staticmethod(load_ibmi_boot)   # tests replace it with a fake boot

    def __init__(self, system: "ManagedSystem", lpar_id: int, name: str, lpar_env: str,
                 profiles: Dict[str, Profile], default_profile: str):
        if lpar_env not in ENVS:
            raise ValueError(f"partition {name}: lpar_env {lpar_env!r} is not one of {', '.join(ENVS)}")
        self.system = system
        self.id = lpar_id
        self.name = name
        self.lpar_env = lpar_env
        self.profiles = profiles
        self.default_profile = default_profile
        self.curr_profile = ""
        self.state = NOT_ACTIVATED
        self.keylock = profiles[default_profile].keylock
        self.ipl_source = profiles[default_profile].ipl_source
        self.boot_mode = profiles[default_profile].boot_mode
        self.refcodes: List[RefCodeEntry] = []
        self.runtime: Any = None          # the running OS (IBM i runtime) once up
        self._run: Optional[_Run] = None
        self.initial_state = NOT_ACTIVATED       # from the topology, applied by build_hmcs
        self._add_refcode(self.NOT_ACTIVATED_REFCODE.get(lpar_env, ""))

    # ---------------------------------------------------------------- queries

    @property
    def world(self) -> Any:
        return self.system.world

    @property
    def lock(self) -> threading.RLock:
        return self.system.world.lock

    @property
    def refcode(self) -> RefCodeEntry:
        return self.refcodes[-1]

    def history(self, count: int) -> List[RefCodeEntry]:
        """The last COUNT reference codes, newest first."""
        with self.lock:
            return list(reversed(self.refcodes[-count:]))

    @property
    def rmc_active(self) -> bool:
        """RMC answers when the OS is up (IBM i: its runtime; VIOS/AIX: Running)."""
        return self.state == RUNNING and (self.runtime is not None or self.lpar_env != "os400")

    @property
    def logical_serial_num(self) -> str:
        return f"{self.system.serial}{self.id:X}"

    def profile(self, name: str) -> Profile:
        found = self.profiles.get(name)
        if found is None:
            raise not_found("partition profile", name)
        return found

    # ---------------------------------------------------------------- HMC operations

    def activate(self, profile: Optional[str] = None, keylock: Optional[str] = None,
                 ipl_source: Optional[str] = None, boot_mode: Optional[str] = None) -> None:
        """chsysstate -o on. Without a profile, the last activated (else default) one."""
        with self.lock:
            if self.state in (RUNNING, STARTING):
                raise already_on(self.name)
            if self.state != NOT_ACTIVATED:
                raise wrong_state()
            chosen = self.profile(profile or self.curr_profile or self.default_profile)
            self._begin_activation(chosen, keylock or chosen.keylock, ipl_source or chosen.ipl_source,
                                   boot_mode or chosen.boot_mode)

    def shutdown(self, immediate: bool = False, restart: bool = False, os_shutdown: bool = False) -> None:
        """chsysstate -o shutdown|osshutdown [--immed] [--restart]."""
        with self.lock:
            if self.state == NOT_ACTIVATED:
                raise already_off(self.name)
            if self.state == SHUTTING_DOWN and not immediate:
                raise wrong_state()
            if os_shutdown and not self.rmc_active:
                raise no_rmc(self.name)
            if os_shutdown:
                steps = self.OS_IMMEDIATE_SHUTDOWN_STEPS if immediate else self.OS_SHUTDOWN_STEPS
                # Both OS shutdowns end the OS normally (PWRDWNSYS by the OS itself).
                halt, reason = False, "HMC operating system shutdown" + (" (immediate)" if immediate else "")
            elif immediate:
                steps, halt, reason = self.IMMEDIATE_SHUTDOWN_STEPS, True, "HMC immediate shutdown (panel function 8)"
            else:
                steps, halt, reason = self.DELAYED_SHUTDOWN_STEPS, False, "HMC delayed shutdown"
            runtime, self.runtime = self.runtime, None
            run = self._supersede("shutdown")
            self._set_state(SHUTTING_DOWN, reason)
        self._spawn(self._power_down, run, runtime, halt, reason, steps, restart)

    def change_keylock(self, keylock: str) -> None:
        with self.lock:
            self.keylock = keylock

    # ---------------------------------------------------------------- called by the OS

    def os_power_off(self, run: _Run, restart: bool, immediate: bool) -> None:
        """The OS ended itself (PWRDWNSYS); the partition powers off, and IPLs again on restart."""
        with self.lock:
            if run is not self._run or self.state not in (RUNNING, STARTING):
                return
            run.os_ended = True
            self.runtime = None
            new = self._supersede("os-power-off")
            reason = "operating system power down" + (" with restart" if restart else "")
            self._set_state(SHUTTING_DOWN, reason)
        self._spawn(self._power_down, new, None, immediate, reason, self.OS_ENDED_STEPS, restart)

    def os_refcode(self, run: _Run, code: str) -> None:
        """A reference code set by the running OS (a crash shows its B6/B9 code)."""
        with self.lock:
            if run is not self._run:
                return                       # a runtime of an earlier IPL
            self._add_refcode(code)
            if code[:2] in self.FAILURE_PREFIXES and self.state == RUNNING and self.runtime is not None:
                self.runtime = None
                self._set_state(ERROR, f"operating system failed with reference code {code}")

    # ---------------------------------------------------------------- state machine

    def _begin_activation(self, profile: Profile, keylock: str, ipl_source: str, boot_mode: str,
                          instant: bool = False) -> _Run:
        """Start an IPL (lock held). Instant: synchronously, without firmware delays (lab start)."""
        run = self._supersede("activate", instant)
        self.curr_profile = profile.name
        self.keylock, self.ipl_source, self.boot_mode = keylock, ipl_source, boot_mode
        self._set_state(STARTING, f"activated with profile {profile.name}, keylock {keylock}, "
                                  f"IPL source {ipl_source}")
        if not instant:
            self._spawn(self._ipl, run)
        return run

    def boot_instantly(self) -> None:
        """Bring the partition up at lab start, as if it had been running for a while."""
        with self.lock:
            profile = self.profile(self.curr_profile or self.default_profile)
            run = self._begin_activation(profile, profile.keylock, profile.ipl_source, profile.boot_mode,
                                         instant=True)
        self._ipl(run)

    def _ipl(self, run: _Run) -> None:
        try:
            if not run.instant:
                for code, seconds in self.FIRMWARE_STEPS:
                    if not self._progress(run, code, seconds):
                        return
            if self.lpar_env == "os400":
                self._ibmi_phase(run)
            else:
                self._aix_phase(run)
        except Exception as exc:  # a failure inside the lab must leave the partition in Error, not Starting
            self._fail(run, self.INTERNAL_FAILURE_REFCODE, ERROR, f"IPL failed inside the lab: "
                                                                  f"{type(exc).__name__}: {exc}")

    def _ibmi_phase(self, run: _Run) -> None:
        boot, boot_failure = self.boot_loader()
        with self.lock:
            if not self._current(run):
                return
            if self.RUNNING_AT_LIC:
                self._set_state(RUNNING, "firmware handed over to the Licensed Internal Code")
        if self.keylock == "manual" and self.MANUAL_IPL_HALT and not run.instant:
            # An attended IPL stops for a console that the lab does not have.
            self._report(run, self.MANUAL_IPL_HALT)
            while self._current(run) and self.world.clock.sleep(self.STALL_POLL, run.cancel):
                pass
            return
        volumes = self.world.disks_of(self.system.name, self.id)
        try:
            runtime = boot(self.world, LparRef(self, run), volumes, report=lambda code: self._report(run, code),
                           cancel=run.cancel, instant=run.instant)
        except boot_failure as failure:
            self._fail(run, failure.refcode, failure.state, failure.message)
            return
        with self.lock:
            if self._current(run):
                self.runtime = runtime
                if self.refcode.code != IPL_COMPLETE:
                    self._add_refcode(IPL_COMPLETE)
                self._set_state(RUNNING, "IPL complete")
                return
        # Powered off while the IBM i was still coming up: stop it (unless it stopped itself).
        if runtime is not None and not run.os_ended:
            runtime.halt(True, "partition powered off during IPL")

    def _aix_phase(self, run: _Run) -> None:
        steps = () if run.instant else self.AIX_STEPS
        for code, seconds in steps:
            if not self._progress(run, code, seconds):
                return
        with self.lock:
            if self._current(run):
                if self.refcode.code != self.AIX_RUNNING_REFCODE:
                    self._add_refcode(self.AIX_RUNNING_REFCODE)
                self._set_state(RUNNING, "operating system up")

    def _power_down(self, run: _Run, runtime: Any, halt: bool, reason: str, steps: Steps, restart: bool) -> None:
        if runtime is not None:
            try:
                runtime.halt(halt, reason)
            except Exception as exc:  # the OS model failing to stop must not keep the partition up
                self.world.record("error", f"{self.label}: halting the operating system failed: {exc}")
        for code, seconds in steps:
            if not self._progress(run, code, seconds):
                return
        with self.lock:
            if not self._current(run):
                return
            self._add_refcode(self.NOT_ACTIVATED_REFCODE.get(self.lpar_env, ""))
            self._set_state(NOT_ACTIVATED, "powered off")
            if restart:
                self._begin_activation(self.profile(self.curr_profile or self.default_profile),
                                       self.keylock, self.ipl_source, self.boot_mode)

    def _fail(self, run: _Run, refcode: str, state: str, message: str) -> None:
        with self.lock:
            if not self._current(run):
                return
            self.runtime = None
            self._add_refcode(refcode)
            self._set_state(state if state in STATES else ERROR, f"IPL failed at {refcode}: {message}")

    # ---------------------------------------------------------------- helpers

    @property
    def label(self) -> str:
        return f"{self.system.name}/{self.name}"

    def _current(self, run: _Run) -> bool:
        return run is self._run and not run.cancel.is_set()

    def _supersede(self, kind: str, instant: bool = False) -> _Run:
        """A new power operation replaces the one in progress (lock held)."""
        if self._run is not None:
            self._run.cancel.set()
        self._run = _Run(kind, instant)
        return self._run

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        threading.Thread(target=target, args=args, name=f"lab-hmc-{self.name}-{target.__name__}",
                         daemon=True).start()

    def _set_state(self, state: str, why: str) -> None:
        if state != self.state:
            self.state = state
            self.world.record("hmc", f"{self.label}: {state} ({why})", system=self.system.name,
                              lpar=self.name, state=state)

    def _add_refcode(self, code: str) -> None:
        self.refcodes.append(RefCodeEntry(code, self.world.clock.now()))
        if len(self.refcodes) > self.HISTORY:
            del self.refcodes[:-self.HISTORY]

    def _report(self, run: _Run, code: str) -> bool:
        """Record CODE for RUN; hold there while an IPL stall fault names it. False if superseded."""
        with self.lock:
            if not self._current(run):
                return False
            self._add_refcode(code)
        if not run.instant and self.world.faults.ipl_stall(self.name) == code:
            self.world.record("fault", f"{self.label}: IPL stalled at {code}", lpar=self.name, refcode=code)
            while self.world.faults.ipl_stall(self.name) == code and not run.cancel.is_set():
                if not self.world.clock.sleep(self.STALL_POLL, run.cancel):
                    break
        return self._current(run)

    def _progress(self, run: _Run, code: str, seconds: float) -> bool:
        """Show CODE for SECONDS of lab time. False once superseded (stop quietly)."""
        return self._report(run, code) and self.world.clock.sleep(seconds, run.cancel) and self._current(run)

    def virtual_scsi_adapters(self) -> List[str]:
        return self.system.vscsi_adapter_specs(self)


# ---------------------------------------------------------------- VIOS


@dataclass
class Vhost:
    name: str
    physloc: str
    client_lpar_id: int

    @property
    def slot(self) -> int:
        match = re.search(r"-C(\d+)$", self.physloc)
        return int(match.group(1)) if match else 0


@dataclass
class Hdisk:
    name: str
    uid: str                     # the storage volume's uid ("" for the VIOS's own disk)
    volume_name: str
    unique_id: str
    description: str


@dataclass
class Vtd:
    name: str
    vhost: str
    hdisk: str
    lun: str
    status: str = "Available"


class Vios(Lpar):
    """A Virtual I/O Server: a partition with vhost adapters, hdisks and virtual target devices."""

    # [U] ODM unique_id of an FC disk: it embeds the storage volume uid, which is what a
    # driver looks for to find the hdisk of a volume.
    UNIQUE_ID_FORMAT = "33213{uid}04214503IBMfcp"
    DISK_DESCRIPTION = "MPIO IBM 2145 FC Disk"           # [U]
    OWN_DISKS = (("hdisk0", "2A1C5E7B00000000SAS", "SAS Disk Drive"),)   # rootvg, not a storage volume [U]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.vhosts: Dict[str, Vhost] = {}
        self.hdisks: Dict[str, Hdisk] = {}
        self.vtds: Dict[str, Vtd] = {}
        for name, unique_id, description in self.OWN_DISKS:
            self.hdisks[name] = Hdisk(name, "", "", unique_id, description)

    # ---------------------------------------------------------------- queries

    def visible_volumes(self) -> List[Any]:
        """Storage volumes the arrays map to this VIOS (its FC host)."""
        volumes: List[Any] = []
        for array in self.world.arrays.values():
            volumes.extend(array.vios_volumes(self.system.name, self.name))
        return volumes

    def vtds_of(self, vhost: str) -> List[Vtd]:
        return [vtd for vtd in self.vtds.values() if vtd.vhost == vhost]

    def vhost(self, name: str) -> Vhost:
        found = self.vhosts.get(name)
        if found is None:
            raise no_such_device(name)
        return found

    def hdisk(self, name: str) -> Hdisk:
        found = self.hdisks.get(name)
        if found is None:
            raise no_such_device(name)
        return found

    # ---------------------------------------------------------------- ioscli

    def cfgdev(self) -> None:
        """Configure an hdisk for every newly visible volume (numbered after the highest)."""
        with self.lock:
            known = {disk.uid for disk in self.hdisks.values()}
            for volume in self.visible_volumes():
                if volume.uid in known:
                    continue
                name = f"hdisk{self._next_number('hdisk', self.hdisks)}"
                self.hdisks[name] = Hdisk(name, volume.uid, volume.name,
                                          self.UNIQUE_ID_FORMAT.format(uid=volume.uid), self.DISK_DESCRIPTION)
                known.add(volume.uid)

    def rmdev(self, name: str, recursive: bool = False) -> List[str]:
        """Remove an hdisk (and, recursively, the VTD on it). Returns the deleted device names."""
        with self.lock:
            self.hdisk(name)
            users = [vtd for vtd in self.vtds.values() if vtd.hdisk == name]
            if users and not recursive:
                raise device_busy(name)
            for vtd in users:
                del self.vtds[vtd.name]
            del self.hdisks[name]
            return [vtd.name for vtd in users] + [name]

    def mkvdev(self, hdisk: str, vhost: str, vtd_name: Optional[str] = None) -> Vtd:
        with self.lock:
            self.hdisk(hdisk)
            self.vhost(vhost)
            for vtd in self.vtds.values():
                if vtd.hdisk == hdisk:
                    raise already_backing(hdisk, vtd.name)
            name = vtd_name or f"vtscsi{self._next_number('vtscsi', self.vtds)}"
            if name in self.vtds or name in self.hdisks or name in self.vhosts:
                raise IoscliError(f'Device name "{name}" is already in use.')    # [U]
            luns = {vtd.lun for vtd in self.vtds_of(vhost)}
            lun = next(lun for lun in (f"0x{0x80 + n:02x}00000000000000" for n in range(1, 128)) if lun not in luns)
            vtd = Vtd(name, vhost, hdisk, lun)
            self.vtds[name] = vtd
            return vtd

    @staticmethod
    def _next_number(prefix: str, names: Dict[str, Any]) -> int:
        numbers = [int(n[len(prefix):]) for n in names if n.startswith(prefix) and n[len(prefix):].isdigit()]
        return max(numbers) + 1 if numbers else 0


# ---------------------------------------------------------------- systems and HMCs


class ManagedSystem:
    def __init__(self, world: Any, name: str, type_model: str, serial: str, state: str = "Operating"):
        self.world = world
        self.name = name
        self.type_model = type_model
        self.serial = serial
        self.state = state
        self.lpars: Dict[int, Lpar] = {}

    @property
    def vios(self) -> Dict[str, Vios]:
        return {lpar.name: lpar for lpar in self.lpars.values() if isinstance(lpar, Vios)}

    def lpar(self, name: Optional[str] = None, lpar_id: Optional[int] = None) -> Lpar:
        for lpar in self.lpars.values():
            if (name is not None and lpar.name == name) or (lpar_id is not None and lpar.id == lpar_id):
                return lpar
        raise not_found("partition", name if name is not None else lpar_id)

    def add(self, lpar: Lpar) -> None:
        if lpar.id in self.lpars or any(other.name == lpar.name for other in self.lpars.values()):
            raise ValueError(f"managed system {self.name}: partition {lpar.name} (id {lpar.id}) is defined twice")
        self.lpars[lpar.id] = lpar

    def vscsi_backing_uids(self, lpar_id: int) -> List[str]:
        """Volume uids the partition sees through vSCSI: VTDs on vhosts whose client it is, whose
        hdisk's volume the array still maps to the VIOS."""
        with self.world.lock:
            uids: List[str] = []
            for vios in self.vios.values():
                if vios.state != RUNNING:       # no VIOS, no vSCSI disks
                    continue
                visible = {volume.uid for volume in vios.visible_volumes()}
                for vhost in vios.vhosts.values():
                    if vhost.client_lpar_id != lpar_id:
                        continue
                    for vtd in vios.vtds_of(vhost.name):
                        uid = vios.hdisks[vtd.hdisk].uid
                        if uid and uid in visible:
                            uids.append(uid)
            return uids

    def _vscsi_pairs(self) -> List[Tuple[Vios, Vhost, int]]:
        """Every vhost with the client adapter slot that faces it (clients number theirs from 2 [U])."""
        pairs: List[Tuple[Vios, Vhost, int]] = []
        used: Dict[int, int] = {}
        for vios in self.vios.values():
            for vhost in vios.vhosts.values():
                slot = 2 + used.get(vhost.client_lpar_id, 0)
                used[vhost.client_lpar_id] = used.get(vhost.client_lpar_id, 0) + 1
                pairs.append((vios, vhost, slot))
        return pairs

    def vscsi_adapter_specs(self, lpar: Lpar) -> List[str]:
        """Profile notation slot/role/remote id/remote name/remote slot/required [R]."""
        specs: List[str] = []
        for vios, vhost, client_slot in self._vscsi_pairs():
            if lpar is vios:
                client = self.lpars.get(vhost.client_lpar_id)
                specs.append(f"{vhost.slot}/server/{vhost.client_lpar_id}/{client.name if client else ''}/"
                             f"{client_slot}/1")
            elif vhost.client_lpar_id == lpar.id:
                specs.append(f"{client_slot}/client/{vios.id}/{vios.name}/{vhost.slot}/1")
        return specs


@dataclass
class Hmc:
    name: str
    users: List[str]
    version: Dict[str, Any] = field(default_factory=dict)
    systems: Dict[str, ManagedSystem] = field(default_factory=dict)

    def system(self, name: str) -> ManagedSystem:
        found = self.systems.get(name)
        if found is None:
            raise not_found("managed system", name)
        return found


# ---------------------------------------------------------------- builder

_HMC_KEYS = {"name", "users", "version", "managed_systems"}
_SYSTEM_KEYS = {"name", "type_model", "serial", "state", "lpars", "vios"}
_LPAR_KEYS = {"id", "name", "env", "profile", "state", "keylock", "ipl_source"}
_VIOS_KEYS = {"name", "vhosts", "mapped"}
_VHOST_KEYS = {"name", "client_lpar_id", "physloc"}


def _check_keys(where: str, item: Any, allowed: set, required: set) -> None:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a mapping")
    unknown, missing = set(item) - allowed, required - set(item)
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    if missing:
        raise ValueError(f"{where}: missing keys {', '.join(sorted(missing))}")


def _build_lpar(msys: ManagedSystem, spec: dict) -> Lpar:
    where = f"hmcs: {msys.name}: lpar {spec.get('name')}"
    _check_keys(where, spec, _LPAR_KEYS, {"id", "name", "env"})
    env = str(spec["env"])
    profile = Profile(str(spec.get("profile", "default")), env, keylock=str(spec.get("keylock", "norm")),
                      ipl_source=str(spec.get("ipl_source", "b")))
    if profile.keylock not in KEYLOCKS or profile.ipl_source not in IPL_SOURCES:
        raise ValueError(f"{where}: keylock must be one of {KEYLOCKS}, ipl_source one of {IPL_SOURCES}")
    cls = Vios if env == "vioserver" else Lpar
    lpar = cls(msys, int(spec["id"]), str(spec["name"]), env, {profile.name: profile}, profile.name)
    state = str(spec.get("state", NOT_ACTIVATED))
    if state not in (NOT_ACTIVATED, RUNNING):
        raise ValueError(f"{where}: state must be {NOT_ACTIVATED!r} or {RUNNING!r}")
    lpar.initial_state = state
    return lpar


def _build_vios(msys: ManagedSystem, spec: dict) -> None:
    where = f"hmcs: {msys.name}: vios {spec.get('name')}"
    _check_keys(where, spec, _VIOS_KEYS, {"name"})
    vios = msys.vios.get(str(spec["name"]))
    if vios is None:
        raise ValueError(f"{where}: no partition of that name with env vioserver")
    for vhost in spec.get("vhosts") or []:
        _check_keys(f"{where}: vhost", vhost, _VHOST_KEYS, _VHOST_KEYS)
        vios.vhosts[str(vhost["name"])] = Vhost(str(vhost["name"]), str(vhost["physloc"]),
                                                int(vhost["client_lpar_id"]))
    vios.cfgdev()
    for vhost_name, volume_names in (spec.get("mapped") or {}).items():
        vios.vhost(str(vhost_name))
        by_volume = {disk.volume_name: disk.name for disk in vios.hdisks.values() if disk.volume_name}
        for volume_name in volume_names:
            if volume_name not in by_volume:
                raise ValueError(f"{where}: mapped volume {volume_name} is not mapped to {vios.name} on any array")
            vios.mkvdev(by_volume[volume_name], str(vhost_name))


def build_hmcs(world: Any, hmcs_section: List[dict]) -> None:
    """Build the HMCs of the lab topology's `hmcs:` section into WORLD (after the arrays and the
    IBM i disks exist): register them, configure the VIOS mappings, and bring up the partitions
    listed as Running (IBM i ones booted instantly from their volumes)."""
    built: List[ManagedSystem] = []
    for spec in hmcs_section or []:
        _check_keys(f"hmcs: {spec.get('name') if isinstance(spec, dict) else spec}", spec, _HMC_KEYS, {"name"})
        hmc = Hmc(str(spec["name"]), [str(u) for u in spec.get("users") or []], dict(spec.get("version") or {}))
        for sys_spec in spec.get("managed_systems") or []:
            _check_keys(f"hmcs: {hmc.name}: system", sys_spec, _SYSTEM_KEYS, {"name", "type_model", "serial"})
            msys = ManagedSystem(world, str(sys_spec["name"]), str(sys_spec["type_model"]), str(sys_spec["serial"]),
                                 str(sys_spec.get("state", "Operating")))
            if msys.name in world.systems:
                raise ValueError(f"hmcs: managed system {msys.name} is defined twice")
            for lpar_spec in sys_spec.get("lpars") or []:
                msys.add(_build_lpar(msys, lpar_spec))
            hmc.systems[msys.name] = msys
            with world.lock:
                world.systems[msys.name] = msys
            for vios_spec in sys_spec.get("vios") or []:
                _build_vios(msys, vios_spec)
            built.append(msys)
        with world.lock:
            world.hmcs[hmc.name] = hmc
    # VIOS first: IBM i clients see their vSCSI disks only through a running VIOS.
    for msys in built:
        for lpar in sorted(msys.lpars.values(), key=lambda l: (l.lpar_env != "vioserver", l.id)):
            if lpar.initial_state == RUNNING:
                lpar.boot_instantly()
