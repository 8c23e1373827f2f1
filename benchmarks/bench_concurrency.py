"""Concurrency and panels under load (run by hand, not collected by pytest).

    python benchmarks/bench_concurrency.py                  # 1, 8, 32 runs x 1, 2 workers (+ panels)
    python benchmarks/bench_concurrency.py --counts 1,32 --workers 1 --no-panels

A generated topology on one array (--storage svc|ds8000|powermax): --sources production partitions (2 volumes each), each with
32/--sources clone partitions (NPIV, *NONE environments), 32 environments in all. The lab runs in
its own process at --speed with a realistic storage latency (startfcconsistgrp --start s,
prestartfcconsistgrp --prepare s, every SSH device --rtt s away); the workers are `flash4i worker`
processes (--concurrency 32) sharing one SQLite store. For each count of runs (spread over the
sources) and each count of workers it measures the wall time from queueing to the last run's end,
checks that every run succeeded and that no two suspend windows of one source overlapped (the
lab's pauses), and reports each source's windows (lab's and product's).

While the 32 runs execute (one worker), the real app runs headless in this process (Textual
run_test) at 80x24: key-to-paint on WRKFLENV and on the live run panel (WRKFLRUN) of a running
run: Down/Up (the key sent through the driver as a terminal's, until the first frame that shows
the cursor moved) and F5 (until the page read from the store is shown). Goal: p95 < 100 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lab import REPO, fmt_mmm, load_topology, m, machine  # noqa: E402

CLONES = 32


# Per family: a volume of the generated topology (source s, unit u; target k of clone c), how
# environments and hosts name it, and the latency rules of its start and of its slow step outside
# the window (SVC prestart, PowerMax's link; a DS8000 has no prepare).
def _volume(family: str, kind: str, s: int, c: int, u: int) -> dict:
    name = f"P{s}_{u:03d}" if kind == "source" else f"C{s}N{c:02d}_{u:03d}"
    if family == "svc":
        return {"name": name, "size_gib": 40, **({"thin": True} if kind == "target" else {})}
    if family == "ds8000":     # LSS 1s for sources, 2s for targets; volume number within the LSS
        lss = (0x10 if kind == "source" else 0x20) + s
        return {"id": f"{lss:02X}{(c * 2 + u) if kind == 'target' else u:02X}", "name": name, "size_gib": 1}
    base = 0x200 + s * 0x10 if kind == "source" else 0x1000 + s * 0x100 + c * 2
    return {"id": f"{base + u:05X}", "name": name, "size_cyl": 547, **({"thin": False} if kind == "source" else {})}


LATENCY_RULES = {
    "svc": (r"(^|\s)startfcconsistgrp", "prestartfcconsistgrp"),
    "ds8000": (r"^POST /api/v1/cs/flashcopies$", None),
    "powermax": (r"^POST .*/snapshot$", r"^PUT .*/snapid/"),
}


def generate(family: str, sources: int, speed: float, start: float, prepare: float, rtt: float) -> dict:
    demo = load_topology(storage=family)
    ref = "name" if family == "svc" else "id"
    msys_name = demo["hmcs"][0]["managed_systems"][0]["name"]
    per = CLONES // sources
    volumes, hosts, lpars, ibmi, partitions, envs = [], [], [], [], [], []
    template = next(i for i in demo["ibmi"] if i["name"] == "PROD")
    user = demo["flash4i"]["partitions"][0]["user"]
    lpar_id = 10
    for s in range(1, sources + 1):
        src = f"PROD{s}"
        src_vols = [_volume(family, "source", s, 0, u) for u in (1, 2)]
        volumes += src_vols
        lpar_id += 1
        src_id = lpar_id
        hosts.append({"name": f"{src}_FC", "npiv_lpar": {"system": msys_name, "lpar_id": src_id},
                      "wwpns": [f"C050760A{s:02d}000010", f"C050760A{s:02d}000011"],
                      "volumes": [v[ref] for v in src_vols]})
        lpars.append({"id": src_id, "name": src, "env": "os400", "profile": "normal", "state": "Running"})
        system = copy.deepcopy(template)
        system.update(name=src, volumes=[v[ref] for v in src_vols], system_name=src, older_copies=[],
                      interfaces=[{"address": f"10.10.{s}.10", "subnet_mask": "255.255.255.0", "line": "ETHLINE",
                                   "autostart": True}],
                      libraries=[{"name": "APPDTA", "size_mib": 512}], job_schedule_entries=[])
        ibmi.append(system)
        partitions.append({"name": src, "hmc": "HMC1", "managed_system": msys_name, "lpar_name": src,
                           "lpar_id": src_id, "profile": "normal", "address": f"10.10.{s}.10", "user": user})
        for c in range(1, per + 1):
            lpar_id += 1
            clone = f"C{s}N{c:02d}"
            tgt = [_volume(family, "target", s, c, u) for u in (1, 2)]
            volumes += tgt
            hosts.append({"name": f"{clone}_FC", "npiv_lpar": {"system": msys_name, "lpar_id": lpar_id},
                          "wwpns": [f"C05076{s:02d}{c:02d}000030", f"C05076{s:02d}{c:02d}000031"],
                          "volumes": [v[ref] for v in tgt]})
            lpars.append({"id": lpar_id, "name": clone, "env": "os400", "profile": "normal", "state": "Not Activated"})
            partitions.append({"name": clone, "hmc": "HMC1", "managed_system": msys_name, "lpar_name": clone,
                               "lpar_id": lpar_id, "profile": "normal", "address": f"10.10.{s}.{50 + c}",
                               "user": user})
            envs.append({"name": f"E{s}N{c:02d}", "description": f"{src} recovery point {c}", "function": "*NONE",
                         "source": src, "clone": clone, "storage": demo["storage"][0]["name"],
                         "consistency_group": f"FL_{clone}",
                         "volumes": [{"source": a[ref], "target": b[ref]} for a, b in zip(src_vols, tgt)],
                         "quiesce": {"timeout": 60, "action": "*CONT"},
                         "clone_identity": {"system_name": clone, "interfaces": []}})
    storage = copy.deepcopy(demo["storage"][0])
    storage.update(volumes=volumes, hosts=hosts)
    hmc = copy.deepcopy(demo["hmcs"][0])
    msys = hmc["managed_systems"][0]
    msys.update(lpars=lpars)
    msys.pop("vios", None)
    start_rule, prepare_rule = LATENCY_RULES[family]
    commands = []
    if start:
        commands.append({"device": family, "match": start_rule, "seconds": start})
    if prepare and prepare_rule:
        commands.append({"device": family, "match": prepare_rule, "seconds": prepare})
    flash4i = {k: v for k, v in demo["flash4i"].items() if k not in ("partitions", "environments")}
    return {"speed": speed, "storage": [storage], "hmcs": [hmc], "ibmi": ibmi,
            "latency": {"rtt": {"*": rtt} if rtt else {}, "commands": commands},
            "flash4i": dict(flash4i, partitions=partitions, environments=envs)}


def fix_known_hosts(state: Path, info: dict, topo: dict) -> None:
    """The lab lists every IBM i's host key for every IBM i address (a clone presents its
    production's key), and a known_hosts reader keeps one key per type per host: with several
    sources, each source's address would be checked against another's key. Keep each source's own."""
    from flash4i_tui.lab.ibmi.front import host_key
    from flash4i_tui.lab.sshd import public_line
    path = Path(info["known_hosts"])
    own = {}
    for system in topo["ibmi"]:
        port = info["ibmi"][system["interfaces"][0]["address"]]
        own[f"[127.0.0.1]:{port}"] = public_line(host_key((state / f"ibmi_{system['name']}.key").read_text()))
    lines = [ln for ln in path.read_text().splitlines() if ln.split(" ", 1)[0] not in own]
    path.write_text("\n".join(lines + [f"{h} {k}" for h, k in own.items()]) + "\n")


