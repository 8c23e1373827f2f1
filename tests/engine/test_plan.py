"""`flash4i plan`: the exact commands, touching no device; injection strings never reach a command."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from flash4i_tui.config.store_io import import_config, load_config_file
from flash4i_tui.engine.describe import describe_plan
from flash4i_tui.errors import ValidationError
from flash4i_tui.store import models as m

from ..conftest import REPO, SAMPLE


@pytest.fixture
def sample_store(sqlite_store):
    import_config(load_config_file(SAMPLE))     # devices at 10.10.x.x: none of them exists here
    return sqlite_store


def test_plan_lists_the_exact_commands(sample_store):
    plan = describe_plan("NIGHTLY")
    steps = {s["name"]: s for s in plan["steps"]}
    assert [c["command"] for c in steps["QUIESCE"]["commands"]] == [
        "/QOpenSys/usr/bin/system 'CHGASPACT ASPDEV(*SYSBAS) OPTION(*FRCWRT)'",
        "/QOpenSys/usr/bin/system 'CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(60) SSPTIMOACN(*END)'"]
    assert steps["FLASH"]["commands"] == [{"device": "FS9500", "command": "svctask startfcconsistgrp FL_NIGHTLY"}]
    assert steps["UNMAP_VIOS"]["skipped"] == "NPIV attachment"
    assert any("INZBRM OPTION(*FLASHCOPY) STATE(*ENDPRC)" in c["command"] for c in steps["FUNCTION"]["commands"])
    none = {s["name"]: s for s in describe_plan("RCVPNT")["steps"]}
    assert none["START_CLONE"]["skipped"] and none["START_CLONE"]["commands"] == []


def test_plan_cli_touches_no_device(sample_store, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    out = subprocess.run([sys.executable, "-m", "flash4i_tui", "--db", url, "plan", "TESTCOPY", "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    map_vios = next(s for s in plan["steps"] if s["name"] == "MAP_VIOS")
    assert any("-vadapter vhost1" in c["command"] for c in map_vios["commands"])


@pytest.mark.parametrize("evil", ["; rm -rf /", "') DLTLIB LIB(QGPL)", "FL\nDLTLIB QGPL"])
def test_injection_strings_in_the_store_never_reach_a_command(sample_store, evil):
    env = m.Environment.get(m.Environment.name == "NIGHTLY")
    m.Environment.update(consistency_group=evil).where(m.Environment.id == env.id).execute()
    with pytest.raises(ValidationError):
        describe_plan("NIGHTLY")
    m.Environment.update(consistency_group="FL_NIGHTLY", quiesce_action=evil).where(m.Environment.id == env.id).execute()
    with pytest.raises(ValidationError):
        describe_plan("NIGHTLY")
