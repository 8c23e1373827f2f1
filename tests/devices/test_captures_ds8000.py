"""The DS8000 driver on captured REST answers (tests/data/captures/ds8000/), and the lab's DS8000
front answering the same requests with the same keys and value types."""
from __future__ import annotations

import json

import pytest

from flash4i_tui.devices.storage.base import GroupSpec, HostMapping, VolumePair
from flash4i_tui.devices.storage.ds8000 import Ds8000Driver
from flash4i_tui.devices.storage.rest import Request
from flash4i_tui.errors import DeviceError

from .captures_support import body, check_rest_index, rest_answer, shape_gaps
from .rest_support import FakeRest, answers
from .test_ds8000_driver import lab  # noqa: F401  (fixture: the lab array, with release)
from .test_ds8000_driver import release  # noqa: F401

F = "ds8000"
GiB = 1024 ** 3


def test_the_index_states_request_status_source_and_level_of_every_capture():
    check_rest_index(F)


def capture_driver(table: dict, groups=None) -> Ds8000Driver:
    table = dict({"POST /api/v1/tokens": rest_answer(F, "token.json")}, **table)
    return Ds8000Driver(FakeRest(answers(table)), "DS8K", groups)         # type: ignore[arg-type]


# -------------------------------------------------------------------- the driver on the corpus

def test_the_captured_volume_reads_its_capacity_state_and_provisioning():
    # No real_cap and no wwn in the captured answer: the capacity counts as used (tp none).
    table = {"GET /api/v1/volumes/0000": rest_answer(F, "volume-fb.json")}
    driver = capture_driver(table)
    with pytest.raises(DeviceError, match="missing field wwn"):
        driver.volumes(["0000"])
    with_wwn = body(F, "volume-fb.json")
    with_wwn["data"]["volumes"][0]["wwn"] = "6005076306FFD2F00000000000000000"

    driver = capture_driver({"GET /api/v1/volumes/0000": (200, json.dumps(with_wwn))})
    info = driver.volumes(["0000"])["0000"]
    assert (info.capacity_bytes, info.used_bytes, info.thin, info.status) == (GiB, GiB, False, "online")
    assert driver.space_used(["0000"]) == GiB


@pytest.mark.parametrize("name", ["host-mappings.json", "host-mappings-cinder.json"])
def test_host_mappings_read_the_captured_lunids(name):
    table = {"GET /api/v1/hosts/host1/mappings": rest_answer(F, name),
             "GET /api/v1/hosts": rest_answer(F, "hosts.json")}
    vols = ["0000", "0001", "0002"]
    result = capture_driver(table).host_mappings(vols)
    listed = body(F, name)["data"]["mappings"]
    expected = {v: [HostMapping(v, "host1", int(m["lunid"], 16)) for m in listed if m["volume"]["id"] == v]
                for v in vols}
    assert result == expected and sum(map(len, result.values())) == 2


@pytest.mark.parametrize("name, lun", [("map-volume-cinder.json", 0), ("map-volumes-pyds8k.json", 0)])
def test_a_new_mapping_reads_its_lun_from_the_captured_link(name, lun):
    driver = capture_driver({"POST /api/v1/hosts/host1/mappings": rest_answer(F, name)})
    assert driver.map_volume("0001", "host1") == HostMapping("0001", "host1", lun)


def test_the_captured_flashcopy_listing_gives_state_and_progress_without_backgroundcopy():
    # The capture has neither backgroundcopy nor date_created: the driver takes the background copy
    # flash4i asked for (the group's copy rate) and no start time.
    vol = body(F, "volume-fb.json")
    vol["data"]["volumes"][0]["wwn"] = "6005076306FFD2F00000000000000000"

    table = {"GET /api/v1/cs/flashcopies": rest_answer(F, "cs-flashcopies.json"),
             "GET /api/v1/volumes/": (200, json.dumps(vol).replace('"0000"', '"1000"'))}
    for rate, status in ((50, "idle_or_copied"), (0, "copying")):
        driver = capture_driver(table, {"FCG": GroupSpec((VolumePair("1000", "1001"),), rate)})
        state = driver.group_state("FCG")
        assert state is not None and state.status == status and state.start_time is None
        (m,) = state.mappings
        assert (m.source, m.target, m.progress, m.copy_rate) == ("1000", "1001", 100, rate)


