"""PowerMaxDriver: the storage conformance suite against the lab's Unisphere REST front (HTTPS),
plus the PowerMax specifics: storage groups in device order, the snapshot link as a polled
job, Unisphere errors, TLS, Basic authentication, strict parsing and bounded requests."""
from __future__ import annotations

import json
import time

import pytest

from flash4i_tui.devices.ssh import Endpoint
from flash4i_tui.devices.storage import connect
from flash4i_tui.devices.storage.base import GroupSpec, VolumePair
from flash4i_tui.devices.storage.powermax import CYLINDER_BYTES, PowerMaxDriver
from flash4i_tui.errors import DeviceError, DeviceUnreachable, SafetyRefusal, StepTimeout, ValidationError
from flash4i_tui.lab.https import load_or_create_tls
from flash4i_tui.lab.powermax import PowerMaxFront, build_powermax

from flash4i_tui.lab.world import DiskImage

from .rest_support import PASSWORD_ENV, FakeRest, RestLab, answers
from .storage_conformance import GROUP, OLD_GROUP, StorageCase, StorageConformance

CYLINDERS = 547                                       # a "1 GB" PowerMax device
PAIRS = [VolumePair("00201", "00301"), VolumePair("00202", "00302")]
SID = "000197900123"
ARRAY = {
    "name": "PMAX1", "type": "powermax", "symmetrix_id": SID, "users": {"flash4i": "lab-pmax-pw"},
    "volumes": [{"id": "00201", "name": "SRC_1", "size_cyl": CYLINDERS, "thin": False},
                {"id": "00202", "name": "SRC_2", "size_cyl": CYLINDERS, "thin": False},
                {"id": "00301", "size_cyl": CYLINDERS}, {"id": "00302", "size_cyl": CYLINDERS},
                {"id": "00303", "size_cyl": CYLINDERS}],
    "hosts": [{"name": "CLONE_IG", "npiv_lpar": {"system": "SYS", "lpar_id": 5},
               "wwpns": ["C050760A1B2C0030", "C050760A1B2C0031"], "volumes": ["00301", "00302"]}],
}


class FakeState:
    """An IBM i's on-disk state, as far as a capture needs it."""

    def snapshot(self):
        return "copy of state", "quiesced"


@pytest.fixture
def level():
    """The Unisphere level of the lab array (the conformance suite runs at two)."""
    return "10.0"


@pytest.fixture
def lab(tmp_path, monkeypatch, level):
    lab = RestLab(tmp_path, build_powermax, PowerMaxFront, dict(ARRAY, unisphere=level))
    monkeypatch.setenv(PASSWORD_ENV, lab.password)
    yield lab
    lab.close()


def make_driver(lab: RestLab, **kwargs) -> PowerMaxDriver:
    return PowerMaxDriver(lab.session(**kwargs), "PMAX1", poll_interval=0.02, job_timeout=10)


@pytest.fixture
def driver(lab):
    drv = make_driver(lab)
    yield drv
    drv.session.close()


def changes(lab: RestLab) -> list:
    return [line for line in lab.sent() if not line.startswith("GET ")]


@pytest.mark.lab
class TestPowerMaxConformance(StorageConformance):
    @pytest.fixture(params=["10.0", "10.4"])
    def level(self, request):
        return request.param

    @pytest.fixture
    def case(self, lab):
        lab.array.LINK_COPY_BYTES = 16 * 1024 ** 2     # 1 GB in 64 lab s: ticks of 20 lab s show the way to 100 %
        return StorageCase(
            pairs=list(PAIRS), capacity=CYLINDERS * CYLINDER_BYTES, spare="00303", host="CLONE_IG",
            mapped={"00301": 1, "00302": 2}, missing="00FFF",
            write=lambda name, nbytes: lab.array.volumes[name].write(nbytes),
            commands=lab.sent, is_change=lambda line: not line.startswith("GET "),
            full_copy_rate=100, restart_refused=False)      # a second establish is a new generation


# -------------------------------------------------------------------- requests and jobs

