"""The judgment of a clone's proof (engine/proof.py), without devices."""
from __future__ import annotations

from flash4i_tui.engine import proof

J = "APPDTA/APPJRN"
RUN = {"resumed_marker": True, "before": {"journals": {J: 100}}, "after": {"journals": {J: 140}}}


def clone(seq, previous_end="normal", copy="in_window"):
    return {"copy": copy, "previous_end": previous_end, "journals": {J: seq}}


def test_a_marker_between_before_and_after_inclusive_proves_the_clone():
    for seq in (100, 120, 140):
        assert proof.judge(RUN, clone(seq), [J], False) == (True, [])


def test_a_marker_outside_the_window_names_the_journal_and_the_values():
    for seq in (99, 141):
        proven, why = proof.judge(RUN, clone(seq), [J], False)
        assert not proven
        assert why == [f"journal {J}: the clone's last sequence number {seq} is not between production's 100 "
                       "before the suspend and 140 after the resume"]


def test_a_missing_marker_leaves_the_clone_unproven():
    assert proof.judge(dict(RUN, after={"error": "SSH closed"}), clone(120), [J], False)[1] == [
        f"journal {J}: production's marker after the resume was not read"]
    assert proof.judge(RUN, {"copy": "in_window", "previous_end": "normal"}, [J], False)[1] == [
        f"journal {J}: no marker on the clone (journal not found there)"]


def test_the_abnormal_ipl_and_the_resumed_marker_still_count():
    assert proof.judge(RUN, clone(120, previous_end="abnormal"), [J], False)[1] == [proof.ABNORMAL_IPL]
    assert proof.judge(RUN, clone(120, previous_end="abnormal"), [J], True) == (True, [])
    assert not proof.judge(dict(RUN, resumed_marker=False), clone(120), [J], False)[0]
    assert not proof.judge(RUN, clone(120, copy="after_resume"), [J], False)[0]
    # no journal configured: the proof is what it was (marker, order, IPL)
    assert proof.judge({"resumed_marker": True}, {"copy": "in_window", "previous_end": "normal"}, [], False) == (
        True, [])