def test_the_captured_flash_and_unfreeze_answers_are_success():
    table = {"POST /api/v1/cs/flashcopies/unfreeze": rest_answer(F, "action-responses.json"),
             "POST /api/v1/cs/flashcopies": rest_answer(F, "create-flashcopy.json")}
    driver = capture_driver(table, {"FCG": GroupSpec((VolumePair("1000", "1001"),), 0)})
    driver.start("FCG")
    assert [line.split(" {")[0] for line in driver.session.sent] == [     # type: ignore[attr-defined]
        "POST /api/v1/tokens", "POST /api/v1/cs/flashcopies", "POST /api/v1/cs/flashcopies/unfreeze"]


def test_a_401_with_the_captured_code_logs_in_again_once():
    calls = []

    def volume(request: Request):
        calls.append(request.line())
        return rest_answer(F, "error-token-401.json") if len(calls) == 1 else (200, "{}")
    driver = capture_driver({"GET /api/v1/volumes/0000": volume})
    with pytest.raises(DeviceError):                 # the second answer is no envelope: not a token problem
        driver.volumes(["0000"])
    assert len(calls) == 2
    logins = [s for s in driver.session.sent if s.startswith("POST /api/v1/tokens")]  # type: ignore[attr-defined]
    assert len(logins) == 2


def test_the_captured_failure_carries_its_code_and_message():
    driver = capture_driver({"GET /api/v1/volumes/0000": rest_answer(F, "error-bundle-version.json")})
    with pytest.raises(DeviceError) as exc:
        driver.volumes(["0000"])
    assert exc.value.msg_id == "BE7A001D" and "bundle version" in str(exc.value)


# -------------------------------------------------------------------- the lab answers the same shapes

def lab_get(lab, path: str, method: str = "GET", params=None):  # noqa: F811
    session = lab.session()
    token = session.send(Request("POST", "/api/v1/tokens",
                                 {"request": {"params": {"username": lab.user, "password": lab.password}}}))
    assert token.status == 200
    headers = {"X-Auth-Token": token.data["token"]["token"]}
    got = session.send(Request(method, path, params), headers=headers)
    session.close()
    return token, got


# Keys the captures have and the lab leaves out: none. (The lab adds real_cap, virtual_cap, captype,
# wwn on volumes and persistent/recording/backgroundcopy/date_created on relationships.)
@pytest.mark.lab
def test_lab_answers_have_the_captured_keys_and_types(lab):  # noqa: F811
    lab.array.create_flashcopies([("1000", "2000")], ["permit_space_efficient_target", "persistent"])
    token, systems = lab_get(lab, "/api/v1/systems")
    assert shape_gaps(body(F, "token.json"), token.data) == []
    assert shape_gaps(body(F, "systems.json"), systems.data) == []
    for path, name in (("/api/v1/volumes/1000", "volume-fb.json"), ("/api/v1/hosts", "hosts.json"),
                       ("/api/v1/hosts/CLONE_FC/mappings", "host-mappings.json"),
                       ("/api/v1/cs/flashcopies", "cs-flashcopies.json"),
                       ("/api/v1/volumes/1000/flashcopy", "volume-flashcopy.json")):
        _, got = lab_get(lab, path)
        assert got.status == 200 and shape_gaps(body(F, name), got.data) == [], path
    _, missing = lab_get(lab, "/api/v1/volumes/3F00")
    assert missing.status == 404 and shape_gaps(body(F, "error-bundle-version.json"), missing.data) == []
    assert missing.data["server"]["status"] == "failed" and missing.data["server"]["code"].startswith("BE7A")


@pytest.mark.lab
def test_lab_action_answers_have_the_captured_keys(lab):  # noqa: F811
    pair = {"volume_pairs": [{"source_volume": "1000", "target_volume": "2000"}],
            "options": ["permit_space_efficient_target", "freeze_consistency"]}
    _, created = lab_get(lab, "/api/v1/cs/flashcopies", "POST", {"request": {"params": pair}})
    assert created.status == 200
    # The lab answers a list of responses (cinder's shape) whose items carry pyds8k's link.
    assert shape_gaps(body(F, "action-responses.json"), created.data) == []
    assert shape_gaps(body(F, "create-flashcopy.json"), created.data["responses"][0]) == []
    _, thawed = lab_get(lab, "/api/v1/cs/flashcopies/unfreeze", "POST", {"request": {"params": {"lss_ids": ["10"]}}})
    assert thawed.status == 200 and thawed.data["server"]["status"] == "ok"
    _, mapped = lab_get(lab, "/api/v1/hosts/CLONE_FC/mappings", "POST", {"request": {"params": {"volumes": ["2002"]}}})
    assert shape_gaps(body(F, "map-volumes-pyds8k.json"), mapped.data) == []
