"""The storage conformance suite: every storage driver's tests inherit `StorageConformance`.

As NAPALM's getters suite: the driver's public methods must have exactly the interface's
signatures, and the whole interface runs end to end against the family's lab device with
typed results. A subclass supplies two fixtures:

- `driver`: a StorageDriver connected to a fresh lab device (short poll intervals);
- `case`: a StorageCase describing that device's volumes and giving the lab hooks.

The module name does not start with `test_` and the class name not with `Test`, so pytest
collects the suite only through the subclasses.
"""
from __future__ import annotations

import inspect
import time
from types import FunctionType
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence

import pytest

from flash4i_tui.devices.storage.base import (GROUP_STATES, MAPPING_STATES, STOPPED_STATES, GroupState,
                                              HostMapping, MappingState, StorageDriver, VolumeInfo, VolumePair)
from flash4i_tui.errors import DeviceError, SafetyRefusal, ValidationError

MiB = 1024 ** 2


@dataclass
class StorageCase:
    """What the suite needs to know about the lab device behind a driver."""

    pairs: List[VolumePair]          # two pairs: fully allocated sources, thin targets, all of `capacity`
    capacity: int                    # bytes
    spare: str                       # a volume of the same size, in no pair and mapped to no host
    host: str                        # the clone's host object
    mapped: Dict[str, int]           # volumes mapped to `host` at the start -> their SCSI id
    missing: str                     # a valid volume name that does not exist
    write: Callable[[str, int], None]        # lab hook: the partition using a volume writes N bytes
    commands: Callable[[], Sequence[str]]    # every command line the driver has sent so far
    is_change: Callable[[str], bool]         # whether a command line changes the device
    full_copy_rate: int              # a copy rate the lab completes within `wait`
    wait: float = 10.0               # bound of every wait (real seconds)
    start_requests: int = 1          # what start() sends (DS8000: the flash, then the unfreeze)
    restart_refused: bool = True     # a second start() of a copying group fails (PowerMax: a new generation)

    @property
    def targets(self) -> List[str]:
        return [p.target for p in self.pairs]


GROUP = "CFTGROUP"
OLD_GROUP = "CFTOLD"


