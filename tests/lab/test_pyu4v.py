"""Dell's PyU4V, unmodified, against the lab's Unisphere: the SDK is the judge of the lab.

- The current release (the test extras pin 10.4.x) against a lab set to Unisphere 10.4.
- PyU4V 10.0.x against a lab set to Unisphere 10.0. It cannot share an environment with 10.4,
  so it runs from its own folder on PYTHONPATH: FLASH4I_PYU4V_10_0 names one (.ci/run makes it
  with `pip install --no-deps --target`); without it the test makes one in pytest's cache and
  skips only when pip cannot fetch the release here.
- Each release runs tests/lab/pyu4v_flow.py in a fresh interpreter; the test judges what PyU4V
  returned and what the lab recorded.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from flash4i_tui.lab.powermax import PowerMaxFront, build_powermax
from flash4i_tui.lab.powermax.levels import unisphere_level

from ..devices.rest_support import RestLab
from ..devices.test_powermax_driver import ARRAY, SID

FLOW = Path(__file__).with_name("pyu4v_flow.py")
LEGACY = "10.0.0.19"
LEGACY_ENV = "FLASH4I_PYU4V_10_0"
SOURCE_SG, TARGET_SG, DEVICES, TARGETS = "PYU4V_SRC", "CLONE_IG_SG", ["00201", "00202"], ["00301", "00302"]


@pytest.fixture
def unisphere(tmp_path, request):
    labs = []

    def start(level: str) -> RestLab:
        labs.append(RestLab(tmp_path / level, build_powermax, PowerMaxFront, dict(ARRAY, unisphere=level)))
        return labs[-1]
    yield start
    for lab in labs:
        lab.close()


def run_flow(lab: RestLab, pythonpath: Optional[str] = None, script: Optional[str] = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYU4V_PASSWORD=lab.password)
    # requests lets these variables override a session's own CA file (its verify=): drop them.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        env.pop(name, None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    command = [sys.executable, str(FLOW)] if script is None else [sys.executable, "-c", script]
    return subprocess.run(command + ["127.0.0.1", str(lab.port), SID, str(lab.tls.ca_cert), SOURCE_SG, TARGET_SG,
                                     ",".join(DEVICES)], env=env, capture_output=True, text=True, timeout=120)


def transcript(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def judge(out: dict, lab: RestLab, level: str) -> None:
    """What PyU4V saw, and what the lab did, for one SnapVX cycle."""
    expected = unisphere_level("test", level)
    assert out["version"] == [expected.version, expected.api_version]
    assert out["arrays"] == [SID] and out["array"]["symmetrixId"] == SID and out["snapvx_licensed"] is True
    assert out["sgs_before"] == ["CLONE_IG_SG"]
    assert out["sg"]["storageGroupId"] == SOURCE_SG and out["sg"]["num_of_vols"] == len(DEVICES)
    assert out["sg_volumes"] == DEVICES
    assert out["volume"]["volumeId"] == DEVICES[0] and out["volume"]["storageGroupId"] == [SOURCE_SG]
    old, new = sorted(out["snapids"])
    assert out["snaps_before"] == [] and out["snaps"] == ["PYSNAP"] and old != new
    assert out["generations"] == [0, 1]
    assert out["gen0"]["snapid"] == new and out["gen0"]["generation"] == 0 and out["gen0"]["isLinked"] is False
    # The link ran as a job that PyU4V polled to SUCCEEDED (return code 0).
    assert out["link_job"]["status"] == "RUNNING" and out["link_job"]["jobId"]
    assert out["link_done"][0] == 0 and out["link_done"][2] == "SUCCEEDED"
    linked = out["linked_old"]
    assert linked["linked"] is True and linked["snapid"] == old
    assert sorted(i["linked_volume_name"] for i in linked["linked_storage_group"]) == TARGETS
    # A linked snapshot cannot be terminated: PyU4V raised on the lab's 400.
    assert "status code received is 400" in out["terminate_linked"] and "linked" in out["terminate_linked"]
    assert out["relinked_new"]["linked"] is True and out["relinked_old"]["linked"] is False
    assert out["target_volume"]["snapvx_target"] == "true"
    assert out["unlink_done"][0] == 0
    assert out["snaps_after"] == [] and "status code received is 404" in out["missing"]
    # The lab's side: the same cycle, in order, and nothing left behind.
    events = [e.text for e in lab.world.events
              if e.kind == "device" and ("SnapVX PYSNAP" in e.text or "snapshot PYSNAP" in e.text)]
    verbs = [next(w for w in ("established", "relinked", "unlinked", "linked", "terminated") if w in t)
             for t in events]
    assert verbs == ["established", "established", "linked", "relinked", "unlinked", "terminated", "terminated"]
    assert not lab.array.snapshots.get(SOURCE_SG)
    assert all(lab.array.volumes[t].content is None for t in TARGETS)   # a nocopy link unlinked early


def installed_pyu4v() -> str:
    from importlib import metadata
    try:
        return metadata.version("PyU4V")
    except metadata.PackageNotFoundError:
        pytest.skip("PyU4V is not installed (pip install '.[test]')")


@pytest.fixture(scope="session")
def legacy_pyu4v(pytestconfig) -> str:
    """A folder holding PyU4V 10.0.x alone (its dependencies are the current release's)."""
    folder = os.environ.get(LEGACY_ENV)
    if folder:
        assert (Path(folder) / "PyU4V").is_dir(), f"{LEGACY_ENV}={folder} holds no PyU4V"
        return folder
    cache = pytestconfig.cache.mkdir(f"pyu4v-{LEGACY}")
    if not (cache / "PyU4V").is_dir():
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(cache),
                               f"PyU4V=={LEGACY}"], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.skip(f"PyU4V {LEGACY} cannot be installed here: {done.stderr.strip()[-300:]}")
    return str(cache)


@pytest.mark.lab
def test_the_current_pyu4v_runs_a_snapvx_cycle_on_unisphere_10_4(unisphere):
    version = installed_pyu4v()
    assert version.startswith("10.4."), f"the test extras pin PyU4V 10.4.x, found {version}"
    lab = unisphere("10.4")
    out = transcript(run_flow(lab))
    assert out["pyu4v"] == version
    judge(out, lab, "10.4")


@pytest.mark.lab
def test_pyu4v_10_0_runs_a_snapvx_cycle_on_unisphere_10_0(unisphere, legacy_pyu4v):
    lab = unisphere("10.0")
    out = transcript(run_flow(lab, legacy_pyu4v))
    assert out["pyu4v"] == LEGACY
    judge(out, lab, "10.0")


@pytest.mark.lab
def test_the_current_pyu4v_refuses_an_older_unisphere_as_it_would_a_real_one(unisphere):
    installed_pyu4v()
    lab = unisphere("10.0")
    done = run_flow(lab)
    assert done.returncode != 0
    assert "Unisphere version V10.0.0.1 does not meet the minimum requirement of v10.4" in done.stderr
    assert not lab.array.snapshots          # refused before any change
