"""The PowerMax driver on captured Unisphere REST answers (tests/data/captures/powermax/), and the
lab's Unisphere front answering the same requests with the same keys and value types."""
from __future__ import annotations

import json
import time

import pytest

from flash4i_tui.devices.storage.powermax import CYLINDER_BYTES, PowerMaxDriver
from flash4i_tui.devices.storage.rest import Answer, Request
from flash4i_tui.errors import DeviceError

from .captures_support import body, check_rest_index, rest_answer, shape_gaps
from .rest_support import FakeRest, answers
from .test_powermax_driver import SID, lab, level  # noqa: F401  (fixtures: the lab array at a level)

F = "powermax"
CSID = "000197800123"
V = "/univmax/restapi/101"


def test_the_index_states_request_status_source_and_level_of_every_capture():
    check_rest_index(F)


def capture_driver(table: dict, **kwargs) -> PowerMaxDriver:
    table = dict({"GET /univmax/restapi/version": rest_answer(F, "version.json")}, **table)
    return PowerMaxDriver(FakeRest(answers(table)), "PMAX", poll_interval=0, job_timeout=5,  # type: ignore[arg-type]
                          **kwargs)


# -------------------------------------------------------------------- the driver on the corpus

def test_the_version_answer_picks_the_newest_api_both_speak():
    assert capture_driver({})._api_version == "101"


def test_a_listing_of_two_arrays_needs_a_symmetrix_id():
    driver = capture_driver({"sloprovisioning/symmetrix": rest_answer(F, "symmetrix-list.json")})
    with pytest.raises(DeviceError, match="manages 2 arrays"):
        driver._array_api


