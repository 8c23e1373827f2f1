"""The clone order: what the clone must become, written on the source before the flash.

The order lands in the source's IFS, so the FlashCopy carries it to the clone, which reads
it at IPL. Orders are keyed by the clone's partition id: one production can feed several
clones without one clone ever reading another's order. The agent on the clone checks the
partition id, the run id and the expiry before acting on it.
"""
from __future__ import annotations

import json
from datetime import timedelta

from ..agent import flash4i_agent as agent
from ..store.db import utcnow
from .context import Defs

AGENT_DIR = agent.AGENT_DIR              # the agent's folder on IBM i (agent, orders, status, logs)
ORDER_LIFETIME = timedelta(hours=24)     # an order older than this is ignored by the agent
# What the restarted clone starts for the function (never QBATCH, so no production batch work
# runs there), and where the function job of *BRMS and *USER is submitted (served by QSYSWRK).
CLONE_SUBSYSTEMS = list(agent.CLONE_SUBSYSTEMS)
FUNCTION_JOB_QUEUE = agent.FUNCTION_JOB_QUEUE


def order_path(clone_lpar_id: int, agent_dir: str = AGENT_DIR) -> str:
    return f"{agent_dir}/orders/lpar{clone_lpar_id}.json"


def resumed_path(clone_lpar_id: int, agent_dir: str = AGENT_DIR) -> str:
    """The marker written on production once it is resumed: a copy that holds this run's marker
    was taken after the window (the clone's proof, see the agent's `proof`)."""
    return agent.RESUMED_MARKER % (agent_dir, clone_lpar_id)


def status_path(run_id: int, agent_dir: str = AGENT_DIR) -> str:
    return f"{agent_dir}/status/run{run_id}.json"


def build_order(run_id: int, defs: Defs, source_info: dict) -> dict:
    """The order document (plain JSON) for the agent on the clone."""
    env = defs.env
    ident = env["clone_identity"]
    now = utcnow()
    return {
        "version": agent.ORDER_VERSION,
        "run_id": run_id,
        "environment": env["name"],
        "function": env["function"],
        "created_at": now.isoformat() + "Z",
        "expires_at": (now + ORDER_LIFETIME).isoformat() + "Z",
        "source": {
            "partition_id": defs.source.lpar_id,
            "lpar_name": defs.source.lpar_name,
            "system_name": source_info.get("host_name"),
            "serial_number": source_info.get("serial_number"),
            # production's address: the agent refuses to start it on the clone
            "address": defs.source.address or defs.source.ssh_host,
        },
        "clone": {
            "partition_id": defs.clone.lpar_id,
            "lpar_name": defs.clone.lpar_name,
            "system_name": ident["system_name"],
            "interfaces": ident["interfaces"],
            "default_route": ident["default_route"],
            "address": defs.clone.address or defs.clone.ssh_host,
        },
        "hold": {
            "job_schedule_entries": ident["hold_job_schedules"],
            "advanced_job_scheduler": ident["end_job_scheduler"],
        },
        "brms": env.get("brms"),
        "save21": env.get("save21"),
        "user": env.get("user"),
        "status_path": status_path(run_id),
        "start_subsystems": list(CLONE_SUBSYSTEMS),
        "function_job_queue": FUNCTION_JOB_QUEUE,
        # what the agent reads on the clone for its proof (journal markers, object counts)
        "proof": {"journals": list((env.get("proof") or {}).get("journals") or []),
                  "libraries": list((env.get("proof") or {}).get("libraries") or [])},
    }


def order_bytes(order: dict) -> bytes:
    return (json.dumps(order, indent=2, sort_keys=True) + "\n").encode()
