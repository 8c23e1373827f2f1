"""Ds8000Driver: the storage conformance suite against the lab's DS8000 REST front (HTTPS), plus
the DS8000 specifics: the exact requests, the server envelope, token renewal, TLS, strict
parsing, bounded requests, and the freeze's long busy."""
from __future__ import annotations

import json
import threading
import time
import warnings

import pytest

from flash4i_tui.devices.ssh import Endpoint
from flash4i_tui.devices.storage import connect, driver_for
from flash4i_tui.devices.storage.base import GroupSpec, VolumePair
from flash4i_tui.devices.storage.ds8000 import UNKNOWN_GROUP, Ds8000Driver
from flash4i_tui.errors import DeviceError, DeviceUnreachable, SafetyRefusal, StepTimeout, ValidationError
from flash4i_tui.lab.ds8000 import Ds8000Front, build_ds8000
from flash4i_tui.lab.https import load_or_create_tls

from .rest_support import PASSWORD_ENV, FakeRest, RestLab, answers
from .storage_conformance import GROUP, StorageCase, StorageConformance

GiB = 1024 ** 3
PAIRS = [VolumePair("1000", "2000"), VolumePair("1100", "2001")]     # two source LSSs: 10 and 11
ARRAY = {
    "name": "DS1", "type": "ds8000", "image": "IBM.2107-75FA120", "users": {"flash4i": "lab-ds-pw"},
    "volumes": [{"id": "1000", "name": "SRC_1", "size_gib": 1}, {"id": "1100", "name": "SRC_2", "size_gib": 1},
                {"id": "2000", "size_gib": 1, "thin": True}, {"id": "2001", "size_gib": 1, "thin": True},
                {"id": "2002", "size_gib": 1, "thin": True}],
    "hosts": [{"name": "CLONE_FC", "npiv_lpar": {"system": "SYS", "lpar_id": 5},
               "wwpns": ["C050760A1B2C0030"], "volumes": ["2000", "2001"]}],
}


@pytest.fixture
def release():
    """The DS8000 code level of the lab array (the conformance suite runs at two)."""
    return "9.3"


@pytest.fixture
def lab(tmp_path, monkeypatch, release):
    lab = RestLab(tmp_path, build_ds8000, Ds8000Front, dict(ARRAY, release=release))
    monkeypatch.setenv(PASSWORD_ENV, lab.password)
    yield lab
    lab.close()


@pytest.fixture
def driver(lab):
    drv = Ds8000Driver(lab.session(), "DS1")
    yield drv
    drv.session.close()


@pytest.mark.lab
class TestDs8000Conformance(StorageConformance):
    @pytest.fixture(params=["8.5", "9.4"])
    def release(self, request):
        return request.param

    @pytest.fixture
    def case(self, lab):
        lab.array.BACKGROUND_COPY_BYTES = 64 * 1024 ** 2      # 1 GiB in 16 lab s: 80 ms at speed 200
        return StorageCase(
            pairs=list(PAIRS), capacity=GiB, spare="2002", host="CLONE_FC", mapped={"2000": 0, "2001": 1},
            missing="3F00", write=lambda name, nbytes: lab.array.volumes[name].write(nbytes),
            commands=lab.sent, is_change=lambda line: not line.startswith(("GET ", "POST /api/v1/tokens")),
            full_copy_rate=100, start_requests=2)


def changes(lab: RestLab) -> list:
    return [line for line in lab.sent() if not line.startswith(("GET ", "POST /api/v1/tokens"))]


# -------------------------------------------------------------------- the requests

