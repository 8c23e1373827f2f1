"""Device latency in the lab: a command takes at least its set time, a device can be a network
round trip away, both are zero by default, and both change while the lab runs (control API,
`flash4i labctl latency`). The lab's servers count handshakes and commands per device."""
from __future__ import annotations

import argparse
import json
import ssl
import time
import urllib.error
import urllib.request

import pytest
import yaml

from flash4i_tui.devices.ibmi import resume_command, suspend_command, system_line
from flash4i_tui.devices.ssh import Endpoint, SshSession
from flash4i_tui.lab.faults import Latency
from flash4i_tui.lab.server import Lab, load_topology

pytestmark = pytest.mark.lab

SPEED = 600.0


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with Lab(load_topology(), tmp_path_factory.mktemp("lab"), speed=SPEED) as running:
        running.write_config(tmp_path_factory.mktemp("cfg") / "lab.yaml")
        yield running


@pytest.fixture(autouse=True)
def _zero(lab):
    lab.world.latency.clear()
    yield
    lab.world.latency.clear()


def session(lab: Lab, device: str) -> SshSession:
    files = lab.files()
    ports = {"svc": lab.endpoints.storage["FS9500"], "hmc": lab.endpoints.hmcs["HMC1"],
             "prod": lab.endpoints.ibmi["10.10.1.10"]}
    users = {"svc": "flash4i", "hmc": "hscroot", "prod": "FLASH4I"}
    return SshSession(Endpoint(device, "127.0.0.1", ports[device], users[device],
                               {"key_file": str(files["client_key"])}, str(files["known_hosts"])))


def timed(s: SshSession, command: str) -> float:
    t0 = time.monotonic()
    result = s.run(command, timeout=20)
    assert result.exit_status == 0, result.stderr
    return time.monotonic() - t0


def control(lab: Lab, method: str, path: str, body: object = None) -> dict:
    data = None if body is None else yaml.safe_dump(body).encode()
    request = urllib.request.Request(lab.endpoints.control_url + path, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read().decode())


LSSYSTEM = "svcinfo lssystem -delim :"


def test_zero_by_default(lab):
    assert lab.world.latency.as_dict() == {"rtt": {}, "commands": []}
    assert control(lab, "GET", "/latency") == {"rtt": {}, "commands": []}
    assert Latency.parse(load_topology().get("latency")).as_dict() == {"rtt": {}, "commands": []}
    with session(lab, "svc") as s:
        s.run(LSSYSTEM, timeout=10)
        assert min(timed(s, LSSYSTEM) for _ in range(3)) < 0.1


def test_a_command_takes_at_least_its_latency_and_it_changes_at_runtime(lab):
    with session(lab, "svc") as s:
        s.run(LSSYSTEM, timeout=10)                              # connected before the change
        control(lab, "PUT", "/latency", {"commands": [{"device": "svc", "match": "lssystem", "seconds": 0.3}]})
        assert timed(s, LSSYSTEM) >= 0.3
        assert timed(s, "svcinfo lsvdisk -delim :") < 0.3        # another command: no delay
        control(lab, "PUT", "/latency", {"commands": [{"device": "svc:FS9500", "match": "lssystem",
                                                       "seconds": 0.6}]})
        assert timed(s, LSSYSTEM) >= 0.6
        control(lab, "DELETE", "/latency")
        assert timed(s, LSSYSTEM) < 0.3
    assert any(e.kind == "latency" for e in lab.world.events)


def test_round_trip_time_applies_to_handshakes_and_commands(lab):
    with session(lab, "hmc") as s:
        t0 = time.monotonic()
        s.run("lssyscfg -r sys -F name", timeout=10)
        direct_connect = time.monotonic() - t0
        direct = min(timed(s, "lssyscfg -r sys -F name") for _ in range(3))
    control(lab, "PUT", "/latency", {"rtt": {"hmc": 0.1}})
    with session(lab, "hmc") as s:
        t0 = time.monotonic()
        s.run("lssyscfg -r sys -F name", timeout=10)
        connect = time.monotonic() - t0
        one = timed(s, "lssyscfg -r sys -F name")
    # a command on an open transport: channel open + exec request, at least 1.5 round trips
    assert one >= 0.15 > direct
    # a new connection adds the handshake's round trips (TCP is already up: SSH's own exchanges)
    assert connect - one >= 0.3 > direct_connect
    with session(lab, "svc") as s:                               # another device: no delay
        assert min(timed(s, LSSYSTEM) for _ in range(2)) < 0.1


