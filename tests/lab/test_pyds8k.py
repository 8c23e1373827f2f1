"""IBM's pyds8k (the test extras pin 1.6.0), unmodified, against the lab's DS8000 REST front:
token, systems, volumes and FlashCopy relationships (the copy-services form and the older
per-volume form), at two code levels."""
from __future__ import annotations

import pytest

from flash4i_tui.lab.ds8000 import Ds8000Front, build_ds8000
from flash4i_tui.lab.ds8000.model import RELEASES

from ..devices.rest_support import RestLab
from ..devices.test_ds8000_driver import ARRAY

pyds8k_client = pytest.importorskip("pyds8k.client.ds8k.v1.client", reason="pyds8k is in the test extras")
from pyds8k import exceptions as ds_errors  # noqa: E402

PAIR = {"source_volume": "1000", "target_volume": "2000"}
OPTIONS = ["no_background_copy", "permit_space_efficient_target"]     # 2000 is space efficient


@pytest.fixture(params=["8.5", "9.3"])
def lab(request, tmp_path, monkeypatch):
    # requests lets these variables override a session's own CA file (verify=): drop them.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    lab = RestLab(tmp_path, build_ds8000, Ds8000Front, dict(ARRAY, release=request.param))
    yield lab
    lab.close()


@pytest.fixture
def client(lab):
    return pyds8k_client.Client("127.0.0.1", lab.user, lab.password, port=lab.port, verify=str(lab.tls.ca_cert))


@pytest.mark.lab
def test_pyds8k_logs_in_and_reads_the_system_at_its_code_level(client, lab):
    (system,) = client.get_systems()
    assert system.id == lab.array.image.replace("IBM.", "")
    assert system.release == lab.array.release and system.bundle == RELEASES[lab.array.release]
    assert system.MTM == lab.array.MTM and system.state == "online"
    logins = [e for e in lab.world.events if "logged in" in e.text]
    assert len(logins) == 1                          # one token, reused for the next calls
    client.get_volumes()
    assert len([e for e in lab.world.events if "logged in" in e.text]) == 1


@pytest.mark.lab
def test_pyds8k_lists_and_reads_volumes(client, lab):
    volumes = client.get_volumes()
    assert [v.id for v in volumes] == sorted(lab.array.volumes)
    one = client.get_volume("1000")
    assert one.id == "1000" and one.name == "SRC_1" and int(one.cap) == lab.array.volumes["1000"].capacity
    assert one.stgtype == "fb" and one.tp == "none" and client.get_volume("2000").tp == "ese"
    with pytest.raises(ds_errors.NotFound):
        client.get_volume("3F00")


@pytest.mark.lab
def test_pyds8k_creates_reads_and_deletes_a_flashcopy(client, lab):
    source = lab.array.volumes["1000"]
    source.write(4096)
    (created,) = client.create_cs_flashcopy([dict(PAIR)], options=list(OPTIONS))
    assert created.id == "1000:2000"
    rel = lab.array.relationships["1000:2000"]
    assert not rel.background and lab.array.volumes["2000"].content is source.content
    # The copy-services listing (pyds8k wraps the whole listing in one resource) and one relationship.
    (listing,) = client.get_cs_flashcopies()
    assert listing.id == "1000:2000"
    (item,) = client.get_cs_flashcopy("1000:2000").representation["flashcopy"]
    assert item["state"] == "valid" and item["backgroundcopy"] == "disabled"
    assert item["source_volume"]["id"] == "1000" and item["target_volume"]["id"] == "2000"
    # The older per-volume form, from either volume of the pair.
    for volume in ("1000", "2000"):
        (old,) = client.get_flashcopies_by_volume(volume)
        assert old.representation["sourcevolume"] == "1000" and old.representation["targetvolume"] == "2000"
        assert old.state == "valid" and old.persistent == "disabled"
    # A second relationship onto the same target is refused (pyds8k hands back the failed `server`
    # status instead of a resource); the lab keeps the first.
    (refused,) = client.create_cs_flashcopy([dict(PAIR)], options=list(OPTIONS))
    assert refused["status"] == "failed" and refused["code"].startswith("BE7A") and "target" in refused["message"]
    assert list(lab.array.relationships) == ["1000:2000"]
    client.delete_cs_flashcopy("1000:2000")
    assert not lab.array.relationships
    with pytest.raises(ds_errors.NotFound):
        client.delete_cs_flashcopy("1000:2000")


@pytest.mark.lab
def test_a_space_efficient_target_needs_its_option_as_on_a_real_ds8000(client, lab):
    (refused,) = client.create_cs_flashcopy([dict(PAIR)], options=["no_background_copy"])
    assert refused["status"] == "failed" and "permit_space_efficient_target" in refused["message"]
    assert not lab.array.relationships