@pytest.mark.lab
def test_the_flash_is_one_create_with_freeze_then_the_unfreeze_of_the_source_lss(driver, lab):
    driver.ensure_group(GROUP, PAIRS, 0)
    driver.prepare(GROUP, timeout=5)
    assert changes(lab) == []                             # no group object on a DS8000: nothing to create
    driver.start(GROUP)
    assert changes(lab) == [
        'POST /api/v1/cs/flashcopies {"request":{"params":{"volume_pairs":[{"source_volume":"1000",'
        '"target_volume":"2000"},{"source_volume":"1100","target_volume":"2001"}],"options":["freeze_consistency",'
        '"persistent","permit_space_efficient_target","no_background_copy"]}}}',
        'POST /api/v1/cs/flashcopies/unfreeze {"request":{"params":{"lss_ids":["10","11"]}}}']
    assert lab.array.frozen == {}
    assert driver.describe_commands(GROUP, PAIRS, 50)[-2:] == [
        'POST /api/v1/cs/flashcopies {"request":{"params":{"volume_pairs":[{"source_volume":"1000",'
        '"target_volume":"2000"},{"source_volume":"1100","target_volume":"2001"}],"options":["freeze_consistency",'
        '"persistent","permit_space_efficient_target"]}}}',
        'POST /api/v1/cs/flashcopies/unfreeze {"request":{"params":{"lss_ids":["10","11"]}}}']


@pytest.mark.lab
def test_ensure_group_withdraws_old_relationships_of_the_targets_and_refuses_a_cascade(driver, lab):
    lab.array.create_flashcopies([("1100", "2000")], ["no_background_copy", "persistent",
                                                      "permit_space_efficient_target"])
    state = driver.ensure_group(GROUP, PAIRS, 0)
    assert state.status == "idle_or_copied"
    assert changes(lab) == ["DELETE /api/v1/cs/flashcopies/1100:2000"]
    assert lab.array.relationships == {}
    lab.array.create_flashcopies([("2001", "2002")], ["permit_space_efficient_target"])   # a target is a source
    with pytest.raises(SafetyRefusal, match="2001 is the source of FlashCopy 2001:2002"):
        driver.ensure_group(GROUP, PAIRS, 0)
    assert changes(lab) == ["DELETE /api/v1/cs/flashcopies/1100:2000"]


@pytest.mark.lab
def test_a_group_comes_from_the_configuration(lab):
    drv = driver_for("ds8000", lab.session(), "DS1", {}, {GROUP: GroupSpec(tuple(PAIRS), 0)})
    state = drv.group_state(GROUP)
    assert state is not None and [m.name for m in state.mappings] == ["1000:2000", "1100:2001"]
    with pytest.raises(DeviceError) as exc:
        drv.progress("OTHER")
    assert exc.value.msg_id == UNKNOWN_GROUP and "configuration" in exc.value.text
    drv.prepare(GROUP, timeout=5)
    drv.start(GROUP)
    # A new driver (another worker, the monitor) reads the flash back from the array.
    fresh = Ds8000Driver(lab.session(), "DS1", {GROUP: GroupSpec(tuple(PAIRS), 0)})
    again = fresh.group_state(GROUP)
    assert again.status == "copying" and again.start_time and all(m.start_time for m in again.mappings)


@pytest.mark.lab
def test_names_are_validated_before_anything_is_sent(driver, lab):
    for call in (lambda: driver.volumes(["10 00"]), lambda: driver.volumes(["1000/../x"]),
                 lambda: driver.ensure_group(GROUP, [VolumePair("1000", "2000;rm")], 0),
                 lambda: driver.ensure_group("A;B", PAIRS, 0), lambda: driver.start("G/../x"),
                 lambda: driver.map_volume("2002", "CLONE FC"), lambda: driver.map_volume("2002", "CLONE_FC", -1),
                 lambda: driver.ensure_group(GROUP, PAIRS, 151), lambda: driver.space_used(["abcd"])):
        with pytest.raises(ValidationError):
            call()
    assert lab.sent() == []


# -------------------------------------------------------------------- the envelope and tokens

