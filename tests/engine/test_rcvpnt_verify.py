"""`flash4i rcvpnt verify ENV G` (issue 13): the proof of a *NONE recovery point, taken the first
time it is booted. Judged by the lab's state: the copy booted, the clone's state, conflicts."""
from __future__ import annotations

import pytest

from flash4i_tui.cli import main
from flash4i_tui.engine import rcvpnt
from flash4i_tui.engine.generations import points
from flash4i_tui.errors import SafetyRefusal
from flash4i_tui.store import models as m

from .conftest import GEN_VOLUMES, lpar, run_now

JOURNAL = "APPDTA/APPJRN"


def test_verify_proves_an_svc_generation_and_leaves_the_clone_stopped(gen_lab, capsys, monkeypatch):
    lab = gen_lab
    monkeypatch.setenv("FLASH4I_DB", f"sqlite:///{lab.state_dir.parent / 'store.db'}")
    env = m.Environment.get(m.Environment.name == "RCVPNT")
    m.Environment.update(options=dict(env.options or {}, proof={"journals": [JOURNAL], "libraries": []})).where(
        m.Environment.id == env.id).execute()
    runs = [run_now("RCVPNT") for _ in range(2)]
    assert [r.state for r in runs] == ["SUCCEEDED"] * 2, [r.message for r in runs]
    run = runs[1]                                        # generation 2
    assert run.proven is None and {"before", "after"} <= set(run.proof), run.proof

    # not booted yet: recording readings refuses nothing but needs the clone's readings first
    assert main(["rcvpnt", "verify", "RCVPNT", "2", "--timeout", "120"]) == 0
    shown = capsys.readouterr().out
    assert "JOURNAL_RECEIVER_INFO" in shown and "DSPSYSVAL SYSVAL(QABNORMSW)" in shown
    clone = lpar(lab, "CLONE3")
    assert (clone.state, clone.keylock) == ("Running", "manual")
    assert ("P10-PROD", 7) not in lab.world.running and not lab.world.conflicts     # no OS, no network
    with pytest.raises(SafetyRefusal, match="in use"):
        rcvpnt.boot("RCVPNT", generation=1, bound=30, poll=0.05)

    # what the operator reads at the console of generation 2's copy (the lab's disks hold it)
    copy = lab.world.arrays["FS9500"].volume("RCV_001").content
    assert copy.state is not None and copy.consistency == "quiesced"
    seen = copy.state.journals[JOURNAL].sequence
    gen2 = lab.world.arrays["FS9500"].volume(GEN_VOLUMES[0][1]).content.state.journals[JOURNAL].sequence
    assert seen == gen2
    assert main(["rcvpnt", "verify", "RCVPNT", "2", "--journal", f"{JOURNAL}={seen}", "--previous-end", "normal",
                 "--timeout", "120"]) == 0
    assert "generation 2: proven" in capsys.readouterr().out
    assert lpar(lab, "CLONE3").state == "Not Activated" and not lab.world.conflicts
    assert points(env)[2].proven is True
    assert m.Run.get_by_id(run.id).proof["verify"]["proven"] is True

    # a reading outside production's window (generation 1's copy is older) is refused as proof
    older = runs[0].proof["before"]["journals"][JOURNAL]
    assert main(["rcvpnt", "verify", "RCVPNT", "2", "--journal", f"{JOURNAL}={older}", "--previous-end", "normal",
                 "--timeout", "120"]) == 1
    assert "NOT proven: journal APPDTA/APPJRN" in capsys.readouterr().out
    assert points(env)[2].proven is False
