"""Production's suspended window: flash4i's order against the naive order, in the same run, on the
same lab, under set device latencies (run by hand, not collected by pytest).

    python benchmarks/bench_window.py                      # 3 x 3 grid, 5 passes each (about 5 minutes)
    python benchmarks/bench_window.py --runs 3 --starts 0.1 --rtts 0.005 --suspends 0,2
    python benchmarks/bench_window.py --realistic 3        # + a speed-1 lab (prepare, flush, boundary in real time)

For each cell (storage start latency L: svctask startfcconsistgrp takes L; every SSH device an RTT
away; CHGASPACT *SUSPEND waiting S for a boundary, production held meanwhile) it alternates
  flash4i   a *NONE run of RCVPNT in this process: checks, prepare, flush before the suspend;
            startfcconsistgrp alone inside it; one SSH transport per device per run
  naive     benchmarks/naive_flash.py: mkfcconsistgrp, mkfcmap x4, prestartfcconsistgrp, polling
            lsfcconsistgrp, startfcconsistgrp, all inside the suspend, a new SSH connection each
and prints min / median / max of: the product's own figure (run.suspended_seconds: suspend
answered -> resume answered), the lab's (world.pauses: the IBM i held new work -> it resumed), and
their difference. Goals: flash4i's lab window <= L + 2 x RTT + 50 ms (plus S), and >= 20x shorter
than naive at L = 100 ms.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lab import fmt_mmm, latency, load_topology, machine, mmm, new_pauses, run_now, start_lab  # noqa: E402
from naive_flash import from_config, naive_flash  # noqa: E402

PAIRS = [(f"PROD_00{i}", f"CLN1_00{i}") for i in range(1, 5)]     # NIGHTLY's targets: RCVPNT keeps RCV_*


def floats(text: str) -> list:
    return [float(x) for x in text.split(",") if x.strip()]


def cell(lab, config: Path, runs: int, start: float, rtt: float, suspend: float, client: str) -> dict:
    lab.world.latency.replace(latency(start=start, rtt=rtt, suspend=suspend))
    ibmi, svc = from_config(config, "PROD", "FS9500")
    out = {"f_product": [], "f_lab": [], "n_own": [], "n_lab": [], "f_run": []}
    for _ in range(runs):
        n = len(lab.world.pauses)
        run = run_now("RCVPNT")
        if run.state != "SUCCEEDED":
            raise SystemExit(f"flash4i run {run.id} {run.state}: {run.message}")
        (pause,) = new_pauses(lab, n)
        out["f_product"].append(run.suspended_seconds)
        out["f_lab"].append(pause.seconds)
        out["f_run"].append(run.duration)
        n = len(lab.world.pauses)
        result = naive_flash(ibmi, svc, "NAIVE", PAIRS, client)
        (pause,) = new_pauses(lab, n)
        out["n_own"].append(result["window"])
        out["n_lab"].append(pause.seconds)
    lab.world.latency.clear()
    return out


def report(rows: list, speed: float) -> None:
    print(f"\nlab speed {speed:g}; ms, min / median / max")
    print("| start L | RTT | boundary S | flash4i: product | flash4i: lab | lab - product | naive: script | "
          "naive: lab | naive / flash4i (lab, medians) | goal L+2RTT+50(+S) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (start, rtt, suspend), r in rows:
        diff = [b - a for a, b in zip(r["f_product"], r["f_lab"])]
        ratio = mmm(r["n_lab"])[1] / mmm(r["f_lab"])[1]
        goal = start + 2 * rtt + 0.05 + suspend
        met = "met" if mmm(r["f_lab"])[1] <= goal else f"missed by {(mmm(r['f_lab'])[1] - goal) * 1000:.0f}"
        print(f"| {start * 1000:.0f} | {rtt * 1000:.0f} | {suspend * 1000:.0f} | {fmt_mmm(r['f_product'])} | "
              f"{fmt_mmm(r['f_lab'])} | {fmt_mmm(diff)} | {fmt_mmm(r['n_own'])} | {fmt_mmm(r['n_lab'])} | "
              f"{ratio:.1f}x | {goal * 1000:.0f}: {met} |")
    print("flash4i *NONE run end to end (s), per cell: " +
          "; ".join(f"L{s * 1000:.0f}/RTT{t * 1000:.0f}/S{u * 1000:.0f}: {fmt_mmm(r['f_run'], 1, 2)}"
                    for (s, t, u), r in rows))


def grid(speed: float, args, starts, rtts, suspends, runs) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-window-"))
    lab = start_lab(load_topology(), tmp, speed)
    try:
        run_now("RCVPNT")                              # warm: imports, first connections, first mappings
        rows = []
        for suspend in suspends:
            for start in starts:
                for rtt in rtts:
                    rows.append(((start, rtt, suspend), cell(lab, tmp / "lab.yaml", runs, start, rtt, suspend,
                                                             args.client)))
                    print(f"  done: L {start}, RTT {rtt}, S {suspend}", file=sys.stderr, flush=True)
        report(rows, speed)
    finally:
        lab.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--starts", default="0,0.1,1")
    parser.add_argument("--rtts", default="0,0.005,0.05")
    parser.add_argument("--suspends", default="0")
    parser.add_argument("--client", choices=["openssh", "paramiko"], default="openssh")
    parser.add_argument("--speed", type=float, default=600.0)
    parser.add_argument("--realistic", type=int, default=0, metavar="RUNS",
                        help="also RUNS passes on a speed-1 lab at L 100 ms, RTT 5 ms")
    args = parser.parse_args()
    print(machine())
    print(f"naive client: {args.client}")
    grid(args.speed, args, floats(args.starts), floats(args.rtts), floats(args.suspends), args.runs)
    if args.realistic:
        grid(1.0, args, [0.1], [0.005], [0.0], args.realistic)
    return 0


if __name__ == "__main__":
    sys.exit(main())