@pytest.mark.lab
def test_flash_is_one_establish_and_the_link_a_polled_job(driver, lab):
    lab.array.JOB_SECONDS = 20.0                            # 0.1 s at speed 200: a few polls
    for unit, source in enumerate(("00201", "00202"), start=1):
        lab.array.volumes[source].content = DiskImage("SET1", unit, 2, FakeState())
    driver.ensure_group(GROUP, PAIRS, 0)
    assert changes(lab) == [
        f"POST /univmax/restapi/100/sloprovisioning/symmetrix/{SID}/storagegroup "
        '{"storageGroupId":"CFTGROUP_SRC","srpId":"None","emulation":"FBA","create_empty_storage_group":true}',
        f"PUT /univmax/restapi/100/sloprovisioning/symmetrix/{SID}/storagegroup/CFTGROUP_SRC "
        '{"editStorageGroupActionParam":{"expandStorageGroupParam":{"addSpecificVolumeParam":'
        '{"volumeId":["00201","00202"]}}}}',
        f"POST /univmax/restapi/100/sloprovisioning/symmetrix/{SID}/storagegroup "
        '{"storageGroupId":"CFTGROUP_TGT","srpId":"None","emulation":"FBA","create_empty_storage_group":true}',
        f"PUT /univmax/restapi/100/sloprovisioning/symmetrix/{SID}/storagegroup/CFTGROUP_TGT "
        '{"editStorageGroupActionParam":{"expandStorageGroupParam":{"addSpecificVolumeParam":'
        '{"volumeId":["00301","00302"]}}}}']
    driver.prepare(GROUP, timeout=5)
    count = len(lab.sent())
    driver.start(GROUP)
    assert lab.sent()[count:] == [f"POST /univmax/restapi/100/replication/symmetrix/{SID}/storagegroup/"
                                  'CFTGROUP_SRC/snapshot {"snapshotName":"CFTGROUP"}']
    assert lab.array.volumes["00301"].content is None          # the targets change at the link only
    detail = driver.activate_targets(GROUP)
    assert "linked to CFTGROUP_TGT (nocopy)" in detail
    link = next(e for e in lab.log if e.command.startswith("PUT ") and '"Link"' in e.command)
    assert link.stdout.startswith("HTTP 202 ") and '"executionOption":"ASYNCHRONOUS"' in link.command
    polls = [e for e in lab.log if "/system/job/" in e.command]
    assert len(polls) >= 2 and '"RUNNING"' in polls[0].stdout and '"SUCCEEDED"' in polls[-1].stdout
    images = [lab.array.volumes[t].content for t in ("00301", "00302")]
    assert [(i.set_id, i.unit, i.state) for i in images] == [("SET1", 1, "copy of state"), ("SET1", 2, "copy of state")]
    assert driver.activate_targets(GROUP).endswith("already linked to CFTGROUP_TGT")


@pytest.mark.lab
def test_a_failed_job_is_a_device_error_with_its_result(driver, lab):
    driver.ensure_group(GROUP, PAIRS, 0)
    driver.prepare(GROUP, timeout=5)
    driver.start(GROUP)
    lab.faults({"device": "powermax", "match": "^JOB Link", "action": "fail", "message": "SRP is out of space"})
    with pytest.raises(DeviceError) as exc:
        driver.activate_targets(GROUP)
    assert exc.value.msg_id == "SRP is out of space" and "FAILED" in exc.value.text
    assert driver.progress(GROUP).status == "copying"      # established, not linked


@pytest.mark.lab
def test_a_job_that_never_ends_is_bounded(lab):
    drv = PowerMaxDriver(lab.session(), "PMAX1", poll_interval=0.02, job_timeout=0.3)
    lab.array.JOB_SECONDS = 10 ** 6
    drv.ensure_group(GROUP, PAIRS, 0)
    drv.start(GROUP)
    with pytest.raises(StepTimeout, match="did not end within 0.3s"):
        drv.activate_targets(GROUP)


@pytest.mark.lab
def test_a_relink_replaces_an_older_generation(driver, lab):
    driver.ensure_group(GROUP, PAIRS, 0)
    driver.start(GROUP)
    driver.activate_targets(GROUP)
    driver.start(GROUP)                                     # a second generation
    assert "relinked" in driver.activate_targets(GROUP)
    gens = lab.array.snapshots["CFTGROUP_SRC"]["CFTGROUP"]
    assert len(gens) == 1 and gens[0].links                 # the older one was terminated


@pytest.mark.lab
def test_pairs_must_follow_device_order(driver, lab):
    with pytest.raises(ValidationError, match="device order"):
        driver.ensure_group(GROUP, [VolumePair("00201", "00302"), VolumePair("00202", "00301")], 0)
    assert changes(lab) == []


@pytest.mark.lab
def test_an_old_group_with_other_targets_is_refused(driver, lab):
    lab.array.create_sg("CFTOLD_SRC")
    lab.array.add_to_sg("CFTOLD_SRC", ["00201", "00202"])
    lab.array.create_sg("CFTOLD_TGT")
    lab.array.add_to_sg("CFTOLD_TGT", ["00301", "00303"])
    lab.array.establish("CFTOLD_SRC", OLD_GROUP)
    with pytest.raises(SafetyRefusal, match="00303"):
        driver.ensure_group(GROUP, PAIRS, 0)
    assert changes(lab) == []


