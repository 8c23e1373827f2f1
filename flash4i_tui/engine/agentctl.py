"""Installing and verifying the clone agent on a source partition, over SSH/SFTP.

`flash4i agent install PARTITION` uploads the agent and the CL wrapper's source, compiles the
wrapper (CRTBNDCL), records the original startup program and the IPL attribute STRTCP in the
install record (/QOpenSys/flash4i/agent.json) and in data area FLASH4I/FLSTRORG, sets
STRTCP(*NO) (a clone must never bring production's addresses up by itself) and points
QSTRUPPGM at the wrapper. Installing again refreshes the files and keeps what the first install
recorded, so the original startup program is never lost.

`flash4i agent check PARTITION` and the CHECK step of every run that starts a clone verify it:
the install record names this partition, the agent file is the shipped one, Python runs it on
the partition, and the agent's self-check finds the wrapper, its data areas and QSTRUPPGM.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import List, Optional

from ..agent import flash4i_agent as agent
from ..errors import DeviceError, Flash4iError, NotFound, SafetyRefusal, ValidationError
from ..cl import ClStr, cl_command
from ..resources import data_file
from ..store import models as m
from ..store.db import utcnow

WRAPPER_SOURCE = f"{agent.AGENT_DIR}/flstrup.clle"
WRAPPER_SOURCE_NAME = "flstrup.clle"
# IBM i has no SQL service the references confirm for the IPL attributes, so the install cannot
# read STRTCP before it changes it: the operator states it (default: the shipped *YES) [U].
STRTCP_VALUES = ("*YES", "*NO")


def shipped_agent() -> bytes:
    return Path(agent.__file__).read_bytes()


def shipped_wrapper() -> bytes:
    return data_file(WRAPPER_SOURCE_NAME).read_bytes()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _partition(name: str) -> m.Partition:
    row = m.Partition.get_or_none(m.Partition.name == name)
    if row is None:
        raise NotFound(f"partition {name} not found")
    return row


def _driver(partition: m.Partition):
    from ..devices.ibmi import IbmiDriver
    from ..devices.ssh import SshSession
    from .context import ibmi_endpoint
    return IbmiDriver(SshSession(ibmi_endpoint(partition)), partition.name)


def _read_json(ibmi, path: str) -> Optional[dict]:
    data = ibmi.read_file(path)
    if data is None:
        return None
    try:
        value = json.loads(data.decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _cl_tolerating(ibmi, command: str, *tolerated: str) -> None:
    from ..devices.ibmi import ClError
    try:
        ibmi.cl(command)
    except ClError as exc:
        if exc.msg_id not in tolerated:
            raise


def startup_program(ibmi) -> str:
    """QSTRUPPGM as LIB/PGM (or *NONE)."""
    rows = ibmi.sql("SELECT CURRENT_CHARACTER_VALUE FROM QSYS2.SYSTEM_VALUE_INFO WHERE SYSTEM_VALUE_NAME = ?",
                    ("QSTRUPPGM",))
    return agent.qualified(rows[0].get("CURRENT_CHARACTER_VALUE") if rows else "")


# ------------------------------------------------------------------ install


def install_on(ibmi, partition: m.Partition, strtcp_before: Optional[str] = None) -> str:
    """Install (or refresh) the agent on the system behind IBMI, which must be PARTITION."""
    if strtcp_before is not None and strtcp_before not in STRTCP_VALUES:
        raise ValidationError(f"{strtcp_before!r} is not an STRTCP value ({', '.join(STRTCP_VALUES)})")
    info = ibmi.system_info()
    if info["partition_id"] != partition.lpar_id:
        raise SafetyRefusal(f"the IBM i at {partition.ssh_host}:{partition.ssh_port} is partition "
                            f"{info['partition_id']}, not {partition.name} (id {partition.lpar_id}): nothing installed")
    previous = _read_json(ibmi, agent.INSTALL_RECORD)
    current = startup_program(ibmi)
    if previous is not None and previous.get("original_startup_program"):
        # installed before: what the first install recorded stays (QSTRUPPGM is the wrapper by now)
        original = previous["original_startup_program"]
        before = previous.get("strtcp_before") or strtcp_before or "*YES"
    elif current == agent.WRAPPER:
        raise Flash4iError(f"{partition.name}: QSTRUPPGM is already {agent.WRAPPER} but there is no install record "
                           f"({agent.INSTALL_RECORD}): the original startup program is unknown. Set QSTRUPPGM back "
                           "to it, then install again")
    else:
        original, before = current, strtcp_before or "*YES"
    agent_bytes = shipped_agent()
    for folder in ("", "/orders", "/status", "/logs"):
        ibmi.make_dirs(agent.AGENT_DIR + folder)
    ibmi.write_file(agent.AGENT_FILE, agent_bytes, mode=0o755)
    ibmi.write_file(WRAPPER_SOURCE, shipped_wrapper())
    lib, _, program = agent.WRAPPER.partition("/")
    _cl_tolerating(ibmi, cl_command("CRTLIB", LIB=lib, TEXT=ClStr("flash4i clone agent")), "CPF2111")
    ibmi.cl(cl_command("CRTBNDCL", PGM=agent.WRAPPER, SRCSTMF=ClStr(WRAPPER_SOURCE), REPLACE="*YES"))
    _data_area(ibmi, agent.ORIGINAL_AREA, 20, "*NONE" if original == "*NONE" else agent.sysval_form(original))
    _data_area(ibmi, agent.ACTION_AREA, 10, "*UNKNOWN")
    record = {
        "version": 1, "agent_version": agent.VERSION, "agent_sha256": digest(agent_bytes),
        "installed_at": (previous or {}).get("installed_at") or utcnow().isoformat() + "Z",
        "refreshed_at": utcnow().isoformat() + "Z",
        "production": {"partition_id": info["partition_id"], "partition_name": info.get("partition_name"),
                       "serial_number": info.get("serial_number"), "system_name": info.get("host_name"),
                       "lpar_name": partition.lpar_name},
        "original_startup_program": original, "strtcp_before": before, "strtcp_set": "*NO",
        "wrapper": agent.WRAPPER, "python": ibmi.python,
    }
    ibmi.write_file(agent.INSTALL_RECORD, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
    ibmi.cl(cl_command("CHGIPLA", STRTCP="*NO"))
    if current != agent.WRAPPER:
        ibmi.cl(cl_command("CHGSYSVAL", SYSVAL="QSTRUPPGM", VALUE=ClStr(agent.sysval_form(agent.WRAPPER))))
    problems = findings_on(ibmi, partition)
    if problems:
        raise DeviceError(partition.name, "flash4i agent check",
                          "installed, but the check finds: " + "; ".join(problems))
    return (f"agent {agent.VERSION} installed on {partition.name} (partition {partition.lpar_id}): QSTRUPPGM "
            f"{agent.WRAPPER}, original startup program {original}; STRTCP(*NO) (was {before})")


def _data_area(ibmi, name: str, length: int, value: str) -> None:
    from ..devices.ibmi import ClError
    try:
        ibmi.cl(cl_command("CHKOBJ", OBJ=name, OBJTYPE="*DTAARA"))
    except ClError as exc:
        if exc.msg_id != "CPF9801":
            raise
        ibmi.cl(cl_command("CRTDTAARA", DTAARA=name, TYPE="*CHAR", LEN=length, VALUE=ClStr(value),
                           TEXT=ClStr("flash4i startup wrapper")))
        return
    ibmi.cl(cl_command("CHGDTAARA", DTAARA=name, VALUE=ClStr(value)))


# ------------------------------------------------------------------ check


def findings_on(ibmi, partition: m.Partition) -> List[str]:
    """What is wrong with the agent's installation on PARTITION (empty when it is ready)."""
    found: List[str] = []
    record = _read_json(ibmi, agent.INSTALL_RECORD)
    if record is None:
        found.append(f"no install record {agent.INSTALL_RECORD}: run `flash4i agent install {partition.name}`")
    elif (record.get("production") or {}).get("partition_id") != partition.lpar_id:
        found.append(f"the install record names partition {(record.get('production') or {}).get('partition_id')}, "
                     f"not {partition.name} (id {partition.lpar_id})")
    elif str(record.get("strtcp_set", "")).upper() != "*NO":
        found.append("the install record does not show the IPL attribute STRTCP(*NO)")
    remote = ibmi.read_file(agent.AGENT_FILE)
    if remote is None:
        found.append(f"the agent file {agent.AGENT_FILE} is missing")
        return found
    if digest(remote) != digest(shipped_agent()):
        found.append(f"the agent file {agent.AGENT_FILE} differs from the shipped agent {agent.VERSION} "
                     f"(sha256 {digest(remote)[:12]}, shipped {digest(shipped_agent())[:12]}): install again")
    result = ibmi.run_script(agent.AGENT_FILE, ["check"], timeout=120)
    try:
        report = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        found.append(f"{ibmi.python} cannot run the agent (exit {result.exit_status}): "
                     f"{(result.stderr or result.stdout).strip()[:300]}")
        return found
    found.extend(p for p in report.get("problems", []) if p not in found)
    return found


def check_agent(partition_name: str) -> List[str]:
    """Findings about the agent on the partition (an empty list: installed and ready)."""
    partition = _partition(partition_name)
    ibmi = _driver(partition)
    try:
        return findings_on(ibmi, partition)
    finally:
        ibmi.session.close()


def install_agent(partition_name: str, strtcp_before: Optional[str] = None) -> str:
    partition = _partition(partition_name)
    ibmi = _driver(partition)
    try:
        return install_on(ibmi, partition, strtcp_before)
    finally:
        ibmi.session.close()


def verify_installed(ibmi, partition: m.Partition) -> None:
    """CHECK: refuse a run whose source does not carry a working agent (before any change)."""
    problems = findings_on(ibmi, partition)
    if problems:
        raise SafetyRefusal(f"the clone agent on source partition {partition.name} is not ready: "
                            + "; ".join(problems))
