"""The run's phase table: the only paths a run can take through the suspend window."""
from __future__ import annotations

import pytest

from flash4i_tui.engine import phases, plan
from flash4i_tui.engine.phases import SUSPEND_WINDOW, TRANSITIONS, PhaseError, allows, next_phase


def test_the_table_names_only_declared_phases():
    phases.check_table()


def test_a_happy_run_goes_through_the_window_once():
    phase = "NEW"
    for event in ("prepared", "suspending", "suspended", "flashed", "resumed", "clone_started", "done"):
        phase = next_phase(phase, event)
    assert phase == "DONE"


def test_no_way_back_into_the_window_after_the_resume():
    after = {"RESUMED", "RESUMED_NO_FLASH", "CLONE_STARTED", "DONE"}
    for (phase, _event), target in TRANSITIONS.items():
        if phase in after:
            assert target not in SUSPEND_WINDOW and target not in ("PREPARED", "NEW"), (phase, target)
    for phase in after:
        assert not allows(phase, "QUIESCE") and not allows(phase, "FLASH")
    with pytest.raises(PhaseError):
        next_phase("RESUMED", "flashed")


def test_every_phase_of_the_window_allows_the_cleanup_and_leads_out_by_a_resume():
    cleanup = next(s for s in plan.STEPS if s.cleanup)
    for phase in SUSPEND_WINDOW:
        assert allows(phase, cleanup.name)
        assert next_phase(phase, "resumed") not in SUSPEND_WINDOW


def test_the_flags_carry_the_rules_not_the_names():
    flagged = {s.name: (s.cleanup, s.inside_suspend, s.never_twice) for s in plan.STEPS}
    assert [n for n, f in flagged.items() if f[0]] == ["RESUME"]
    assert [n for n, f in flagged.items() if f[2]] == ["FLASH"]
    once = next(s for s in plan.STEPS if s.never_twice)
    assert once.inside_suspend and once.confirm is not None   # a lost answer can be asked again
    # Nothing that needs the copy is allowed before the flash was made or confirmed.
    for step in ("MAP_VIOS", "START_CLONE", "FUNCTION"):
        assert not any(allows(p, step) for p in ("NEW", "PREPARED", *SUSPEND_WINDOW, "RESUMED_NO_FLASH"))


def test_a_target_identifier_too_short_to_find_its_hdisk_is_refused():
    """A short or empty volume identifier would match other hdisks on the VIOS (removed by
    UNMAP_VIOS, booted from after MAP_VIOS): refused at CHECK, before any change."""
    from types import SimpleNamespace

    from flash4i_tui.engine.steps import _target_uids
    from flash4i_tui.errors import SafetyRefusal
    ctx = SimpleNamespace(defs=SimpleNamespace(targets=["T1", "T2"], env={"attach": {"vios": "VIOS1"}}))
    good = "6005076810810258e0000000000000a1"
    assert _target_uids(ctx, {"T1": SimpleNamespace(uid=good.upper()), "T2": SimpleNamespace(uid=good[:-1] + "2")}) \
        == {good: "T1", good[:-1] + "2": "T2"}
    for bad in ("", "6005"):
        with pytest.raises(SafetyRefusal, match="too short"):
            _target_uids(ctx, {"T1": SimpleNamespace(uid=good), "T2": SimpleNamespace(uid=bad)})