def get(control: str, path: str) -> dict:
    return json.loads(urllib.request.urlopen(control + path, timeout=30).read().decode())


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def key_to_paint(app, key: str) -> float:
    """ms from a key arriving as a terminal's would (through the driver) to the first frame that
    shows its effect (the subfile's cursor moved): the frame the screen hands to App._display,
    which a real terminal's driver would write (headless, nothing is written). pilot.press would
    add its own idle waits."""
    from textual import events
    painted = asyncio.Event()
    display = app._display

    def painting(screen, renderable):
        display(screen, renderable)
        if renderable is not None:
            painted.set()
    app._display = painting
    try:
        before = app.screen.subfile.cursor
        event = events.Key(key, None)
        event.set_sender(app)
        t = time.perf_counter()
        app._driver.send_message(event)
        while True:
            await asyncio.wait_for(painted.wait(), 10)
            painted.clear()
            if app.screen.subfile.cursor != before:
                return (time.perf_counter() - t) * 1000
    finally:
        app._display = display


async def panels_under_load(url: str, stop: asyncio.Event, results: dict) -> None:
    from screens.app import Flash4iApp
    from screens.panel import ListPanel
    shown = asyncio.Event()
    original = ListPanel.page_shown

    def page_shown(self, page):
        original(self, page)
        shown.set()
    ListPanel.page_shown = page_shown
    app = Flash4iApp(url, system_name="BENCH", tz=timezone.utc, ensure_worker=lambda u: None,
                     keymap_file=Path("/nonexistent"))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await asyncio.wait_for(shown.wait(), 30)
            for label, command in (("WRKFLENV", None), ("WRKFLRUN", "run")):
                if command == "run":
                    running = m.Run.select().where(m.Run.state == "RUNNING").order_by(m.Run.id.desc()).first()
                    if running is None:
                        break
                    shown.clear()
                    app.run_command(f"WRKFLRUN RUN({running.id})", app.screen)
                    await asyncio.wait_for(shown.wait(), 30)
                downs, f5s = [], []
                for i in range(40):
                    if stop.is_set() and i >= 10:
                        break
                    downs.append(await key_to_paint(app, "down" if i % 8 < 4 else "up"))
                    shown.clear()
                    t = time.perf_counter()
                    app.action_fkey(5)
                    await asyncio.wait_for(shown.wait(), 30)
                    f5s.append((time.perf_counter() - t) * 1000)
                    await asyncio.sleep(0.05)
                results[label] = {"down": downs, "f5": f5s, "load": m.Run.select().where(m.Run.state == "RUNNING").count()}
    finally:
        ListPanel.page_shown = original