def test_a_suspend_that_waits_for_a_boundary_holds_production_meanwhile(lab):
    control(lab, "PUT", "/latency", {"commands": [{"device": "ibmi:PROD", "match": r"OPTION\(\*SUSPEND\)",
                                                   "seconds": 0.5, "effect": "start"}]})
    before = len(lab.world.pauses)
    with session(lab, "prod") as s:
        took = timed(s, system_line(suspend_command(30, "*CONT")))
        assert took >= 0.5
        assert lab.world.open_pauses()                           # held while it waited to answer
        timed(s, system_line(resume_command()))
    pause = lab.world.pauses[before]
    assert pause.seconds >= 0.5 and pause.how == "resumed"


def test_handshakes_and_commands_are_counted_per_device(lab):
    control(lab, "DELETE", "/stats")
    with session(lab, "svc") as s:
        for _ in range(3):
            s.run(LSSYSTEM, timeout=10)
    with session(lab, "svc") as s:
        s.run(LSSYSTEM, timeout=10)
    stats = control(lab, "GET", "/stats")
    assert stats == {"handshakes": {"svc:FS9500": 2}, "commands": {"svc:FS9500": 4}}


def test_topology_and_labctl_set_latency(lab, tmp_path, capsys):
    topology = load_topology()
    topology["latency"] = {"rtt": 0.005, "commands": [{"device": "svc", "match": "startfcconsistgrp",
                                                       "seconds": 0.1}]}
    assert Lab(topology, tmp_path / "other").world.latency.as_dict() == {
        "rtt": {"*": 0.005}, "commands": [{"device": "svc", "match": "startfcconsistgrp", "seconds": 0.1,
                                           "effect": "end"}]}
    with pytest.raises(ValueError):
        Latency.parse({"commands": [{"device": "svc", "match": "x", "seconds": 1, "effect": "later"}]})
    # flash4i labctl latency FILE / latency / clear-latency, against this lab's control API
    from flash4i_tui.cli.lab import cmd_labctl
    state = tmp_path / "state"
    state.mkdir()
    (state / "lab.json").write_text(json.dumps({"control_url": lab.endpoints.control_url}))
    rules = tmp_path / "latency.yaml"
    rules.write_text("rtt: {svc: 0.05}\ncommands:\n  - {device: svc, match: startfcconsistgrp, seconds: 1}\n")
    args = argparse.Namespace(state=str(state), action="latency", file=str(rules), since=0)
    assert cmd_labctl(args) == 0
    assert lab.world.latency.rtt_of("svc:FS9500") == 0.05
    assert lab.world.latency.delay("svc:FS9500", "svctask startfcconsistgrp FL_X").seconds == 1
    capsys.readouterr()
    assert cmd_labctl(argparse.Namespace(state=str(state), action="latency", file=None, since=0)) == 0
    assert json.loads(capsys.readouterr().out)["rtt"] == {"svc": 0.05}
    assert cmd_labctl(argparse.Namespace(state=str(state), action="clear-latency", file=None, since=0)) == 0
    assert lab.world.latency.as_dict() == {"rtt": {}, "commands": []}


def test_rest_requests_take_their_latency(tmp_path):
    with Lab(load_topology(storage="ds8000"), tmp_path / "lab", speed=SPEED) as rest:
        name = next(iter(rest.endpoints.storage_urls))
        device = f"ds8000:{name}"
        rest.world.latency.replace(Latency.parse({"commands": [{"device": "ds8000", "match": "^GET ",
                                                                "seconds": 0.3}]}))
        context = ssl.create_default_context(cafile=str(rest.tls.ca_cert))
        t0 = time.monotonic()
        try:
            urllib.request.urlopen(rest.endpoints.storage_urls[name] + "/api/v1/systems", timeout=10,
                                   context=context).read()
        except urllib.error.HTTPError:
            pass                                                # unauthenticated: the answer does not matter
        assert time.monotonic() - t0 >= 0.3
        stats = rest.world.stats.as_dict()
        assert stats["handshakes"][device] == 1 and stats["commands"][device] == 1
