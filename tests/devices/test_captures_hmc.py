"""The HMC driver's parsers on the captured shapes (tests/data/captures/hmc/), and the lab HMC
printing the same shapes for the same commands, as a V10 and as a V9 HMC."""
from __future__ import annotations

import copy
import re
from types import SimpleNamespace

import pytest

from flash4i_tui.devices.hmc import (LPAR_FIELDS, HmcDriver, HmcVersion, parse_attr_line, parse_csv_line,
                                     parse_lshmc_version, parse_lsmap)
from flash4i_tui.errors import DeviceError
from flash4i_tui.lab.hmc.cli import HmcFront
from flash4i_tui.lab.hmc.model import build_hmcs
from flash4i_tui.lab.world import World

from ..lab.hmc_support import FakeArray, topology
from .captures_support import CaptureSession, answer, check_index, text

F = "hmc"
SYS = "P10-PROD"


def test_the_index_states_source_and_level_of_every_capture():
    check_index(F)


def bad(what: str, line: str) -> Exception:
    return ValueError(f"{what}: {line}")


# -------------------------------------------------------------------- the parsers on the corpus

def test_default_format_lines_parse_with_quoted_items():
    lpars = [parse_attr_line(line) for line in text(F, "lssyscfg-lpar-default-v7.txt").splitlines()]
    assert [(a["name"], a["lpar_id"], a["state"], a["lpar_env"]) for a in lpars] == [
        ("nim1", "5", "Running", "aixlinux"), ("vios1", "2", "Running", "vioserver")]
    assert lpars[0]["os_version"] == "AIX 6.1 6100-00-01-0748" and lpars[1]["rmc_state"] == "inactive"
    prof = parse_attr_line(text(F, "lssyscfg-prof-default-quoted-v7.txt").strip())
    assert prof["io_slots"] == "21010002/none/1,21050003/none/1"
    assert prof["virtual_eth_adapters"] == "6/0/6//2/1,8/0/8//2/1,9/0/6//0/0"
    assert prof["virtual_scsi_adapters"] == "2/server/5/nim1/3/0"


def test_doubled_quotes_inside_a_quoted_item_stay_with_their_element():
    event = parse_attr_line(text(F, "lssvcevents-nested-quotes-v7.txt").strip())
    assert event["files"] == ('iqyvpd.dat/Configuration information associated with the HMC,'
                              '"PMap.eed/Partition map, obtained from \'lshsc -w -c machine\'",'
                              'sys.eed/Output of various system configuration commands')
    assert event["approval_state"] == "approved" and event["ref_code_extn"] == ""


def test_F_with_header_parses_as_csv():
    lines = text(F, "lssyscfg-lpar-F-header-v10.txt").splitlines()
    names = parse_csv_line(lines[0], 4)
    assert dict(zip(names, parse_csv_line(lines[1], 4))) == {
        "name": "lpar-c", "lpar_id": "3", "state": "Not Activated", "rmc_state": "inactive"}


@pytest.mark.parametrize("name, expected", [
    ("lshmc-V-v10.txt", HmcVersion(10, "3", "1060", "2408210051")),
    ("lshmc-V-v8.txt", HmcVersion(8, "8.2.0", "0", "20141006.3")),
    ("lshmc-V-v7.txt", HmcVersion(7, "7.9.0", "3", "20151216.1")),
])
def test_both_lshmc_shapes_read(name, expected):
    assert parse_lshmc_version(text(F, name)) == expected
    driver = HmcDriver(CaptureSession({"lshmc -V": answer(F, name)}), "HMC1")      # type: ignore[arg-type]
    assert driver.version() == expected


def test_lsmap_capture_parses():
    vhosts = parse_lsmap(text(F, "viosvrcmd-lsmap-all.txt"), bad)
    assert [(v.name, v.client_id) for v in vhosts] == [("vhost0", 3)]
    assert [(t.name, t.lun, t.backing) for t in vhosts[0].vtds] == [
        ("c3_vtscsi1", "0x8100000000000000", "hdisk2"), ("c3_vtscsi2", "0x8200000000000000", "hdisk3")]


# -------------------------------------------------------------------- the driver on the corpus

def capture_driver(**answers: str) -> HmcDriver:
    return HmcDriver(CaptureSession({prefix.replace("_", " "): answer(F, name) for prefix, name in answers.items()}),
                     "HMC1")                                   # type: ignore[arg-type]


@pytest.mark.parametrize("name, msg_id", [("hscl-error-v10.txt", "HSCL127D"), ("hscl-error-v7-pl.txt", "HSCLA4C0")])
def test_hscl_failures_on_stdout_keep_their_message_id(name, msg_id):
    with pytest.raises(DeviceError) as exc:
        capture_driver(chsysstate=name).activate(SYS, "CLONE1", "normal")
    assert exc.value.msg_id == msg_id and text(F, name).strip() in exc.value.text