@pytest.mark.lab
def test_a_failed_envelope_is_an_error_even_with_http_200(driver, lab):
    driver.ensure_group(GROUP, PAIRS, 0)
    driver.prepare(GROUP, timeout=5)
    lab.faults({"device": "ds8000", "match": "^POST /api/v1/cs/flashcopies$", "action": "fail",
                "message": "BE7A0032 The LSS is full."})
    with pytest.raises(DeviceError) as exc:
        driver.start(GROUP)
    assert exc.value.msg_id == "BE7A0032" and exc.value.text == "The LSS is full."
    assert exc.value.command.startswith("POST /api/v1/cs/flashcopies ")
    assert lab.log[-2].stdout.startswith("HTTP 200 ") and lab.log[-2].exit_status == 200
    assert lab.sent()[-1].startswith("POST /api/v1/cs/flashcopies/unfreeze")   # thawed whatever happened
    lab.faults({"device": "ds8000", "match": "GET /api/v1/volumes", "action": "fail", "exit_status": 503,
                "message": "BE7A0005 The storage is busy."})
    with pytest.raises(DeviceError) as exc:
        driver.volumes(["1000"])
    assert exc.value.msg_id == "BE7A0005" and lab.log[-1].exit_status == 503


@pytest.mark.lab
def test_an_expired_token_is_renewed_once(driver, lab):
    driver.volumes(["1000"])
    lab.array.expire_tokens()
    assert set(driver.volumes(["1000", "2000"])) == {"1000", "2000"}
    sent = lab.sent()
    assert sent.count('POST /api/v1/tokens {"request":{"params":{"username":"flash4i","password":"***"}}}') == 2
    assert sum('"BE7A001B"' in e.stdout for e in lab.log) == 1
    # A token refused again right after a new login is not retried forever.
    lab.faults({"device": "ds8000", "match": "GET /api/v1/volumes", "action": "fail", "exit_status": 401,
                "message": "BE7A001A The token is not valid."})
    with pytest.raises(DeviceUnreachable) as exc:
        driver.volumes(["1000"])
    assert exc.value.msg_id == "BE7A001A"
    assert len(lab.sent()) == len(sent) + 3               # the request, a new login, the request again


@pytest.mark.lab
def test_a_wrong_password_is_unreachable_and_secrets_never_reach_the_log(lab, monkeypatch):
    drv = Ds8000Driver(lab.session(), "DS1")
    drv.volumes(["1000"])
    token = next(iter(lab.array.tokens))
    text = json.dumps([e.__dict__ for e in lab.log])
    assert lab.password not in text and token not in text and "***" in text
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(DeviceUnreachable) as exc:
        Ds8000Driver(lab.session(), "DS1").volumes(["1000"])
    assert exc.value.msg_id == "BE7A002D" and "wrong" not in str(exc.value)
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(DeviceUnreachable, match=f"{PASSWORD_ENV}.*not set"):
        Ds8000Driver(lab.session(), "DS1").volumes(["1000"])


# -------------------------------------------------------------------- TLS and time bounds

@pytest.mark.lab
def test_tls_is_verified_against_the_configured_ca(lab, tmp_path):
    other = load_or_create_tls(tmp_path / "another-ca")
    with pytest.raises(DeviceUnreachable, match="not trusted"):
        Ds8000Driver(lab.session(ca_file=str(other.ca_cert)), "DS1").volumes(["1000"])
    with pytest.raises(DeviceUnreachable, match="not trusted"):
        Ds8000Driver(lab.session(ca_file=""), "DS1").volumes(["1000"])     # the system CAs do not know the lab
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                                     # urllib3's InsecureRequestWarning
        assert Ds8000Driver(lab.session(ca_file=str(other.ca_cert), verify_tls=False), "DS1").volumes(["1000"])


@pytest.mark.lab
def test_a_request_that_hangs_is_bounded(lab):
    drv = Ds8000Driver(lab.session(timeout=0.5), "DS1")
    drv.volumes(["1000"])
    lab.faults({"device": "ds8000", "match": "GET /api/v1/cs/flashcopies", "action": "hang"})
    started = time.monotonic()
    with pytest.raises(StepTimeout, match="did not end within"):
        drv.ensure_group(GROUP, PAIRS, 0)
    assert time.monotonic() - started < 3
    lab.faults({"device": "ds8000", "match": "GET /api/v1/volumes/2000", "action": "drop"})
    with pytest.raises(DeviceUnreachable):
        drv.volumes(["2000"])


# -------------------------------------------------------------------- the freeze

