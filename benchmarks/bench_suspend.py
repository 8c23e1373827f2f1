"""How long production stays suspended, and what one device command costs, on the lab.

Run by hand (not collected by pytest):

    python benchmarks/bench_suspend.py            # 20 *NONE runs of the lab's RCVPNT environment
    python benchmarks/bench_suspend.py --runs 5

It starts the demo datacenter on loopback (speed 600), imports its configuration into a fresh
SQLite store, then:
- times 200 `lssyscfg` commands over one SSH transport (the drivers' per-command cost);
- executes N runs of RCVPNT in this process and reports the suspended window (from the suspend
  command's completion to the resume command's completion, as the run records it) and the
  QUIESCE / FLASH / RESUME step durations.
The lab's device models answer at once, so these figures are flash4i's own overhead: on real
devices add their command times (a CHGASPACT *SUSPEND waits for transactions to reach a
boundary; startfcconsistgrp takes what the array takes).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flash4i_tui.config.store_io import import_config, load_config_file  # noqa: E402
from flash4i_tui.devices.ssh import Endpoint, SshSession  # noqa: E402
from flash4i_tui.engine import runner  # noqa: E402
from flash4i_tui.engine.queue import submit_run  # noqa: E402
from flash4i_tui.lab.server import Lab, load_topology  # noqa: E402
from flash4i_tui.store import models as m  # noqa: E402
from flash4i_tui.store import open_store  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    with Lab(load_topology(), tmp / "lab", speed=600) as lab:
        config = lab.write_config(tmp / "lab.yaml")
        open_store(f"sqlite:///{tmp / 'store.db'}")
        import_config(load_config_file(config))
        files = lab.files()
        session = SshSession(Endpoint("HMC1", "127.0.0.1", lab.endpoints.hmcs["HMC1"], "hscroot",
                                      {"key_file": str(files["client_key"])}, str(files["known_hosts"])))
        session.run("lssyscfg -r sys -F name", timeout=10)          # connect once
        t0 = time.perf_counter()
        for _ in range(200):
            session.run("lssyscfg -r lpar -m P10-PROD -F name,state", timeout=10)
        per_command = (time.perf_counter() - t0) / 200 * 1000
        session.close()
        windows, steps = [], {"QUIESCE": [], "FLASH": [], "RESUME": []}
        for _ in range(args.runs):
            run = submit_run("RCVPNT", "bench")
            m.Run.update(state="RUNNING").where(m.Run.id == run.id).execute()
            runner.execute(run.id, threading.Event(), poll=0.05)
            run = m.Run.get_by_id(run.id)
            if run.state != "SUCCEEDED":
                print(f"run {run.id} {run.state}: {run.message}")
                return 1
            windows.append(run.suspended_seconds * 1000)
            for step in run.steps:
                if step.name in steps:
                    steps[step.name].append(step.duration * 1000)
    print(f"one HMC command over an open SSH transport: {per_command:.1f} ms (mean of 200)")
    print(f"{args.runs} *NONE runs:            median    p90    max  (ms)")
    print(f"  suspended window      {statistics.median(windows):8.1f} {pct(windows, 90):6.1f} {max(windows):6.1f}")
    for name, values in steps.items():
        print(f"  {name:<20}  {statistics.median(values):8.1f} {pct(values, 90):6.1f} {max(values):6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