def test_an_unknown_F_attribute_is_a_device_error_without_an_id():
    with pytest.raises(DeviceError) as exc:
        capture_driver(lssyscfg="lssyscfg-F-unknown-attribute-v7-pl.txt").lpars(SYS)
    assert exc.value.msg_id is None and "type_serial" in exc.value.text


def test_no_results_is_an_empty_list():
    assert capture_driver(lssyscfg="no-results.txt").lpars(SYS) == []


def test_vios_lsmap_through_viosvrcmd():
    vhosts = capture_driver(viosvrcmd="viosvrcmd-lsmap-all.txt").vios_lsmap(SYS, "VIOS1")
    assert [t.backing for t in vhosts[0].vtds] == ["hdisk2", "hdisk3"]


# -------------------------------------------------------------------- the lab prints the same shapes

@pytest.fixture(params=[10, 9])
def front(request):
    data = topology()
    hmcs = copy.deepcopy(data["hmcs"])
    hmcs[0]["version"] = {10: {"version": 10, "release": 3, "service_pack": 1060},
                          9: {"version": 9, "release": "9.2.0", "service_pack": 950,
                              "build_level": "2012181542"}}[request.param]
    world = World(speed=1000)
    world.arrays[data["storage"][0]["name"]] = FakeArray(data["storage"][0])
    build_hmcs(world, hmcs)
    front = HmcFront(world, world.hmcs["HMC1"], None, {})
    front.major = request.param
    return front


def run(front, line: str):
    return front.execute(line, SimpleNamespace(user="hscroot"))


def test_lab_lshmc_prints_the_shape_of_its_version(front):
    out, err, status = run(front, "lshmc -V")
    assert (err, status) == ("", 0)
    capture = text(F, "lshmc-V-v10.txt" if front.major >= 10 else "lshmc-V-v8.txt")
    assert re.sub(r"[0-9][0-9.]*", "N", out) == re.sub(r"[0-9][0-9.]*", "N", capture)
    assert parse_lshmc_version(out).version == front.major


def test_lab_F_with_header_has_the_captured_layout(front):
    line = f"lssyscfg -r lpar -m {SYS} --filter lpar_names=CLONE1 -F name,lpar_id,state,rmc_state --header"
    out, err, status = run(front, line)
    assert (err, status) == ("", 0)
    lines = out.splitlines()
    assert lines[0] == text(F, "lssyscfg-lpar-F-header-v10.txt").splitlines()[0]
    assert lines[1:] == ["CLONE1,5,Not Activated,inactive"]


def test_lab_unknown_F_attribute_names_it_without_an_id(front):
    out, err, status = run(front, f"lssyscfg -r lpar -m {SYS} -F name,type_serial")
    captured = text(F, "lssyscfg-F-unknown-attribute-v7-pl.txt")
    assert status != 0 and err == "" and "type_serial" in out and "HSCL" not in out
    assert out.count(".  ") == captured.count(".  ") == 2                 # three sentences, two spaces between


def test_lab_default_format_quotes_items_with_commas(front):
    out, err, status = run(front, f"lssyscfg -r prof -m {SYS} --filter lpar_names=VIOS1")
    assert status == 0
    items = parse_attr_line(out.splitlines()[0])
    assert items["virtual_serial_adapters"] == "0/server/1/any//any/1,1/server/1/any//any/1"
    assert '"virtual_serial_adapters=0/server/1/any//any/1,1/server/1/any//any/1"' in out


def test_lab_never_run_ibmi_shows_00000000_and_not_activated(front):
    # pypowervm's REST capture of an IBM i that is not activated: ReferenceCode 00000000.
    rest = text(F, "rest-lpar-ibmi-not-activated.xml")
    assert ">not activated<" in rest and ">00000000<" in rest and ">OS400<" in rest
    out, _, status = run(front, f"lsrefcode -r lpar -m {SYS} --filter lpar_names=CLONE1")
    attrs = parse_attr_line(out.strip())
    assert status == 0 and attrs["refcode"] == "00000000" and attrs["lpar_name"] == "CLONE1"
    out, _, _ = run(front, f"lssyscfg -r lpar -m {SYS} --filter lpar_names=CLONE1 -F {','.join(LPAR_FIELDS)}")
    assert parse_csv_line(out.strip(), len(LPAR_FIELDS))[2] == "Not Activated"


def test_lab_hscl_failures_go_to_stdout_with_an_id_first(front):
    out, err, status = run(front, f"chsysstate -m {SYS} -r lpar -o on -n PROD -f normal")
    assert status != 0 and err == "" and out.startswith("HSCL")
    driver_error = HmcDriver(CaptureSession({"chsysstate": (out, err, status)}), "HMC1")   # type: ignore[arg-type]
    with pytest.raises(DeviceError) as exc:
        driver_error.activate(SYS, "PROD", "normal")
    assert exc.value.msg_id == out.split()[0]