@pytest.mark.lab
def test_a_freeze_without_unfreeze_holds_writes_until_the_long_busy_timeout(driver, lab):
    lab.array.LONG_BUSY_TIMEOUT = 60.0                     # 0.3 s at speed 200
    driver.ensure_group(GROUP, PAIRS, 0)
    driver.prepare(GROUP, timeout=5)
    lab.faults({"device": "ds8000", "match": "unfreeze", "action": "fail", "message": "BE7A0099 lost"})
    with pytest.raises(DeviceError, match="lost"):
        driver.start(GROUP)
    assert set(lab.array.frozen) == {"10", "11"}
    written = threading.Event()
    started = time.monotonic()
    writer = threading.Thread(target=lambda: (lab.array.volumes["1000"].write(1024 ** 2), written.set()))
    writer.start()
    assert not written.wait(0.1)                            # long busy: the write waits
    assert written.wait(5) and time.monotonic() - started >= 0.25
    texts = [e.text for e in lab.world.events]
    assert any("write to volume 1000 waits: LSS 10 is long busy" in t for t in texts)
    assert any("LSS 10 long busy ended by its timeout" in t for t in texts)
    # An unfreeze ends it at once.
    lab.world.faults.clear()
    driver.ensure_group(GROUP, PAIRS, 0)
    driver.prepare(GROUP, timeout=5)
    lab.array.create_flashcopies([(p.source, p.target) for p in PAIRS],
                                 ["freeze_consistency", "persistent", "permit_space_efficient_target"])
    late = threading.Thread(target=lambda: lab.array.volumes["1100"].write(1024 ** 2))
    late.start()
    time.sleep(0.05)
    assert late.is_alive()
    lab.array.unfreeze(["10", "11"])
    late.join(1)
    assert not late.is_alive()


# -------------------------------------------------------------------- strict parsing

OK = {"status": "ok", "code": "", "message": "Operation done successfully."}
TOKEN = json.dumps({"server": OK, "token": {"token": "t0k", "expired_time": "", "max_idle_interval": "1800000"}})


def volume_json(**changes) -> str:
    item = {"id": "1000", "state": "normal", "cap": "1073741824", "real_cap": "1073741824", "tp": "none",
            "wwn": "6005076303FF000000000000000001000"}
    item.update(changes)
    item = {k: v for k, v in item.items() if v is not None}
    return json.dumps({"server": OK, "data": {"volumes": [item]}})


def flash_json(**changes) -> str:
    item = {"id": "1000:2000", "source_volume": {"id": "1000"}, "target_volume": {"id": "2000"},
            "out_of_sync_tracks": "16384", "state": "valid", "backgroundcopy": "disabled",
            "date_created": "2026-01-01T00:00:00+0000"}
    item.update(changes)
    return json.dumps({"server": OK, "data": {"flashcopy": [item]}})


@pytest.mark.parametrize("path, text, problem", [
    ("/volumes/1000", volume_json(cap="1 GiB"), "field cap is not a number"),
    # a thin volume without real_cap needs capalloc (a fully provisioned one uses cap: captured pyds8k shape)
    ("/volumes/1000", volume_json(real_cap=None, tp="ese"), "missing field capalloc"),
    ("/volumes/1000", volume_json(state="melted"), "unknown state"),
    ("/volumes/1000", volume_json(id="1001"), "asked for volume 1000"),
    ("/volumes/1000", volume_json(cap="10", real_cap="20"), "real_cap above cap"),
    ("/volumes/1000", "<html>Service Unavailable</html>", "no server envelope"),
    ("/volumes/1000", json.dumps({"server": OK, "data": {"volumes": []}}), "0 volumes for one id"),
    ("/cs/flashcopies", flash_json(state="broken"), "unknown state"),
    ("/cs/flashcopies", flash_json(out_of_sync_tracks=-1), "field out_of_sync_tracks is not text"),
    ("/cs/flashcopies", flash_json(id="1000-2000"), "relationship id is not SOURCE:TARGET"),
    ("/cs/flashcopies", flash_json(backgroundcopy="maybe"), "unknown backgroundcopy"),
    ("/cs/flashcopies", json.dumps({"server": {"status": "ok"}}), "missing field code"),
])
def test_malformed_answers_raise_device_errors_naming_the_request(path, text, problem):
    fake = FakeRest(answers({"/tokens": (200, TOKEN), path: (200, text)},
                            default=(200, volume_json())))
    drv = Ds8000Driver(fake, "DS9", {GROUP: GroupSpec((VolumePair("1000", "2000"),), 0)})
    call = drv.volumes if path.startswith("/volumes") else lambda _: drv.progress(GROUP)
    with pytest.raises(DeviceError) as exc:
        call(["1000"])
    assert problem in str(exc.value) and exc.value.device == "DS9"
    assert exc.value.command.split()[1].startswith("/api/v1" + path.split("?")[0])


