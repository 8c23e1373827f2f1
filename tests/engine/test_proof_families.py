"""On a DS8000 and a PowerMax (issue 13): a *NONE run whose suspend a fault skipped is recorded
unproven once its copy is verified. Judged by the lab's state: production was never held, the
copy on the array is not quiesced, the clone stays isolated and ends stopped."""
from __future__ import annotations

import pytest

from flash4i_tui.cli import main
from flash4i_tui.lab.faults import FaultRules
from flash4i_tui.store import models as m

from .conftest import run_now
from .test_generations_families import gen_family  # noqa: F401
from .test_run_families import array

pytestmark = pytest.mark.lab
JOURNAL = "APPDTA/APPJRN"
TARGET = {"ds8000": "2000", "powermax": "00301"}


def test_a_skipped_suspend_leaves_the_copy_unproven_on_each_family(gen_family, capsys):
    name, lab, env_name = gen_family
    env = m.Environment.get(m.Environment.name == env_name)
    m.Environment.update(options=dict(env.options or {}, proof={"journals": [JOURNAL], "libraries": []})).where(
        m.Environment.id == env.id).execute()
    lab.world.faults.replace(FaultRules.parse([{"device": "ibmi", "match": r"OPTION\(\*SUSPEND\)",
                                                "action": "ignore"}]))
    run = run_now(env_name)
    lab.world.faults.replace(FaultRules.parse([]))
    assert run.state == "SUCCEEDED", run.message
    assert not [p for p in lab.world.pauses if "PROD" in str(p.who)]     # the lab never held production
    assert {"before", "after"} <= set(run.proof), run.proof

    # boot the copy isolated; the operator reads the markers at the console (the lab's disks hold them)
    assert main(["rcvpnt", "verify", env_name, "1", "--timeout", "120"]) == 0
    capsys.readouterr()
    clone = next(lp for lp in lab.world.systems["P10-LAB"].lpars.values() if lp.id == 7)
    assert (clone.state, clone.keylock) == ("Running", "manual")
    assert ("P10-LAB", 7) not in lab.world.running                     # stopped at the console: no OS
    copy = array(lab).volumes[TARGET[name]].content
    assert copy.state is not None and copy.consistency != "quiesced"
    seen = copy.state.journals[JOURNAL].sequence
    assert main(["rcvpnt", "verify", env_name, "1", "--journal", f"{JOURNAL}={seen}", "--previous-end", "abnormal",
                 "--timeout", "120"]) == 1
    assert "NOT proven" in capsys.readouterr().out
    assert m.Run.get_by_id(run.id).proof["verify"]["proven"] is False
    assert clone.state == "Not Activated" and lab.world.conflicts == []