def test_the_volume_detail_reads_capacity_allocation_and_state():
    driver = capture_driver({"/volume/00001": rest_answer(F, "volume-detail.json")}, symmetrix_id=CSID)
    info = driver.volumes(["00001"])["00001"]
    assert (info.capacity_bytes, info.used_bytes, info.thin, info.status, info.uid) == \
        (1093 * CYLINDER_BYTES, 1093 * CYLINDER_BYTES * 5 // 100, True, "online", "60000970000197800123533030303031")
    # PyU4V's trimmed unit-test volume has no cap_cyl: refused, not guessed.
    trimmed = capture_driver({"/volume/00001": rest_answer(F, "volume-detail-pyu4v.json")}, symmetrix_id=CSID)
    with pytest.raises(DeviceError, match="cap_cyl"):
        trimmed.volumes(["00001"])


def test_the_captured_iterator_lists_the_storage_group():
    sg = "PU-mystoragegroup-SG"
    driver = capture_driver({f"/storagegroup/{sg}": rest_answer(F, "storage-group.json"),
                             "/volume?storageGroupId": rest_answer(F, "volume-list-iterator.json")},
                            symmetrix_id=CSID)
    assert driver._sg_volumes(sg) == ["00001", "00002"]
    # The captured storage group has no num_of_masking_views: its maskingview list counts.
    assert driver._views_of(driver._call(driver._array_api.storage_group(sg))) == 1       # type: ignore[arg-type]


def snapshot_table(detail: str, name: str) -> dict:
    """The captured generation under a flash4i group name (at most 15 characters, as flash4i names them)."""
    d = dict(body(F, detail), name=name)
    return {f"/storagegroup/{name}_SRC/snapshot/{name}/snapid/{d['snapid']}": (200, json.dumps(d)),
            f"/storagegroup/{name}_SRC/snapshot/{name}/snapid": (200, json.dumps({"snapids": [d["snapid"]]})),
            f"/storagegroup/{name}_SRC/snapshot": (200, json.dumps({"name": [name]}))}


def test_a_linked_generation_reads_its_links_and_progress():
    group = "IBMI_FLG"
    driver = capture_driver(snapshot_table("snapid-detail-linked.json", group), symmetrix_id=CSID,
                            target_sg_suffix="_TGT")
    (gen,) = driver._generations(f"{group}_SRC", group)
    assert (gen.snapid, gen.states, gen.non_shared_tracks, gen.order) == (186124647681, ("Established",), 0,
                                                                          1720522736000)
    (link,) = gen.links
    assert (link.storage_group, link.source, link.target, link.percent) == ("ansible-snap-sg-target", "00205",
                                                                            "00206", 0.0)


def test_an_unlinked_generation_has_no_link_keys_and_reads_as_unlinked():
    group = "IBMI_FLG"
    driver = capture_driver(snapshot_table("snapid-detail-unlinked.json", group), symmetrix_id=CSID)
    (gen,) = driver._generations(f"{group}_SRC", group)
    assert gen.links == () and gen.states == ("Established", "Restored")


def test_pyu4vs_trimmed_generation_is_refused_not_guessed():
    group = "IBMI_FLG"
    driver = capture_driver(snapshot_table("snapid-detail-pyu4v.json", group), symmetrix_id=CSID)
    with pytest.raises(DeviceError, match="timestamp_utc|non_shared_tracks|percentageCopied"):
        driver._generations(f"{group}_SRC", group)


def test_the_captured_snapid_list_and_snapshot_list_shapes():
    assert body(F, "snapids.json")["snapids"] == [118749976833]
    assert body(F, "snapshot-list.json")["name"] == ["Grp_snapshot"]


@pytest.mark.parametrize("final, ok", [("job-succeeded.json", True), ("job-failed.json", False)])
def test_a_202_job_is_polled_to_its_captured_end(final, ok):
    driver = capture_driver({"/system/job/1573664112132": rest_answer(F, final)}, symmetrix_id=CSID)
    request = Request("PUT", f"{V}/replication/symmetrix/{CSID}/storagegroup/G_SRC/snapshot/G/snapid/1")
    status, text = rest_answer(F, "job-202-running.json")
    answer = Answer(request, status, text, json.loads(text), 0.0)
    if ok:
        assert driver._job(request, answer).str("status") == "SUCCEEDED"
    else:
        with pytest.raises(DeviceError, match="FAILED"):
            driver._job(request, answer)


def test_the_captured_error_message_is_the_error():
    driver = capture_driver({"/volume/00001": rest_answer(F, "error-message.json")}, symmetrix_id=CSID)
    with pytest.raises(DeviceError) as exc:
        driver._volume_fields("00001", missing_ok=False)
    assert exc.value.msg_id == body(F, "error-message.json")["message"]
    assert capture_driver({"/volume/00001": rest_answer(F, "error-message.json")},
                          symmetrix_id=CSID).volumes(["00001"]) == {}           # 404: simply absent


# -------------------------------------------------------------------- the lab answers the same shapes

def lab_call(lab, method: str, path: str, payload=None):  # noqa: F811
    session = lab.session()
    got = session.send(Request(method, path, payload), auth=(lab.user, lab.password))
    session.close()
    return got


@pytest.mark.lab
def test_lab_answers_have_the_captured_keys_and_types(lab):  # noqa: F811
    a = lab.array
    version = lab_call(lab, "GET", "/univmax/restapi/version")
    assert shape_gaps(body(F, "version.json"), version.data) == []
    api = f"/univmax/restapi/{a.level.api_version}"
    prov, rep = f"{api}/sloprovisioning/symmetrix/{SID}", f"{api}/replication/symmetrix/{SID}"
    assert shape_gaps(body(F, "symmetrix-list.json"), lab_call(lab, "GET", f"{api}/sloprovisioning/symmetrix").data) == []
    assert shape_gaps(body(F, "symmetrix-detail.json"), lab_call(lab, "GET", f"{api}/system/symmetrix/{SID}").data) == []
    volume = lab_call(lab, "GET", f"{prov}/volume/00301").data
    # gopowermax declares snapvx_source/snapvx_target bool; PyU4V's unit data (and the lab) have "false".
    assert shape_gaps(body(F, "volume-detail.json"), volume) == [".snapvx_source: bool in the capture, str in the lab",
                                                                 ".snapvx_target: bool in the capture, str in the lab"]
    assert shape_gaps(body(F, "volume-detail-pyu4v.json"), volume) == [".rdfGroupId: missing in the lab"]
    sg = volume["storageGroupId"][0]
    sg_detail = lab_call(lab, "GET", f"{prov}/storagegroup/{sg}").data
    # Lab-only keys are fine; the capture's workload/parent_storage_group belong to SLO and cascaded groups.
    assert shape_gaps(body(F, "storage-group.json"), sg_detail) == [".workload: missing in the lab",
                                                                   ".parent_storage_group: missing in the lab"]
    assert shape_gaps(body(F, "volume-list-iterator.json"),
                      lab_call(lab, "GET", f"{prov}/volume?storageGroupId={sg}").data) == []
    # A snapshot on a new source group, unlinked, then linked as a job.
    assert lab_call(lab, "POST", f"{prov}/storagegroup", {"storageGroupId": "CAP_SRC", "emulation": "FBA",
                                                          "srpId": "None", "create_empty_storage_group": True}).status == 201
    lab_call(lab, "PUT", f"{prov}/storagegroup/CAP_SRC", {"editStorageGroupActionParam": {"expandStorageGroupParam": {
        "addSpecificVolumeParam": {"volumeId": ["00201"]}}}})
    lab_call(lab, "POST", f"{prov}/storagegroup", {"storageGroupId": "CAP_TGT", "create_empty_storage_group": True})
    lab_call(lab, "PUT", f"{prov}/storagegroup/CAP_TGT", {"editStorageGroupActionParam": {"expandStorageGroupParam": {
        "addSpecificVolumeParam": {"volumeId": ["00303"]}}}})
    assert lab_call(lab, "POST", f"{rep}/storagegroup/CAP_SRC/snapshot", {"snapshotName": "CAP"}).status == 200
    assert shape_gaps(body(F, "snapshot-list.json"), lab_call(lab, "GET", f"{rep}/storagegroup/CAP_SRC/snapshot").data) == []
    snapids = lab_call(lab, "GET", f"{rep}/storagegroup/CAP_SRC/snapshot/CAP/snapid").data
    assert shape_gaps(body(F, "snapids.json"), snapids) == []
    one = f"{rep}/storagegroup/CAP_SRC/snapshot/CAP/snapid/{snapids['snapids'][0]}"
    unlinked = lab_call(lab, "GET", one).data
    assert shape_gaps(body(F, "snapid-detail-unlinked.json"), unlinked) == []
    assert set(unlinked) == set(body(F, "snapid-detail-unlinked.json"))          # no link keys when unlinked
    job = lab_call(lab, "PUT", one, {"action": "Link", "link": {"storage_group_name": "CAP_TGT", "copy": False},
                                     "executionOption": "ASYNCHRONOUS"})
    assert job.status == 202
    # The lab's job leaves out the *_milliseconds keys (flash4i and PyU4V read neither).
    assert shape_gaps(body(F, "job-202-running.json"), job.data) == [
        ".last_modified_date_milliseconds: missing in the lab", ".completed_date_milliseconds: missing in the lab"]
    for _ in range(200):
        done = lab_call(lab, "GET", f"{api}/system/job/{job.data['jobId']}").data
        if done["status"] == "SUCCEEDED":
            break
        time.sleep(0.05)
    assert shape_gaps(body(F, "job-succeeded.json"), done) == []
    linked = lab_call(lab, "GET", one).data
    assert shape_gaps(body(F, "snapid-detail-linked.json"), linked) == []
    assert set(linked) == set(body(F, "snapid-detail-linked.json"))
    assert set(linked["linked_storage_group"][0]) == set(body(F, "snapid-detail-linked.json")["linked_storage_group"][0])
    missing = lab_call(lab, "GET", f"{prov}/storagegroup/NO_SUCH_SG")
    assert missing.status == 404 and shape_gaps(body(F, "error-message.json"), missing.data) == []
