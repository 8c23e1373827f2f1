"""Run overhead and SSH economy (run by hand, not collected by pytest).

    python benchmarks/bench_overhead.py                 # 10 *NONE runs at zero latency + one *BRMS run at speed 60
    python benchmarks/bench_overhead.py --none 5 --brms-speed 0   # *NONE only

1. *NONE (RCVPNT) end to end at zero latency, lab speed 600, in this process: the run's duration,
   min / median / max, and each step's recorded duration (where the time goes).
2. *BRMS (NIGHTLY) time-scaled: the lab in a subprocess at --brms-speed (60: an IPL of 10 lab
   minutes takes 10 s), SVC start 100 ms and every SSH device 5 ms away; the run in this
   process. The engine's share = CPU seconds this process used (engine, store, paramiko client)
   / the run's wall seconds; the rest is waiting on devices. Per step durations.
3. SSH economy, counted by the lab's servers: handshakes per device per run (goal 1), and the
   commands per run, listed by device.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lab import REPO, fmt_mmm, load_topology, m, machine, run_now, start_lab  # noqa: E402


def verb(device: str, command: str) -> str:
    """A command's name, for the per-device listing."""
    if device.startswith("ibmi"):
        cl = re.search(r"system\s+['\"]?\s*([A-Z][A-Z0-9]*)(?:.*OPTION\((\*[A-Z]+)\))?", command)
        if cl:
            return f"{cl.group(1)} {cl.group(2) or ''}".strip()
        if "db2util" in command:
            return "db2util (SQL)"
        return command.split()[0][:30] if command.split() else "?"
    words = command.split()
    if device.startswith("svc") and len(words) > 1 and words[0] in ("svctask", "svcinfo"):
        return words[1]
    if device.startswith("hmc") and words[:1] == ["viosvrcmd"]:
        cmd = re.search(r"-c\s+['\"]?(\w+)", command)
        return f"viosvrcmd {cmd.group(1) if cmd else ''}".strip()
    return words[0] if words else "?"


def economy(commands: list, runs: int) -> list:
    lines = []
    by_device = {}
    for _, device, command in commands:
        by_device.setdefault(device, Counter())[verb(device, command)] += 1
    for device, counts in sorted(by_device.items()):
        total = sum(counts.values())
        listing = ", ".join(f"{v} x{n / runs:g}" for v, n in counts.most_common())
        lines.append(f"| {device} | {total / runs:g} | {listing} |")
    return lines


def steps_table(runs: list) -> list:
    names = []
    durations = {}
    for run in runs:
        for step in sorted(run.steps, key=lambda s: s.seq):
            if step.status == "SKIPPED" or step.duration is None:
                continue
            if step.name not in durations:
                names.append(step.name)
            durations.setdefault(step.name, []).append(step.duration)
    return [f"| {name} | {fmt_mmm(durations[name], 1000, 1)} |" for name in names]


def bench_none(runs: int, poll_interval: float = 0.0) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-none-"))
    lab = start_lab(load_topology(), tmp, 600)
    try:
        if poll_interval:
            # The SVC driver reads `poll_interval` from the storage's options (devices/storage), but the
            # configuration schema does not accept the key yet: set it in the store, as an import would.
            for storage in m.StorageSystem.select():
                m.StorageSystem.update(options=dict(storage.options or {}, poll_interval=poll_interval)).where(
                    m.StorageSystem.id == storage.id).execute()
        run_now("RCVPNT")                              # warm
        done, walls, handshakes = [], [], []
        lab.world.stats.reset()
        for _ in range(runs):
            before = dict(lab.world.stats.handshakes)
            t0 = time.monotonic()
            run = run_now("RCVPNT", poll=None)         # the engine's own poll, as `flash4i worker` runs it
            walls.append(time.monotonic() - t0)
            assert run.state == "SUCCEEDED", run.message
            done.append(run)
            after = lab.world.stats.handshakes
            handshakes.append({d: after.get(d, 0) - before.get(d, 0) for d in after})
        tuned = f", storage option poll_interval {poll_interval:g} s" if poll_interval else ", default options"
        print(f"\n## *NONE (RCVPNT), zero latency, lab speed 600, {runs} runs{tuned}")
        print(f"run duration (recorded), s: {fmt_mmm([r.duration for r in done], 1, 2)}; "
              f"wall in this process: {fmt_mmm(walls, 1, 2)}   (goal < 2 s)")
        print("| step | ms, min / median / max |\n|---|---:|")
        print("\n".join(steps_table(done)))
        print("\nSSH handshakes per run, by device (counted by the lab's servers; goal 1): " +
              ", ".join(f"{d} {fmt_mmm([h.get(d, 0) for h in handshakes], 1, 0)}" for d in sorted(handshakes[0])))
        print("| device | commands per run | listed |\n|---|---:|---|")
        print("\n".join(economy(lab.world.stats.commands, runs)))
    finally:
        lab.stop()


def bench_brms(speed: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-brms-"))
    topology = load_topology()
    topology["latency"] = {"rtt": {"*": 0.005},
                           "commands": [{"device": "svc", "match": r"(^|\s)startfcconsistgrp", "seconds": 0.1}]}
    (tmp / "topology.yaml").write_text(yaml.safe_dump(topology))
    state = tmp / "lab"
    env = dict(os.environ, FLASH4I_HOME=str(tmp / "home"))
    proc = subprocess.Popen([sys.executable, "-m", "flash4i_tui", "lab", "--speed", str(speed), "--state", str(state),
                             "--topology", str(tmp / "topology.yaml"), "--write-config", str(tmp / "lab.yaml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not (state / "lab.json").exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the lab did not start")
            time.sleep(0.2)
        info = json.loads((state / "lab.json").read_text())
        from flash4i_tui.config.store_io import import_config, load_config_file
        from flash4i_tui.engine.agentctl import install_agent
        from flash4i_tui.store import open_store
        open_store(f"sqlite:///{tmp / 'store.db'}")
        import_config(load_config_file(info["config"]))
        install_agent("PROD")
        control = info["control_url"]
        urllib.request.urlopen(urllib.request.Request(control + "/stats", method="DELETE"), timeout=10).read()
        cpu0, t0 = time.process_time(), time.monotonic()
        run = run_now("NIGHTLY", poll=None)        # the engine's own poll (2 s), as `flash4i worker` runs it
        wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
        print(f"\n## *BRMS (NIGHTLY), lab speed {speed:g} (lab in its own process), SVC start 100 ms, RTT 5 ms")
        print(f"run {run.state} in {run.duration:.1f} s (wall {wall:.1f} s); this process used {cpu:.2f} CPU s: "
              f"engine share {cpu / wall * 100:.2f} % (goal < 2 %); suspended window {run.suspended_seconds * 1000:.0f} ms")
        print("| step | ms |\n|---|---:|")
        print("\n".join(steps_table([run])))
        stats = json.loads(urllib.request.urlopen(control + "/stats", timeout=10).read().decode())
        print(f"SSH handshakes in the run, by device (lab's count): {stats['handshakes']}; "
              f"commands: {stats['commands']}")
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--none", type=int, default=10, help="*NONE runs (0: skip)")
    parser.add_argument("--poll-interval", type=float, default=0.2,
                        help="also the *NONE runs with this storage poll_interval option (0: skip)")
    parser.add_argument("--brms-speed", type=float, default=60.0, help="lab speed of the *BRMS run (0: skip)")
    args = parser.parse_args()
    print(machine())
    if args.none:
        bench_none(args.none)
        if args.poll_interval:
            bench_none(args.none, args.poll_interval)
    if args.brms_speed:
        bench_brms(args.brms_speed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
