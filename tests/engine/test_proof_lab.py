"""The clone's proof by journal markers (issue 13), end to end on the lab: production's journal
advances while its applications run and stands still while the ASP is suspended; the engine
reads it just before the suspend and just after the resume, the agent reads it on the clone."""
from __future__ import annotations

import pytest

from flash4i_tui.engine import proof
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.store import models as m

from .conftest import run_now
from .test_functions_lab import disk_of, prod, prod_suspended_ever, production_untouched, running_clone  # noqa: F401

pytestmark = pytest.mark.lab
JOURNAL = "APPDTA/APPJRN"


def with_proof(env: str, journals=(JOURNAL,), libraries=("APPDTA",)) -> None:
    row = m.Environment.get(m.Environment.name == env)
    options = dict(row.options or {}, proof={"journals": list(journals), "libraries": list(libraries)})
    m.Environment.update(options=options).where(m.Environment.id == row.id).execute()


def test_a_quiesced_run_is_proven_by_journal_markers_inside_the_window(lab, prod):
    with_proof("TESTCOPY")
    start = prod.journals[JOURNAL].sequence
    run = run_now("TESTCOPY")
    assert run.state == "SUCCEEDED", run.message
    assert prod_suspended_ever(lab)
    before, after = run.proof["before"]["journals"][JOURNAL], run.proof["after"]["journals"][JOURNAL]
    seen = run.proof["clone"]["journals"][JOURNAL]
    assert start <= before <= seen <= after, run.proof
    assert prod.journals[JOURNAL].sequence > start          # the lab's production kept journaling
    # the clone runs no application (no QBATCH): its journal still shows the copy instant
    assert running_clone(lab, "CLONE2").state.journals[JOURNAL].sequence == seen
    assert run.proof["clone"]["objects"] == {"APPDTA": len(prod.libraries["APPDTA"].objects)}
    assert run.proven is True and "reasons" not in run.proof, run.proof
    production_untouched(lab, prod)


def test_a_run_whose_suspend_was_skipped_is_unproven_and_the_check_warns(lab, prod):
    from flash4i_tui.monitor.check import Limits, check_environment, nagios_line
    with_proof("TESTCOPY")
    lab.world.faults.replace(FaultRules.parse([{"device": "ibmi", "match": r"OPTION\(\*SUSPEND\)",
                                                "action": "ignore"}]))
    run = run_now("TESTCOPY")
    assert not prod_suspended_ever(lab)                     # the lab never held production
    assert run.state == "SUCCEEDED", run.message
    assert run.proven is False, run.proof
    assert run.proof["clone"]["previous_end"] == "abnormal"
    assert proof.ABNORMAL_IPL in run.proof["reasons"], run.proof
    line = nagios_line(check_environment("TESTCOPY", Limits(), devices=False))
    assert line.startswith("FLASH4I WARNING") and "NOT proven" in line and "QABNORMSW 1" in line, line
    production_untouched(lab, prod)


def test_a_journal_the_clone_does_not_have_leaves_it_unproven_by_name(lab, prod):
    with_proof("TESTCOPY", journals=(JOURNAL, "APPDTA/NOSUCH"))
    run = run_now("TESTCOPY")
    assert run.state == "SUCCEEDED", run.message
    assert run.proven is False
    assert run.proof["reasons"] == ["journal APPDTA/NOSUCH: production's marker before the suspend was not read"]


def test_history_shows_why_a_clone_is_not_proven(lab, prod, capsys, monkeypatch, tmp_path):
    import json
    from flash4i_tui.cli import main
    with_proof("TESTCOPY", journals=("APPDTA/NOSUCH",))
    run = run_now("TESTCOPY")
    assert run.proven is False
    monkeypatch.setenv("FLASH4I_DB", f"sqlite:///{tmp_path / 'store.db'}")
    assert main(["history", "--env", "TESTCOPY"]) == 0
    assert f"run {run.id}: clone NOT proven: journal APPDTA/NOSUCH" in capsys.readouterr().out
    assert main(["history", "--env", "TESTCOPY", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)[0]
    assert shown["proven"] is False and shown["proof"]["reasons"][0].startswith("journal APPDTA/NOSUCH")


@pytest.mark.parametrize("after,when", [(0, "before the suspend"), (1, "after the resume")])
def test_a_marker_that_cannot_be_read_leaves_the_clone_unproven_never_the_run_failed(lab, prod, after, when):
    with_proof("TESTCOPY")
    lab.world.faults.replace(FaultRules.parse([{"device": "ibmi", "match": "JOURNAL_RECEIVER_INFO", "action": "fail",
                                                "message": "SQL0901: SQL system error.", "after": after,
                                                "times": 1}]))
    run = run_now("TESTCOPY")
    assert run.state == "SUCCEEDED", run.message
    assert prod_suspended_ever(lab) and not lab.world.open_pauses()       # held, then resumed
    assert run.proven is False, run.proof
    assert run.proof["reasons"] == [f"journal {JOURNAL}: production's marker {when} was not read"], run.proof
    production_untouched(lab, prod)