@pytest.mark.lab
def test_names_are_validated_before_anything_is_sent(driver, lab):
    for call in (lambda: driver.volumes(["0020"]), lambda: driver.volumes(["00201/x"]),
                 lambda: driver.ensure_group(GROUP, [VolumePair("00201", "00301;")], 0),
                 lambda: driver.ensure_group("A B", PAIRS, 0), lambda: driver.start("../../x"),
                 lambda: driver.map_volume("00303", "CLONE IG"), lambda: driver.map_volume("00303", "CLONE_IG", 5),
                 lambda: driver.activate_targets("G?x=1")):
        with pytest.raises(ValidationError):
            call()
    assert lab.sent() == []
    with pytest.raises(ValidationError):
        PowerMaxDriver(lab.session(), "PMAX1", symmetrix_id="1; DROP")
    with pytest.raises(ValidationError):
        PowerMaxDriver(lab.session(), "PMAX1", api_version="../100")


# -------------------------------------------------------------------- errors, TLS, auth, bounds

@pytest.mark.lab
def test_unisphere_errors_carry_the_message(driver, lab):
    with pytest.raises(DeviceError) as exc:
        driver.progress("NOSUCH")
    assert exc.value.msg_id == "Cannot find Storage Group NOSUCH_SRC"
    assert "/storagegroup/NOSUCH_SRC" in exc.value.command
    lab.faults({"device": "powermax", "match": "GET .*/volume/00201", "action": "fail",
                "message": "Internal error: database busy"})
    with pytest.raises(DeviceError) as exc:
        driver.volumes(["00201"])
    assert exc.value.msg_id == "Internal error: database busy" and lab.log[-1].exit_status == 500


@pytest.mark.lab
def test_the_array_is_found_when_unisphere_has_one(driver, lab):
    driver.volumes(["00201"])
    assert lab.sent()[:3] == ["GET /univmax/restapi/version",            # the API version it serves
                              "GET /univmax/restapi/100/sloprovisioning/symmetrix",
                              f"GET /univmax/restapi/100/sloprovisioning/symmetrix/{SID}/volume/00201"]
    configured = PowerMaxDriver(lab.session(), "PMAX1", symmetrix_id="000197900999")
    assert configured.volumes(["00201"]) == {}                  # a 404: no such device there
    with pytest.raises(DeviceError, match="Symmetrix 000197900999 not found"):
        configured.space_used(["00201"])


@pytest.mark.lab
def test_tls_and_basic_authentication(lab, tmp_path, monkeypatch):
    other = load_or_create_tls(tmp_path / "another-ca")
    with pytest.raises(DeviceUnreachable, match="not trusted"):
        make_driver(lab, ca_file=str(other.ca_cert)).volumes(["00201"])
    drv = make_driver(lab)
    drv.volumes(["00201"])
    text = json.dumps([e.__dict__ for e in lab.log])
    assert lab.password not in text and "Authorization" not in text
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(DeviceUnreachable, match="authentication failed"):
        make_driver(lab).volumes(["00201"])


@pytest.mark.lab
def test_a_request_that_hangs_is_bounded(lab):
    drv = make_driver(lab, timeout=0.5)
    drv.volumes(["00201"])
    drv.ensure_group(GROUP, PAIRS, 0)
    lab.faults({"device": "powermax", "match": "^POST .*/snapshot$", "action": "hang"})
    started = time.monotonic()
    with pytest.raises(StepTimeout, match="within 0.5s"):
        drv.start(GROUP)
    assert time.monotonic() - started < 3


# -------------------------------------------------------------------- strict parsing

def volume(**changes) -> str:
    data = {"volumeId": "00201", "cap_cyl": 547, "allocated_percent": 100, "wwn": "6000097000019790012353303230",
            "status": "Ready", "storageGroupId": []}
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not None})


@pytest.mark.parametrize("text, problem", [
    (volume(cap_cyl="547"), "field cap_cyl is not a whole number"),
    (volume(allocated_percent=140), "allocated_percent out of 0-100"),
    (volume(status="Exploded"), "unknown status"),
    (volume(wwn=None), "missing field wwn"),
    (volume(volumeId="00202"), "asked for device 00201"),
    ("[]", "the answer is not a JSON object"),
    ("not json", "the answer is not a JSON object"),
])
def test_malformed_volumes_raise_device_errors_naming_the_request(text, problem):
    fake = FakeRest(answers({"/volume/00201": (200, text)}))
    with pytest.raises(DeviceError) as exc:
        PowerMaxDriver(fake, "PM9", symmetrix_id=SID, api_version="100").volumes(["00201"])
    assert problem in str(exc.value) and exc.value.device == "PM9"
    assert exc.value.command == f"GET /univmax/restapi/100/sloprovisioning/symmetrix/{SID}/volume/00201"


def snapshot(**changes) -> str:
    data = {"name": "G1", "snapid": 7, "state": ["Established"], "timestamp": "10:58:56 Tue, 09 Jul 2024 +0000",
            "timestamp_utc": 1720522736000, "linked": True, "non_shared_tracks": 0,
            "linked_storage_group": [{"name": "G1_TGT", "source_volume_name": "00201", "linked_volume_name": "00301",
                                      "percentageCopied": 0}]}
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not None})


