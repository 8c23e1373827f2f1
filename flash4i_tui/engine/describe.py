"""`flash4i plan ENV`: the steps of a run and the exact command lines (or REST requests) each
sends, with the environment's values. It touches no device: every line comes from the same
builders the drivers use to send it, so what is printed is what a run sends. Lines that depend
on what the devices answer (the hdisk a volume gets on the VIOS, old mappings to clean up) say so.
"""
from __future__ import annotations

from typing import Dict, List

from ..config.store_io import environment_record
from ..devices import ibmi as ibmi_cmds
from ..devices.hmc import HmcDriver
from ..devices.storage import driver_class
from ..devices.storage.base import VolumePair
from ..store.queries import environment
from .context import Defs
from .functions import brms_restore_commands, logs_folder
from .generations import run_snapshot
from .order import order_path, status_path
from .plan import plan_for


def _storage_lines(defs: Defs, group: str, rate: int) -> Dict[str, List[tuple]]:
    """The storage's command lines (svc) or requests (REST families) of each step, by step name,
    as its driver describes them."""
    storage = defs.storage
    pairs = [VolumePair(s, t) for s, t in defs.pairs]
    lines = driver_class(storage.type).plan_commands(group, pairs, rate, storage.user, storage.options or {})
    return {step: [(storage.name, line) for line in step_lines] for step, step_lines in lines.items()}


def describe_plan(env_name: str) -> dict:
    env_row = environment(env_name)
    defs = Defs.load(run_snapshot(env_row, environment_record(env_row)))    # the generation the next run takes
    env = defs.env
    src, clone = defs.source, defs.clone
    hmc_src, hmc_clone = src.managed_system.hmc.name, clone.managed_system.hmc.name
    sys_src, sys_clone = src.managed_system.name, clone.managed_system.name
    group = env["consistency_group"]
    rate = env["copy"]["rate"]
    attach = env["attach"]
    q = env["quiesce"]

    def ibmi(command: str) -> str:
        return ibmi_cmds.system_line(command)

    store = _storage_lines(defs, group, rate)

    lines: Dict[str, List[tuple]] = {
        "CHECK": [(hmc_src, HmcDriver.describe_lpars(sys_src, src.lpar_name)),
                  (hmc_clone, HmcDriver.describe_lpars(sys_clone, clone.lpar_name)),
                  (src.name, ibmi_cmds.db2util_line(
                      "SELECT HOST_NAME, PARTITION_ID, PARTITION_NAME, SERIAL_NUMBER FROM QSYS2.SYSTEM_STATUS_INFO"))]
                 + store["CHECK"],
        "STOP_CLONE": [(hmc_clone, HmcDriver.describe_shutdown(sys_clone, clone.lpar_name, immediate=True)
                        + "   (only if it is not Not Activated; then polled until it is)")],
        "UNMAP_VIOS": [(hmc_clone, HmcDriver.describe_vios(sys_clone, attach["vios"] or "-",
                                                           "rmdev -dev <hdisk of each target> -recursive"))]
        if defs.vscsi else [],
        "PREPARE_FLASH": store["PREPARE_FLASH"],
        "WRITE_CLONE_ORDER": [(src.name, f"sftp put {order_path(clone.lpar_id)} (run id, clone partition "
                                         f"{clone.lpar_id}, system name {env['clone_identity']['system_name']}, "
                                         f"{len(env['clone_identity']['interfaces'])} interfaces)")],
        "QUIESCE": [(src.name, ibmi(ibmi_cmds.force_write_command())),
                    (src.name, ibmi(ibmi_cmds.suspend_command(q["timeout"], q["action"])))],
        "FLASH": store["FLASH"],
        "RESUME": [(src.name, ibmi(ibmi_cmds.resume_command()) + "   (on every path out of QUIESCE)")],
        "ACTIVATE_TARGETS": store.get("ACTIVATE_TARGETS", []),
        "MAP_VIOS": [(hmc_clone, HmcDriver.describe_vios(sys_clone, attach["vios"] or "-", "cfgdev")),
                     (hmc_clone, HmcDriver.describe_vios(sys_clone, attach["vios"] or "-",
                                                         f"mkvdev -vdev <hdisk of each target> -vadapter "
                                                         f"{attach['vhost']}"))] if defs.vscsi else [],
        "START_CLONE": [(hmc_clone, HmcDriver.describe_activate(sys_clone, clone.lpar_name, clone.profile)),
                        (hmc_clone, HmcDriver.describe_refcode(sys_clone, clone.lpar_name)
                         + f"   (polled until Running 00000000, at most {env['ipl_timeout']}s)")],
        "FUNCTION": [(clone.name, f"sftp get {status_path(0).replace('run0', 'run<id>')} (the agent's progress, "
                                  f"until {env['function']} ends)")]
        + ([(src.name, ibmi(cl)) for cl in brms_restore_commands(env["brms"], env["brms"]["save_file"])]
           if defs.function == "*BRMS" else []),
        "COLLECT_LOGS": [(clone.name, "db2util: QSYS2.HISTORY_LOG_INFO since the flash; QSYS2.JOBLOG_INFO of the "
                                      "function's job; sftp get the agent's log"),
                         (src.name, f"sftp put {logs_folder(0).replace('run0', 'run<id>')}/qhst.txt, joblog.txt, "
                                    "agent.log")],
        "FINISH": ([(hmc_clone, HmcDriver.describe_shutdown(sys_clone, clone.lpar_name, immediate=True))]
                   if defs.starts_clone and env["stop_clone_after"] else [])
        + store["FINISH"],
    }
    steps = []
    for stepdef in plan_for(defs):
        applies = stepdef.applies(defs)
        steps.append({
            "name": stepdef.name,
            "bound_seconds": stepdef.bound(defs),
            "skipped": "" if applies else stepdef.skip_reason(defs),
            "commands": [{"device": d, "command": c} for d, c in lines[stepdef.name]] if applies else [],
        })
    return {"environment": env["name"], "function": env["function"], "steps": steps}
