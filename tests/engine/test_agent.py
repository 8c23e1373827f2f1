"""The clone agent itself: its installation (over SSH on a lab IBM i), the IPLs of production and
of clones with and without an order, the decisions it takes without I/O, and its PASE host
against fake `system` / `db2util` programs."""
from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from flash4i_tui.agent import flash4i_agent as agent
from flash4i_tui.devices.ibmi import IbmiDriver
from flash4i_tui.devices.ssh import SshSession
from flash4i_tui.engine import agentctl
from flash4i_tui.engine.order import build_order, order_bytes, order_path, status_path
from flash4i_tui.errors import SafetyRefusal

from ..lab.ibmi_support import CLONE_VOLUMES, PROD_VOLUMES, FakeLpar, Served, system, wait_for

AGENT_PATH = Path(agent.__file__)
PYTHON39 = Path("/root/.pyenv/versions/3.9.18/bin/python3.9")


# ---------------------------------------------------------------- the file


def test_the_agent_is_one_python_3_9_file_of_the_standard_library():
    source = AGENT_PATH.read_text()
    ast.parse(source, feature_version=(3, 9))          # no syntax newer than 3.9
    compile(source, str(AGENT_PATH), "exec")
    tree = ast.parse(source)
    imported = {n.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for n in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "ipaddress", "json", "os", "re", "subprocess", "sys", "time", "traceback", "datetime"}
    wrapper = agentctl.shipped_wrapper().decode()
    assert f"QSH CMD('{agent.PYTHON} {agent.AGENT_FILE} ipl')" in wrapper
    assert agent.ACTION_AREA in wrapper and agent.ORIGINAL_AREA in wrapper
    if PYTHON39.exists():
        done = subprocess.run([str(PYTHON39), "-m", "py_compile", str(AGENT_PATH)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        version = subprocess.run([str(PYTHON39), str(AGENT_PATH), "--version"], capture_output=True, text=True)
        assert version.stdout.strip() == f"flash4i agent {agent.VERSION}"


# ---------------------------------------------------------------- decisions without I/O


def _order(run_id=7, function="*NONE", clone_id=5, lpar_name="CLONE1", address="10.10.1.50", system_name="CLONE1",
           **env_extra):
    env = {"name": "TEST", "function": function,
           "clone_identity": {"system_name": system_name,
                              "interfaces": [{"address": address, "subnet_mask": "255.255.255.0", "line": "ETHLINE"}],
                              "default_route": None, "hold_job_schedules": True, "end_job_scheduler": True}}
    env.update(env_extra)
    defs = types.SimpleNamespace(
        env=env,
        source=types.SimpleNamespace(lpar_id=3, lpar_name="PROD", address="10.10.1.10", ssh_host="127.0.0.1"),
        clone=types.SimpleNamespace(lpar_id=clone_id, lpar_name=lpar_name, address=address, ssh_host="127.0.0.1"))
    return build_order(run_id, defs, {"host_name": "PROD", "serial_number": "78AB12C"})


def test_an_order_is_valid_only_for_its_partition_its_run_and_its_lifetime():
    ident = {"partition_id": 5, "partition_name": "CLONE1", "serial_number": "78AB12C", "host_name": "PROD"}
    now = agent.parse_time(_order()["created_at"])
    assert agent.order_problem(_order(), ident, now) == ""
    assert "partition 6" in agent.order_problem(_order(clone_id=6), ident, now)
    assert "partition CLONE9" in agent.order_problem(_order(lpar_name="CLONE9"), ident, now)
    assert "run id" in agent.order_problem(dict(_order(), run_id=None), ident, now)
    assert "unknown function" in agent.order_problem(_order(function="*FOO"), ident, now)
    assert "expired" in agent.order_problem(_order(), ident, now + timedelta(hours=25))
    accepted = _order()
    accepted["agent"] = {"stage": "RESTARTING"}
    assert agent.order_problem(accepted, ident, now + timedelta(hours=25)) == ""      # a long save may end late
    assert "version" in agent.order_problem(dict(_order(), version=2), ident, now)
    assert agent.identity_problem(_order()) == ""
    assert "production's address 10.10.1.10" in agent.identity_problem(_order(address="10.10.1.10"))
    assert "production's system name PROD" in agent.identity_problem(_order(system_name="PROD"))


def test_production_is_the_recorded_partition_id_and_serial():
    record = {"production": {"partition_id": 3, "serial_number": "78AB12C"}}
    assert agent.is_production(record, {"partition_id": 3, "serial_number": "78AB12C"})
    assert not agent.is_production(record, {"partition_id": 5, "serial_number": "78AB12C"})
    assert not agent.is_production(record, {"partition_id": 3, "serial_number": "99ZZ999"})    # same id, other frame
    assert not agent.is_production(None, {"partition_id": 3, "serial_number": "78AB12C"})
    assert agent.qualified("QSTRUP    QSYS") == "QSYS/QSTRUP" and agent.qualified("*NONE") == "*NONE"
    assert agent.sysval_form("FLASH4I/FLSTRUP") == "FLSTRUP   FLASH4I   "


# ---------------------------------------------------------------- installation over SSH (lab IBM i)


@pytest.fixture
def served(tmp_path):
    served = Served(tmp_path)
    yield served
    served.stop()


def _driver(served):
    return IbmiDriver(SshSession(served.endpoint()), "PROD")


def _partition(served, lpar_id=3):
    return types.SimpleNamespace(name="PROD", lpar_id=lpar_id, lpar_name="PROD", ssh_host="127.0.0.1",
                                 ssh_port=served.port)


ORIGINAL_STARTUP = """
PGM
  CRTDTAARA DTAARA(QGPL/STARTED) TYPE(*CHAR) LEN(10) VALUE('YES')
  MONMSG MSGID(CPF0000)
  CALL PGM(QSYS/QSTRUP)
ENDPGM
"""


def _own_startup_program(prod):
    prod.state.ifs.write("/home/strup.clle", ORIGINAL_STARTUP.encode())
    for command in ("CRTBNDCL PGM(APPPGM/STRUP) SRCSTMF('/home/strup.clle')",
                    "CHGSYSVAL SYSVAL(QSTRUPPGM) VALUE('STRUP     APPPGM    ')"):
        assert system(prod, command)[2] == 0


@pytest.mark.lab
def test_install_keeps_the_original_startup_program_and_production_chains_to_it(served):
    prod, lab = served.prod, served.lab
    _own_startup_program(prod)
    ibmi, part = _driver(served), _partition(served)
    with pytest.raises(SafetyRefusal):
        agentctl.install_on(ibmi, _partition(served, lpar_id=9), None)      # not the partition at that address
    assert prod.state.ifs.node(agent.INSTALL_RECORD) is None
    assert "original startup program APPPGM/STRUP" in agentctl.install_on(ibmi, part, None)
    assert "original startup program APPPGM/STRUP" in agentctl.install_on(ibmi, part, None)   # idempotent
    record = json.loads(prod.state.ifs.read(agent.INSTALL_RECORD))
    assert record["original_startup_program"] == "APPPGM/STRUP" and record["strtcp_before"] == "*YES"
    assert prod.state.system_values["QSTRUPPGM"] == "FLASH4I/FLSTRUP"
    assert prod.state.ipl_attributes["STRTCP"] == "*NO"
    assert prod.state.libraries["FLASH4I"].get("FLSTRUP", "*PGM") is not None
    assert agentctl.findings_on(ibmi, part) == []
    ibmi.session.close()
    # production IPLs again: the agent changes nothing, starts TCP/IP as before, chains to APPPGM/STRUP
    prod.power_down(None, "*IMMED", restart=False)
    again = lab.boot(PROD_VOLUMES, FakeLpar("P10-PROD", "PROD", 3))
    wait_for(lambda: "QBATCH" in again.subsystems)
    assert again.state.libraries["QGPL"].get("STARTED", "*DTAARA") is not None      # the original ran
    assert again.tcp_active and again.interfaces == {"10.10.1.10": "ACTIVE"}
    assert again.state.sysname == "PROD" and again.state.system_values["QSTRUPPGM"] == "FLASH4I/FLSTRUP"
    assert again.state.libraries["FLASH4I"].get("FLSTRACT", "*DTAARA").value == "*CHAIN"
    assert [e.status for e in again.state.schedule] == ["SCD", "SCD"]
    assert not lab.world.conflicts


@pytest.mark.lab
def test_check_finds_every_missing_piece(served):
    prod = served.prod
    ibmi, part = _driver(served), _partition(served)
    assert any("no install record" in f for f in agentctl.findings_on(ibmi, part))
    agentctl.install_on(ibmi, part, None)
    prod.state.ifs.write(agent.AGENT_FILE, agentctl.shipped_agent() + b"\n# changed\n")
    assert system(prod, "CHGSYSVAL SYSVAL(QSTRUPPGM) VALUE('QSTRUP    QSYS      ')")[2] == 0
    del prod.state.libraries["FLASH4I"].objects["FLSTRUP.PGM"]
    found = agentctl.findings_on(ibmi, part)
    assert any("differs from the shipped agent" in f for f in found)
    assert any("QSTRUPPGM is QSYS/QSTRUP" in f for f in found)
    assert any("*PGM FLASH4I/FLSTRUP is missing" in f for f in found)
    with pytest.raises(SafetyRefusal) as refused:
        agentctl.verify_installed(ibmi, part)
    assert "source partition PROD" in str(refused.value)
    ibmi.session.close()


def _install_with_order(served, order=None):
    ibmi, part = _driver(served), _partition(served)
    agentctl.install_on(ibmi, part, None)
    ibmi.session.close()
    if order is not None:
        served.prod.state.ifs.make_dirs(agent.ORDERS)
        served.prod.state.ifs.write(order_path(order["clone"]["partition_id"]), order_bytes(order))
    served.lab.flash(PROD_VOLUMES, CLONE_VOLUMES)


def _status(state, run_id):
    node = state.ifs.node(status_path(run_id))
    return json.loads(node.data) if node is not None else {}


@pytest.mark.lab
def test_a_clone_with_an_order_reidentifies_restarts_comes_up_as_itself_and_never_replays_it(served):
    lab = served.lab
    _install_with_order(served, _order(run_id=7, function="*NONE"))
    lpar = FakeLpar("P10-PROD", "CLONE1", 5)
    first = lab.boot(CLONE_VOLUMES, lpar)
    assert lpar.powered_off.wait(10) and lpar.power_offs == [(True, True)]     # PWRDWNSYS RESTART(*YES)
    disk = lab.array.volume("CLN1_001").content.state
    assert disk.network.pending_sysname == "CLONE1" and set(disk.interfaces) == {"10.10.1.50"}
    assert [e.status for e in disk.schedule] == ["HLD", "HLD"] and not disk.ajs.monitor_enabled
    assert not first.tcp_active and not lab.world.conflicts
    second = lab.boot(CLONE_VOLUMES, lpar)                   # the HMC restarts the partition
    wait_for(lambda: _status(second.state, 7).get("state") == "succeeded")
    assert second.state.sysname == "CLONE1" and second.interfaces == {"10.10.1.50": "ACTIVE"}
    assert second.ssh_active and set(second.subsystems) == {"QCTL", "QSYSWRK", "QUSRWRK"}     # never QBATCH
    order = json.loads(second.state.ifs.read(order_path(5)))
    assert order["agent"]["stage"] == "RUNNING" and order["agent"]["consumed_at"]
    assert served.prod.state.sysname == "PROD" and not lab.world.conflicts
    # a later IPL finds the order used: restricted state, with a message
    second.power_down(None, "*IMMED", restart=False)
    third = lab.boot(CLONE_VOLUMES, lpar)
    wait_for(lambda: any("already used" in m.text for m in third.state.message_queues["QSYSOPR"]))
    wait_for(lambda: not any(j.rec.name == "QSTRUPJD" for j in third.jobs.values()))
    assert set(third.subsystems) == {"QCTL"} and not third.tcp_active
    assert any("restricted state" in m.text for m in third.state.qhst)


@pytest.mark.lab
def test_a_clone_without_a_valid_order_stays_in_restricted_state(served):
    lab = served.lab
    expired = _order(run_id=8, function="*BRMS", brms={"control_groups": ["DAILY"]})
    expired["expires_at"] = "2000-01-01T00:00:00Z"
    _install_with_order(served, expired)
    lpar = FakeLpar("P10-PROD", "CLONE1", 5)
    clone = lab.boot(CLONE_VOLUMES, lpar)
    wait_for(lambda: clone.state.libraries["FLASH4I"].get("FLSTRACT", "*DTAARA").value == "*HOLD")
    wait_for(lambda: not any(j.rec.name == "QSTRUPJD" for j in clone.jobs.values()))
    assert set(clone.subsystems) == {"QCTL"} and not clone.tcp_active and not lpar.power_offs
    assert clone.state.sysname == "PROD" and [e.status for e in clone.state.schedule] == ["SCD", "SCD"]
    assert any("expired" in m.text for m in clone.state.message_queues["QSYSOPR"])
    assert _status(clone.state, 8)["state"] == "restricted"
    assert not lab.world.conflicts


@pytest.mark.lab
def test_a_clone_never_starts_productions_address_even_when_its_order_names_it(served):
    lab = served.lab
    _install_with_order(served, _order(run_id=9, address="10.10.1.10"))
    lpar = FakeLpar("P10-PROD", "CLONE1", 5)
    clone = lab.boot(CLONE_VOLUMES, lpar)
    wait_for(lambda: _status(clone.state, 9).get("state") == "restricted")
    assert "production's address" in _status(clone.state, 9)["message"]
    wait_for(lambda: not any(j.rec.name == "QSTRUPJD" for j in clone.jobs.values()))
    assert not clone.tcp_active and not lpar.power_offs and not lab.world.conflicts
    assert lab.world.network.owner("10.10.1.10") is served.prod
    assert clone.state.network.pending_sysname is None                       # refused before any change
    assert [e.status for e in clone.state.schedule] == ["SCD", "SCD"]


@pytest.mark.lab
def test_the_wrapper_holds_the_system_when_the_agent_cannot_run(served):
    lab = served.lab
    _install_with_order(served, None)
    lab.array.volume("CLN1_001").content.state.ifs.remove(agent.AGENT_FILE)     # python cannot open it
    clone = lab.boot(CLONE_VOLUMES, FakeLpar("P10-PROD", "CLONE1", 5))
    wait_for(lambda: any("gave no decision" in m.text for m in clone.state.message_queues["QSYSOPR"]))
    assert set(clone.subsystems) == {"QCTL"} and not clone.tcp_active
    assert clone.state.libraries["FLASH4I"].get("FLSTRACT", "*DTAARA").value == "*UNKNOWN"


# ---------------------------------------------------------------- the PASE host (the real-system code path)


FAKE_SYSTEM = """#!/bin/sh
printf '%s\\n' "$1" >> "{log}"
case "$1" in
  CHKOBJ*) echo "CPF9801: Object not found." >&2; exit 255 ;;
  STRTCP*) echo "TCP1A12: TCP/IP already active." >&2; exit 255 ;;
  *) echo "CPC0000: done."; exit 0 ;;
esac
"""

FAKE_DB2UTIL = """#!/bin/sh
case "$1" in
  *SYSTEM_STATUS_INFO*) echo '{{"records":[{{"HOST_NAME":"PROD","PARTITION_ID":"{pid}","PARTITION_NAME":"{name}","SERIAL_NUMBER":"78AB12C"}}]}}' ;;
  *ACTIVE_JOB_INFO*JOB_NAME_FILTER*) echo '{{"records":[{{"JOB_NAME":"123456/QPGMR/QSTRUPJD"}}]}}' ;;
  *ACTIVE_JOB_INFO*) echo '{{"records":[{{"JOB_NAME_SHORT":"QCTL"}}]}}' ;;
  *SYSTEM_VALUE_INFO*) [ "$5" = QSTRUPPGM ] && echo '{{"records":[{{"CURRENT_CHARACTER_VALUE":"FLSTRUP   FLASH4I"}}]}}' \\
                      || echo '{{"records":[{{"CURRENT_CHARACTER_VALUE":"QCTL      QSYS"}}]}}' ;;
  *) echo "SQL0204: unknown" >&2; exit 1 ;;
esac
"""


def _fake_pase(tmp_path: Path, partition_id: int, name: str):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "system.log"
    for program, text in (("system", FAKE_SYSTEM.format(log=log)),
                          ("db2util", FAKE_DB2UTIL.format(pid=partition_id, name=name))):
        path = bin_dir / program
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    root = tmp_path / "ifs"
    (root / "QOpenSys" / "flash4i").mkdir(parents=True, exist_ok=True)
    host = agent.PaseHost(root=str(root), system=str(bin_dir / "system"), db2util=str(bin_dir / "db2util"))
    return host, root, log


def test_pase_host_on_a_clone_without_order_holds_the_system(tmp_path):
    host, root, log = _fake_pase(tmp_path, 5, "CLONE1")
    assert agent.main(["ipl"], host=host) == agent.EXIT_HOLD
    commands = log.read_text().splitlines()
    assert commands[0] == "ENDTCP OPTION(*IMMED)"
    assert any(c.startswith("SNDMSG MSG('flash4i agent: kept in restricted state: no clone order") and
               c.endswith("TOUSR(*SYSOPR)") for c in commands)
    assert commands[-1] == "CHGDTAARA DTAARA(FLASH4I/FLSTRACT) VALUE('*HOLD')"
    assert "decision *HOLD" in (root / "QOpenSys/flash4i/logs/agent.log").read_text()


def test_pase_host_on_production_starts_tcp_and_chains(tmp_path, capsys):
    host, root, log = _fake_pase(tmp_path, 3, "PROD")
    record = {"production": {"partition_id": 3, "serial_number": "78AB12C"}, "strtcp_before": "*YES",
              "strtcp_set": "*NO", "original_startup_program": "QSYS/QSTRUP"}
    (root / "QOpenSys/flash4i/agent.json").write_text(json.dumps(record))
    assert agent.main(["ipl"], host=host) == agent.EXIT_CHAIN
    assert log.read_text().splitlines() == ["STRTCP", "CHGDTAARA DTAARA(FLASH4I/FLSTRACT) VALUE('*CHAIN')"]
    log.write_text("")
    assert agent.main(["check"], host=host) == agent.EXIT_ERROR       # the fake CHKOBJ finds nothing
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["production"] is True and report["startup_program"] == "FLASH4I/FLSTRUP"
    assert "*PGM FLASH4I/FLSTRUP is missing" in report["problems"]
    host.write_file("/QOpenSys/flash4i/x.json", b"{}")
    assert host.read_file("/QOpenSys/flash4i/x.json") == b"{}" and "x.json" in host.list_dir("/QOpenSys/flash4i")
    assert host.read_file("/QOpenSys/flash4i/none") is None and not os.path.exists("/QOpenSys/flash4i/x.json")


@pytest.mark.parametrize("path,value", [
    (("clone", "system_name"), "X') PWRDWNSYS"),
    (("clone", "interfaces", 0, "line"), "ETH; rm"),
    (("clone", "interfaces", 0, "address"), "10.0.0.1') DLTLIB"),
    (("brms", "control_groups", 0), "DAILY) CALL X"),
])
def test_order_with_unsafe_values_is_refused(path, value):
    """The agent checks the order itself before it builds CL from it (the order is a file on the IFS)."""
    now = datetime(2026, 11, 25, tzinfo=timezone.utc)
    order = {"version": agent.ORDER_VERSION, "run_id": 7, "function": "*BRMS",
             "expires_at": "2026-11-26T00:00:00Z",
             "clone": {"partition_id": 5, "lpar_name": "CLONE1", "system_name": "CLONE1",
                       "interfaces": [{"address": "10.10.1.50", "subnet_mask": "255.255.255.0", "line": "ETHLINE"}]},
             "brms": {"control_groups": ["DAILY"], "option": "*FLASHCOPY", "save_file": "FLASH4I/QUSRBRM"}}
    ident = {"partition_id": 5, "partition_name": "CLONE1"}
    assert agent.order_problem(order, ident, now) == ""
    target = order
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert "refused" in agent.order_problem(order, ident, now)