def sg_volumes(*devices: str) -> str:
    return json.dumps({"count": len(devices), "resultList": {"result": [{"volumeId": d} for d in devices]}})


@pytest.mark.parametrize("text, problem", [
    (snapshot(state=["Melting"]), "unknown snapshot state"),
    (snapshot(snapid=8), "asked for G1 snapid 7"),
    (snapshot(linked_storage_group=[{"name": "G1_TGT", "source_volume_name": "00201",
                                     "linked_volume_name": "00301", "percentageCopied": 101}]),
     "percentageCopied out of 0-100"),
    (snapshot(linked=True, linked_storage_group=None), "missing field linked_storage_group"),
    (snapshot(timestamp_utc="yesterday"), "field timestamp_utc is not a whole number"),
])
def test_malformed_snapshots_raise_device_errors(text, problem):
    fake = FakeRest(answers({
        "/snapshot/G1/snapid/7": (200, text),
        "/snapshot/G1/snapid": (200, json.dumps({"snapids": [7]})),
        "/snapshot": (200, json.dumps({"name": ["G1"]})),
        "volume?storageGroupId=G1_SRC": (200, sg_volumes("00201")),
        "volume?storageGroupId=G1_TGT": (200, sg_volumes("00301")),
        "/storagegroup/G1_": (200, json.dumps({"storageGroupId": "G1"})),
    }))
    with pytest.raises(DeviceError) as exc:
        PowerMaxDriver(fake, "PM9", symmetrix_id=SID, api_version="100").group_state("G1")
    assert problem in str(exc.value) and exc.value.command.endswith("/snapshot/G1/snapid/7")


def test_a_listing_with_more_volumes_than_it_shows_is_refused():
    fake = FakeRest(answers({"/storagegroup/G1_SRC": (200, "{}"),
                             "storageGroupId=G1_SRC": (200, json.dumps({"count": 3, "resultList": {
                                 "result": [{"volumeId": "00201"}]}}))}))
    with pytest.raises(DeviceError, match="3 volumes announced, 1 listed"):
        PowerMaxDriver(fake, "PM9", symmetrix_id=SID, api_version="100").group_state("G1")


# -------------------------------------------------------------------- construction

@pytest.mark.lab
@pytest.mark.parametrize("level", ["10.3"])              # a Unisphere that serves API version 103
def test_connect_builds_the_rest_driver_with_its_options(lab):
    endpoint = Endpoint("PMAX1", "127.0.0.1", lab.port, "flash4i", {"password_env": PASSWORD_ENV}, None)
    drv = connect("powermax", endpoint, {"ca_file": str(lab.tls.ca_cert), "symmetrix_id": SID, "api_version": "103",
                                         "source_sg_suffix": "_A", "target_sg_suffix": "_B"}, ssh=None,
                  groups={GROUP: GroupSpec(tuple(PAIRS), 50)}, timeout=5)
    assert isinstance(drv, PowerMaxDriver) and drv.session.endpoint.timeout == 5.0
    drv.ensure_group(GROUP, PAIRS, 50)
    assert {"CFTGROUP_A", "CFTGROUP_B"} <= set(lab.array.storage_groups)
    assert all("/restapi/103/" in line for line in lab.sent())


@pytest.mark.lab
@pytest.mark.parametrize("level, api", [("10.0", "100"), ("10.2", "102"), ("10.4", "104")])
def test_the_driver_speaks_the_newest_api_version_the_unisphere_serves(driver, lab, level, api):
    driver.volumes(["00201"])
    assert lab.sent()[0] == "GET /univmax/restapi/version"
    assert all(f"/restapi/{api}/" in line for line in lab.sent()[1:]) and len(lab.sent()) == 3


@pytest.mark.lab
@pytest.mark.parametrize("level", ["10.4"])
def test_a_configured_api_version_the_unisphere_does_not_serve_is_its_404(lab):
    with pytest.raises(DeviceError, match="API version 100 is not supported"):
        PowerMaxDriver(lab.session(), "PMAX1", api_version="100").volumes(["00201"])


def test_a_unisphere_serving_no_known_api_version_is_refused_by_name():
    fake = FakeRest(answers({"/restapi/version": (200, json.dumps(
        {"version": "V9.1.0.5", "api_version": "91", "supported_api_versions": ["91", "90"]}))}))
    with pytest.raises(DeviceError, match=r"Unisphere V9.1.0.5 serves API versions 91, 90.*set the storage option"):
        PowerMaxDriver(fake, "PM9", symmetrix_id=SID).volumes(["00201"])
    assert fake.sent == ["GET /univmax/restapi/version"]
