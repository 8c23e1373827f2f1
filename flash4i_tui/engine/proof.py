"""The clone's proof (issue 13): markers read on production just before the suspend and just
after the resume, the same markers read on the clone at its IPL, and the judgment.

A marker is the last sequence number of a configured journal (`proof.journals`): it advances
while production's applications run and stands still while the ASP is suspended, so a copy
taken inside the window holds a value between production's before and after (inclusive). A
copy from another time (an older copy, a copy taken after the resume) falls outside.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

ABNORMAL_IPL = ("the clone's IPL followed an abnormal end (QABNORMSW 1): the copy was not quiesced "
                "(if a quiesced copy IPLs abnormally here, set quiesce.abnormal_ipl_expected)")


def journals_of(env: dict) -> List[str]:
    return list((env.get("proof") or {}).get("journals") or [])


def read(ibmi, journals: List[str]) -> dict:
    """{"journals": {LIB/JRN: sequence or None}}: one SQL statement on the system."""
    return {"journals": ibmi.journal_sequences(journals)} if journals else {}


def journal_reasons(journals: List[str], before: Optional[dict], after: Optional[dict],
                    clone: Optional[dict]) -> List[str]:
    """Why the clone's journal markers do not prove it (empty: they do)."""
    reasons = []
    for name in journals:
        low = ((before or {}).get("journals") or {}).get(name)
        high = ((after or {}).get("journals") or {}).get(name)
        seen = ((clone or {}).get("journals") or {}).get(name)
        if low is None or high is None:
            which = "before the suspend" if low is None else "after the resume"
            reasons.append(f"journal {name}: production's marker {which} was not read")
        elif seen is None:
            reasons.append(f"journal {name}: no marker on the clone (journal not found there)")
        elif not low <= seen <= high:
            reasons.append(f"journal {name}: the clone's last sequence number {seen} is not between production's "
                           f"{low} before the suspend and {high} after the resume")
    return reasons


def judge(run_proof: dict, clone: dict, journals: List[str], abnormal_expected: bool,
          needs_marker: bool = True) -> Tuple[bool, List[str]]:
    """(proven, reasons). RUN_PROOF is the run's record (resumed_marker, before, after); CLONE the
    clone's own account (copy, previous_end, journals)."""
    reasons = []
    if needs_marker:
        if run_proof.get("resumed_marker") is not True:
            reasons.append("the resumed marker was not written")
        if clone.get("copy") != "in_window":
            reasons.append("the copy holds the resumed marker: taken after the window")
    if clone.get("previous_end") != "normal" and not abnormal_expected:
        reasons.append(ABNORMAL_IPL)
    reasons += journal_reasons(journals, run_proof.get("before"), run_proof.get("after"), clone)
    return not reasons, reasons