def test_an_http_error_without_envelope_keeps_its_status():
    fake = FakeRest(answers({"/tokens": (200, TOKEN)}, default=(502, "Bad Gateway")))
    with pytest.raises(DeviceError, match="HTTP 502: Bad Gateway"):
        Ds8000Driver(fake, "DS9").space_used(["2000"])


# -------------------------------------------------------------------- construction

@pytest.mark.lab
def test_connect_builds_the_rest_driver_from_the_storage_endpoint(lab):
    endpoint = Endpoint("DS1", "127.0.0.1", lab.port, "flash4i", {"password_env": PASSWORD_ENV}, None)
    drv = connect("ds8000", endpoint, {"ca_file": str(lab.tls.ca_cert), "request_timeout": 7}, ssh=None,
                  groups={GROUP: GroupSpec(tuple(PAIRS), 0)})
    assert isinstance(drv, Ds8000Driver) and drv.session.endpoint.timeout == 7.0
    assert drv.group_state(GROUP).status == "idle_or_copied"
    assert drv.activate_targets(GROUP) == ""


# -------------------------------------------------------------------- configuration

def test_the_configuration_checks_volume_names_by_family():
    import yaml

    from flash4i_tui.config.schema import validate
    from flash4i_tui.config.yamlsrc import dump_yaml, load_yaml
    from flash4i_tui.errors import ConfigError

    from ..conftest import SAMPLE
    data = yaml.safe_load(SAMPLE.read_text())
    storage = data["storage"][0]
    storage.update(type="ds8000", auth={"key_file": "id_rsa"})
    storage.pop("port", None)
    with pytest.raises(ConfigError) as info:
        validate(load_yaml(dump_yaml(data), "c.yaml"))
    problems = [str(p) for p in info.value.problems]
    assert any("storage[0].auth: a ds8000 REST API authenticates" in p for p in problems)
    storage["auth"] = {"password_env": "DS_PASSWORD"}
    with pytest.raises(ConfigError) as info:
        validate(load_yaml(dump_yaml(data), "c.yaml"))
    problems = [str(p) for p in info.value.problems]
    assert any("environments[0].volumes[0].source: 'PROD_001' is not a valid ds8000 volume name" in p
               for p in problems)
    for env in data["environments"]:
        env["volumes"] = [{"source": f"10{i:02X}", "target": f"20{i:02X}"} for i in range(len(env["volumes"]))]
    cfg = validate(load_yaml(dump_yaml(data), "c.yaml"))
    assert cfg["storage"][0]["port"] == 8452 and cfg["environments"][0]["volumes"][0] == {"source": "1000",
                                                                                         "target": "2000",
                                                                                         "targets": []}
    data["storage"][0]["type"] = "svc"
    with pytest.raises(ConfigError, match="'1000' is not a valid svc volume name"):
        validate(load_yaml(dump_yaml(data), "c.yaml"))


@pytest.mark.lab
def test_a_relationship_that_needs_validation_is_suspended(driver, lab):
    driver.ensure_group(GROUP, PAIRS, 0)
    driver.prepare(GROUP, timeout=5)
    driver.start(GROUP)
    lab.array.relationships["1100:2001"].state = "validation_required"
    state = driver.progress(GROUP)
    assert state.status == "suspended"
    assert [m.status for m in state.mappings] == ["copying", "suspended"]
