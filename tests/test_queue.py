"""Queueing runs: resource locks on the clone LPAR and the targets, across processes and on PostgreSQL."""
from __future__ import annotations

import multiprocessing

import pytest

from flash4i_tui.config.store_io import import_config, load_config_file
from flash4i_tui.engine.queue import request_cancel, submit_run
from flash4i_tui.errors import SafetyRefusal
from flash4i_tui.store import models as m

from .conftest import SAMPLE


def test_second_run_on_same_clone_is_refused(store):
    import_config(load_config_file(SAMPLE))
    first = submit_run("NIGHTLY", "op1")
    assert first.state == "QUEUED" and first.snapshot["consistency_group"] == "FL_NIGHTLY"
    with pytest.raises(SafetyRefusal, match=r"clone partition HMC1/P10-PROD/5 is in use by run \d+ \(NIGHTLY"):
        submit_run("SUNDAY21", "op2")          # same clone LPAR and the same targets
    assert m.Run.select().count() == 1         # the refused run left nothing behind
    other = submit_run("TESTCOPY", "op2")      # another clone: fine at the same time
    assert other.id != first.id
    request_cancel(first.id)
    assert m.Run.get_by_id(first.id).state == "CANCELLED"
    assert submit_run("SUNDAY21", "op2").state == "QUEUED"


def _submit(url: str, env: str, out) -> None:
    from flash4i_tui.store import open_store
    open_store(url)
    try:
        out.put(("ok", submit_run(env, "race").id))
    except SafetyRefusal as exc:
        out.put(("refused", str(exc)))


def test_lock_holds_across_processes(store_url, store):
    import_config(load_config_file(SAMPLE))
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_submit, args=(store_url, env, out)) for env in ("NIGHTLY", "SUNDAY21") * 3]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    results = [out.get(timeout=5) for _ in procs]
    assert sum(1 for kind, _ in results if kind == "ok") == 1, results
    assert m.ResourceLock.select().count() == 5   # one clone LPAR + four targets, one holder
