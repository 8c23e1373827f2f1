"""Shared by the lab benchmarks: start a lab, point a fresh store at it, run environments in this
process (as a worker would), read the lab's ground truth. Not a benchmark itself."""
from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flash4i_tui.config.store_io import import_config, load_config_file  # noqa: E402
from flash4i_tui.engine import runner  # noqa: E402
from flash4i_tui.engine.queue import submit_run  # noqa: E402
from flash4i_tui.lab.faults import Latency  # noqa: E402
from flash4i_tui.lab.server import Lab, load_topology  # noqa: E402
from flash4i_tui.store import models as m  # noqa: E402
from flash4i_tui.store import open_store  # noqa: E402

__all__ = ["Lab", "load_topology", "Latency", "m", "start_lab", "run_now", "mmm", "fmt_mmm", "machine",
           "latency", "new_pauses", "REPO"]


def start_lab(topology: dict, folder: Path, speed: float) -> Lab:
    """LAB started, its configuration imported into a fresh SQLite store in FOLDER."""
    lab = Lab(topology, folder / "lab", speed=speed).start()
    config = lab.write_config(folder / "lab.yaml")
    open_store(f"sqlite:///{folder / 'store.db'}")
    import_config(load_config_file(config))
    return lab


def run_now(env: str, poll: float = 0.05) -> m.Run:
    run = submit_run(env, "bench")
    m.Run.update(state="RUNNING", worker="bench").where(m.Run.id == run.id).execute()
    runner.execute(run.id, threading.Event(), poll=poll)
    return m.Run.get_by_id(run.id)


def latency(start: float = 0.0, rtt: float = 0.0, suspend: float = 0.0, prepare: float = 0.0) -> Latency:
    """SVC startfcconsistgrp START seconds (prestartfcconsistgrp PREPARE), every SSH device RTT away,
    IBM i's CHGASPACT *SUSPEND waiting SUSPEND seconds for a boundary (production held meanwhile)."""
    commands = []
    if start:
        commands.append({"device": "svc", "match": r"(^|\s)startfcconsistgrp", "seconds": start})
    if prepare:
        commands.append({"device": "svc", "match": "prestartfcconsistgrp", "seconds": prepare})
    if suspend:
        commands.append({"device": "ibmi", "match": r"OPTION\(\*SUSPEND\)", "seconds": suspend, "effect": "start"})
    return Latency.parse({"rtt": {"*": rtt} if rtt else {}, "commands": commands})


def new_pauses(lab: Lab, since: int, kind: str = "asp_suspend") -> list:
    with lab.world.lock:
        return [p for p in lab.world.pauses[since:] if p.kind == kind]


def mmm(values: Sequence[float]) -> tuple:
    values = list(values)
    return (min(values), statistics.median(values), max(values)) if values else (float("nan"),) * 3


def fmt_mmm(values: Sequence[float], scale: float = 1000.0, digits: int = 0) -> str:
    lo, med, hi = mmm(values)
    return f"{lo * scale:.{digits}f} / {med * scale:.{digits}f} / {hi * scale:.{digits}f}"


def machine() -> str:
    def sh(cmd: str) -> str:
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return "?"
    import paramiko
    import peewee
    model = sh("lscpu | sed -n 's/^Model name: *//p'")
    mem = sh("free -g | awk '/Mem:/ {print $2}'")
    try:
        import textual
        tv = getattr(textual, "__version__", "?")
    except ImportError:
        tv = "-"
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (f"{sh('date -u +%Y-%m-%dT%H:%M:%SZ')}; nproc {sh('nproc')}; {model}; {mem} GiB RAM; "
            f"load {load}; Linux {platform.release()}; Python "
            f"{platform.python_version()}; paramiko {paramiko.__version__}; peewee {peewee.__version__}; "
            f"Textual {tv}; OpenSSH {sh('ssh -V 2>&1')}")