def measure(tmp: Path, info: dict, envs: list, count: int, workers: int, panels: bool, speed: float) -> dict:
    db = f"sqlite:///{tmp / 'store.db'}"
    from flash4i_tui.engine.queue import submit_run
    sources = sorted({e["source"] for e in envs})
    chosen = [e for i in range(CLONES) for e in [envs[(i % len(sources)) * (CLONES // len(sources)) + i // len(sources)]]][:count]
    pauses_before = len(get(info["control_url"], "/pauses")["pauses"])
    t0 = time.monotonic()
    ids = [submit_run(e["name"], "bench").id for e in chosen]
    env = dict(os.environ, FLASH4I_DB=db, FLASH4I_HOME=str(tmp / "home"))
    procs = [subprocess.Popen([sys.executable, "-m", "flash4i_tui", "worker", "--concurrency", "32",
                               "--idle-exit", "2"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=open(tmp / f"worker{w}.log", "a")) for w in range(workers)]
    ui: dict = {}

    def ended() -> bool:
        return m.Run.select().where(m.Run.id.in_(ids) & m.Run.state.in_(["SUCCEEDED", "FAILED", "CANCELLED"])).count() == len(ids)

    if panels:
        async def both():
            stop = asyncio.Event()
            task = asyncio.ensure_future(panels_under_load(db, stop, ui))
            while not ended():
                await asyncio.sleep(0.05)
            stop.set()
            await task
        asyncio.run(both())
    while not ended():
        if time.monotonic() - t0 > 600:
            raise SystemExit(f"{count} runs did not end within 600 s: see {tmp}/worker*.log")
        time.sleep(0.05)
    wall = time.monotonic() - t0
    for p in procs:
        p.wait(60)
    runs = list(m.Run.select().where(m.Run.id.in_(ids)))
    pauses = get(info["control_url"], "/pauses")["pauses"][pauses_before:]
    overlaps = 0
    per_source = {}
    for who in sorted({p["who"] for p in pauses}):
        mine = sorted((datetime.fromisoformat(p["at"]).timestamp(), p["seconds"] or 0) for p in pauses if p["who"] == who)
        overlaps += sum(1 for a, b in zip(mine, mine[1:]) if a[0] + a[1] > b[0])
        per_source[who] = [s for _, s in mine]
    product = {}
    for run in runs:
        product.setdefault(run.env_name[:2], []).append(run.suspended_seconds or 0)
    # where the time goes: the wait in the queue (queued -> a worker took it), then each step
    steps = {"(queue)": [max(0.0, (r.started_at - r.requested_at).total_seconds()) for r in runs if r.started_at]}
    for step in m.Step.select().where(m.Step.run.in_(ids) & m.Step.duration.is_null(False)).order_by(m.Step.seq):
        steps.setdefault(step.name, []).append(step.duration)
    return {"steps": steps, "count": count, "workers": workers, "wall": wall, "ok": sum(r.state == "SUCCEEDED" for r in runs),
            "failed": [(r.id, r.state, r.message) for r in runs if r.state != "SUCCEEDED"][:3],
            "overlaps": overlaps, "pauses": len(pauses), "per_source": per_source, "product": product, "ui": ui}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", choices=sorted(LATENCY_RULES), default="svc")
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--counts", default="1,8,32")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--start", type=float, default=0.1)
    parser.add_argument("--prepare", type=float, default=1.0)
    parser.add_argument("--rtt", type=float, default=0.005)
    parser.add_argument("--no-panels", action="store_true")
    args = parser.parse_args()
    print(machine())
    tmp = Path(tempfile.mkdtemp(prefix="bench-conc-"))
    topo = generate(args.storage, args.sources, args.speed, args.start, args.prepare, args.rtt)
    (tmp / "topology.yaml").write_text(yaml.safe_dump(topo))
    for array in topo["storage"]:          # a REST array's lab password reaches flash4i as a real one would
        if array.get("password_env"):
            os.environ[array["password_env"]] = str(next(iter(array["users"].values())))
    state = tmp / "lab"
    env = dict(os.environ, FLASH4I_HOME=str(tmp / "home"))
    lab = subprocess.Popen([sys.executable, "-m", "flash4i_tui", "lab", "--state", str(state), "--topology",
                            str(tmp / "topology.yaml"), "--write-config", str(tmp / "lab.yaml")],
                           env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(tmp / "lab.log", "w"))
    results = []
    try:
        deadline = time.monotonic() + 120
        while not (state / "lab.json").exists():
            if time.monotonic() > deadline or lab.poll() is not None:
                raise SystemExit(f"the lab did not start: see {tmp / 'lab.log'}")
            time.sleep(0.2)
        info = json.loads((state / "lab.json").read_text())
        fix_known_hosts(state, info, topo)
        from flash4i_tui.config.store_io import import_config, load_config_file
        from flash4i_tui.store import open_store
        os.environ["FLASH4I_HOME"] = str(tmp / "home")
        open_store(f"sqlite:///{tmp / 'store.db'}")
        import_config(load_config_file(info["config"]))
        envs = topo["flash4i"]["environments"]
        print(f"{len(envs)} environments on {args.sources} sources, {args.storage}; lab speed {args.speed:g}; start "
              f"{args.start * 1000:.0f} ms, prepare {args.prepare * 1000:.0f} ms; RTT {args.rtt * 1000:.0f} ms")
        for workers in [int(w) for w in args.workers.split(",")]:
            for count in [int(c) for c in args.counts.split(",")]:
                panels = not args.no_panels and count == 32 and workers == 1
                r = measure(tmp, info, envs, count, workers, panels, args.speed)
                results.append(r)
                print(f"  {count} runs, {workers} worker(s): {r['wall']:.1f} s, {r['ok']}/{count} ok, "
                      f"{r['overlaps']} overlaps {r['failed']}", file=sys.stderr, flush=True)
        print("\n| runs | workers | wall s | succeeded | overlapping windows (lab) | lab window per source, ms "
              "min / median / max | product's, ms |")
        print("|---:|---:|---:|---:|---:|---|---|")
        for r in results:
            lab_w = " ".join(f"{w}: {fmt_mmm(v)}" for w, v in sorted(r["per_source"].items()))
            prod = " ".join(f"{w}: {fmt_mmm(v)}" for w, v in sorted(r["product"].items()))
            print(f"| {r['count']} | {r['workers']} | {r['wall']:.1f} | {r['ok']}/{r['count']} | {r['overlaps']} | "
                  f"{lab_w} | {prod} |")
        for w in sorted({r["workers"] for r in results}):
            one = next((r["wall"] for r in results if r["workers"] == w and r["count"] == 1), None)
            for r in results:
                if r["workers"] == w and r["count"] > 1 and one:
                    print(f"{r['count']} runs / 1 run wall, {w} worker(s): {r['wall'] / one:.2f}x (goal < 1.5x)")
        for r in results:
            if r["count"] > 1:
                print(f"\nwhere the time goes, {r['count']} runs, {r['workers']} worker(s): s, min / median / max")
                for name, v in r["steps"].items():
                    print(f"  {name:<18} {min(v):6.2f} / {statistics.median(v):6.2f} / {max(v):6.2f}")
        for r in results:
            if r["ui"]:
                print(f"\npanels while {r['count']} runs execute ({r['workers']} worker): ms, median / p95 / max "
                      "(goal p95 < 100)")
                for label, u in r["ui"].items():
                    for key in ("down", "f5"):
                        v = u[key]
                        print(f"  {label} {key:<5} n={len(v):>2}: {statistics.median(v):6.1f} / {pct(v, 95):6.1f} / "
                              f"{max(v):6.1f}   (runs RUNNING when it started: {u['load']})")
    finally:
        lab.terminate()
        lab.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