class StorageConformance:
    # ---------------------------------------------------------------- helpers

    @staticmethod
    def changes_since(case: StorageCase, count: int) -> List[str]:
        return [c for c in list(case.commands())[count:] if case.is_change(c)]

    @staticmethod
    def check_group(state: object, case: StorageCase, name: str, copy_rate: int) -> GroupState:
        assert isinstance(state, GroupState) and state.name == name
        assert state.status in GROUP_STATES and isinstance(state.mappings, tuple)
        assert state.start_time is None or isinstance(state.start_time, str)
        assert {(m.source, m.target) for m in state.mappings} == {(p.source, p.target) for p in case.pairs}
        assert len(state.mappings) == len(case.pairs)
        for m in state.mappings:
            assert isinstance(m, MappingState) and isinstance(m.name, str) and m.name
            assert m.status in MAPPING_STATES and type(m.progress) is int and 0 <= m.progress <= 100
            assert type(m.copy_rate) is int and m.copy_rate == copy_rate
            assert m.start_time is None or isinstance(m.start_time, str)
        return state

    def flash(self, driver: StorageDriver, case: StorageCase, group: str = GROUP, copy_rate: int = 0) -> None:
        driver.ensure_group(group, case.pairs, copy_rate)
        driver.prepare(group, timeout=case.wait)
        driver.start(group)
        driver.activate_targets(group)          # as the run does after the resume

    # ---------------------------------------------------------------- the interface itself

    @staticmethod
    def public_methods(cls: type) -> Dict[str, object]:
        """The public methods and properties of CLS and its bases (class data such as TUNING is not one)."""
        found: Dict[str, object] = {}
        for klass in reversed(cls.__mro__[:-1]):
            for name, member in vars(klass).items():
                if not name.startswith("_") and isinstance(member, (FunctionType, classmethod, staticmethod, property)):
                    found[name] = member
        return found

    def test_public_methods_have_the_interface_signatures(self, driver):
        cls = type(driver)
        public = self.public_methods(StorageDriver)
        assert {"ensure_group", "describe_commands", "configured", "plan_commands", "close"} <= set(public)
        for name, member in public.items():
            mine, theirs = inspect.signature(getattr(cls, name)), inspect.signature(getattr(StorageDriver, name))
            if isinstance(member, classmethod):     # constructors: the same parameters, each its own class
                mine, theirs = ([(p.name, p.kind, p.default) for p in sig.parameters.values()] for sig in (mine, theirs))
            assert mine == theirs, name
        assert isinstance(driver, StorageDriver) and not getattr(cls, "__abstractmethods__", None)
        assert isinstance(driver.family, str) and driver.family and isinstance(driver.name, str) and driver.name

    def test_no_public_method_beyond_the_interface(self, driver):
        # what the engine may call is what the base declares: anything else is private (or belongs there)
        extra = sorted(set(self.public_methods(type(driver))) - set(self.public_methods(StorageDriver)))
        assert extra == [], f"{type(driver).__name__} has public methods the interface does not declare: {extra}"
        instance = sorted(name for name, value in vars(driver).items() if not name.startswith("_") and callable(value))
        assert instance == [], f"{type(driver).__name__} has public callables set per instance: {instance}"

    def test_close_closes_the_transport_and_is_idempotent(self, driver, case, lab):
        stats = lab.world.stats
        driver.volumes([case.spare])
        assert stats.open_connections(), "the driver talked to the lab without a connection"
        driver.close()
        driver.close()
        deadline = time.monotonic() + case.wait
        while stats.open_connections() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stats.open_connections() == {}, "close() left the connection open"
        assert set(driver.volumes([case.spare])) == {case.spare}       # used again, it connects anew
        driver.close()

    # ---------------------------------------------------------------- volumes and hosts

    def test_volumes(self, driver, case):
        source, target = case.pairs[0].source, case.pairs[0].target
        names = [source, target, case.spare, case.missing]
        found = driver.volumes(names)
        assert isinstance(found, dict) and set(found) == {source, target, case.spare}
        for name, info in found.items():
            assert isinstance(info, VolumeInfo) and info.name == name
            assert isinstance(info.id, str) and isinstance(info.uid, str) and info.uid
            assert type(info.capacity_bytes) is int and info.capacity_bytes == case.capacity
            assert type(info.used_bytes) is int and 0 <= info.used_bytes <= info.capacity_bytes
            assert isinstance(info.thin, bool) and info.status in ("online", "offline", "degraded")
        assert not found[source].thin and found[source].used_bytes == case.capacity
        assert found[target].thin
        assert len({info.uid for info in found.values()}) == 3
        assert driver.volumes([]) == {}
        with pytest.raises(ValidationError):
            driver.volumes(["no such; name"])

    def test_host_mappings(self, driver, case):
        result = driver.host_mappings(list(case.mapped) + [case.spare])
        assert result[case.spare] == []
        for volume, scsi_id in case.mapped.items():
            assert result[volume] == [HostMapping(volume=volume, host=case.host, scsi_id=scsi_id)]

    def test_map_and_unmap_a_volume(self, driver, case):
        mapping = driver.map_volume(case.spare, case.host)
        assert isinstance(mapping, HostMapping) and (mapping.volume, mapping.host) == (case.spare, case.host)
        assert type(mapping.scsi_id) is int and mapping.scsi_id not in case.mapped.values()
        assert driver.host_mappings([case.spare]) == {case.spare: [mapping]}
        with pytest.raises(DeviceError) as exc:
            driver.map_volume(case.spare, case.host)
        assert exc.value.msg_id and exc.value.device == driver.name and exc.value.command
        driver.unmap_volume(case.spare, case.host)
        assert driver.host_mappings([case.spare]) == {case.spare: []}

    def test_space_used_counts_the_targets(self, driver, case):
        used = driver.space_used(case.targets)
        assert type(used) is int and 0 <= used <= case.capacity * len(case.targets)
        assert driver.space_used([case.pairs[0].source]) == case.capacity      # full allocation
        with pytest.raises(DeviceError) as exc:
            driver.space_used([case.missing])
        assert exc.value.msg_id

    # ---------------------------------------------------------------- consistency groups

    def test_a_missing_group(self, driver, case):
        assert driver.group_state("NOSUCHGROUP") is None
        for call in (lambda: driver.progress("NOSUCHGROUP"), lambda: driver.start("NOSUCHGROUP"),
                     lambda: driver.prepare("NOSUCHGROUP", timeout=case.wait)):
            with pytest.raises(DeviceError) as exc:
                call()
            assert exc.value.msg_id and exc.value.device == driver.name and exc.value.command

    def test_ensure_group_creates_then_changes_nothing(self, driver, case):
        state = self.check_group(driver.ensure_group(GROUP, case.pairs, 0), case, GROUP, 0)
        assert state.status == "idle_or_copied" and state.start_time is None
        count = len(case.commands())
        assert driver.ensure_group(GROUP, case.pairs, 0) == state
        assert self.changes_since(case, count) == []
        assert driver.group_state(GROUP) == state == driver.progress(GROUP)

    def test_ensure_group_fixes_the_copy_rate(self, driver, case):
        driver.ensure_group(GROUP, case.pairs, 0)
        state = driver.ensure_group(GROUP, case.pairs, case.full_copy_rate)
        self.check_group(state, case, GROUP, case.full_copy_rate)

    def test_ensure_group_refuses_a_mapping_with_another_source(self, driver, case):
        driver.ensure_group(GROUP, case.pairs, 0)
        first, second = case.pairs
        swapped = [VolumePair(second.source, first.target), VolumePair(first.source, second.target)]
        count = len(case.commands())
        with pytest.raises(SafetyRefusal):
            driver.ensure_group(GROUP, swapped, 0)
        with pytest.raises(SafetyRefusal):
            driver.ensure_group(GROUP, case.pairs[:1], 0)      # the group holds a target not asked for
        assert self.changes_since(case, count) == []
        self.check_group(driver.progress(GROUP), case, GROUP, 0)

    def test_ensure_group_replaces_old_mappings_of_its_targets(self, driver, case):
        self.flash(driver, case, OLD_GROUP)
        assert driver.progress(OLD_GROUP).status == "copying"
        state = self.check_group(driver.ensure_group(GROUP, case.pairs, 0), case, GROUP, 0)
        assert state.status == "idle_or_copied"
        old = driver.group_state(OLD_GROUP)
        assert old is None or old.mappings == ()

    def test_ensure_group_stops_a_running_copy_and_keeps_a_prepared_group(self, driver, case):
        self.flash(driver, case)
        state = self.check_group(driver.ensure_group(GROUP, case.pairs, 0), case, GROUP, 0)
        assert state.status in STOPPED_STATES
        assert driver.prepare(GROUP, timeout=case.wait).status == "prepared"
        count = len(case.commands())
        assert driver.ensure_group(GROUP, case.pairs, 0).status == "prepared"
        assert self.changes_since(case, count) == []

    def test_prepare_start_progress_stop(self, driver, case):
        driver.ensure_group(GROUP, case.pairs, 0)
        prepared = self.check_group(driver.prepare(GROUP, timeout=case.wait), case, GROUP, 0)
        assert prepared.status == "prepared"
        assert driver.prepare(GROUP, timeout=case.wait).status == "prepared"
        count = len(case.commands())
        assert driver.start(GROUP) is None
        assert len(case.commands()) == count + case.start_requests   # the suspended window: the flash only
        assert isinstance(driver.activate_targets(GROUP), str)
        state = self.check_group(driver.progress(GROUP), case, GROUP, 0)
        assert state.status == "copying" and isinstance(state.start_time, str)
        assert all(m.status == "copying" and m.start_time for m in state.mappings)
        before = driver.space_used(case.targets)
        case.write(case.pairs[0].source, 64 * MiB)                # production writes: copy-on-write
        assert driver.space_used(case.targets) > before
        if case.restart_refused:
            with pytest.raises(DeviceError) as exc:
                driver.start(GROUP)                               # already copying
            assert exc.value.msg_id
        with pytest.raises(DeviceError):
            driver.prepare(GROUP, timeout=case.wait)              # copying is not a state to prepare from
        stopped = driver.stop(GROUP, timeout=case.wait)
        assert isinstance(stopped, GroupState) and stopped.status in STOPPED_STATES
        count = len(case.commands())
        assert driver.stop(GROUP, timeout=case.wait).status == stopped.status
        assert self.changes_since(case, count) == []
        assert driver.prepare(GROUP, timeout=case.wait).status == "prepared"
        assert driver.stop(GROUP, force=True, timeout=case.wait).status in STOPPED_STATES

    def test_a_full_copy_reaches_100(self, driver, case):
        self.flash(driver, case, copy_rate=case.full_copy_rate)
        deadline = time.monotonic() + case.wait
        state = driver.progress(GROUP)
        seen = {m.progress for m in state.mappings}
        while state.status != "idle_or_copied" and time.monotonic() < deadline:
            time.sleep(0.02)
            state = driver.progress(GROUP)
            seen |= {m.progress for m in state.mappings}
        assert state.status == "idle_or_copied" and all(m.progress == 100 for m in state.mappings)
        assert len(seen) > 1                                       # it went through intermediate values
        assert driver.space_used(case.targets) == case.capacity * len(case.targets)

    def test_describe_commands_touches_nothing(self, driver, case):
        count = len(case.commands())
        lines = driver.describe_commands(GROUP, case.pairs, 0)
        assert len(case.commands()) == count
        assert isinstance(lines, list) and lines and all(isinstance(line, str) for line in lines)
        for pair in case.pairs:
            assert any(pair.source in line and pair.target in line for line in lines)
        assert driver.group_state(GROUP) is None
        with pytest.raises(ValidationError):
            driver.describe_commands("BAD GROUP", case.pairs, 0)
