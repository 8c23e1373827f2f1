"""Panel benchmarks (run by hand, not by pytest): a store with 1,000,000 runs and 1,000,000 log lines.

    python benchmarks/bench_panels.py [--runs N] [--logs N] [--db PATH] [--keep]

Measures, headless with the real app: opening FLDSPHST and the log viewer (until the first
page is on the panel) and rolling a page (PageDown until the next page is on the panel);
the store queries behind them; and the cold start of `python -m flash4i_tui` in a real
terminal (tmux) until the first panel is painted. Targets: open < 300 ms, page < 50 ms,
cold start < 1 s. Results go to standard output; copy them into BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

T0 = datetime(2020, 1, 1)
CHUNK = 50_000


def fill(url: str, runs: int, logs: int) -> int:
    """Bulk-insert RUNS runs and LOGS QHST lines (on the newest run); return that run's id."""
    from flash4i_tui.config.store_io import import_config, load_config_file
    from flash4i_tui.store import database, open_store
    from flash4i_tui.store import models as m
    open_store(url)
    import_config(load_config_file(REPO / "data" / "sample.yaml"))
    envs = [(e.id, e.name, e.function) for e in m.Environment.select().order_by(m.Environment.id)]
    conn = database.obj.connection()
    run_sql = ("INSERT INTO run (environment_id, env_name, function, state, requested_by, requested_at, "
               "started_at, ended_at, duration, phase, suspended_seconds, space_used_bytes, message, "
               "cancel_requested, snapshot) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
    for start in range(0, runs, CHUNK):
        rows = []
        for i in range(start, min(runs, start + CHUNK)):
            env_id, name, fn = envs[i % len(envs)]
            at = T0 + timedelta(minutes=i)
            rows.append((env_id, name, fn, "SUCCEEDED" if i % 17 else "FAILED", "bench", str(at), str(at),
                         str(at + timedelta(seconds=600 + i % 300)), 600.0 + i % 300, "DONE", 1.0 + (i % 100) / 100,
                         (i % 5000) * 1024 ** 2, "", 0, "{}"))
        with database.obj.atomic():
            conn.executemany(run_sql, rows)
    run_id = m.Run.select(m.Run.id).order_by(m.Run.id.desc()).get().id
    log_sql = ("INSERT INTO log_entry (run_id, kind, seq, logged_at, msg_id, severity, source, text) "
               "VALUES (?,?,?,?,?,?,?,?)")
    for start in range(0, logs, CHUNK):
        rows = [(run_id, "QHST", seq, str(T0 + timedelta(seconds=seq)), "CPF1124", 0, "QSYSARB",
                 f"Job {seq % 1000000:06d}/QSECOFR/QPADEV{seq % 10000:04d} started in subsystem QINTER in QSYS.")
                for seq in range(start + 1, min(logs, start + CHUNK) + 1)]
        with database.obj.atomic():
            conn.executemany(log_sql, rows)
    database.obj.execute_sql("ANALYZE")
    return run_id


def timed(fn, repeat: int = 20) -> float:
    """Median milliseconds of FN."""
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def bench_queries(run_id: int) -> dict:
    from flash4i_tui.store import queries
    deep = run_id // 2
    return {
        "runs_page first page (FLDSPHST)": timed(lambda: queries.runs_page(limit=10)),
        "runs_page at run id / 2 (keyset)": timed(lambda: queries.runs_page(before_id=deep, limit=10)),
        "runs_page oldest page (F18)": timed(lambda: queries.runs_page(after_id=0, limit=10)),
        "runs_page ENV(NIGHTLY) at id / 2": timed(lambda: queries.runs_page("NIGHTLY", before_id=deep, limit=10)),
        "log_page first page": timed(lambda: queries.log_page(run_id, "QHST", -(2 ** 31), 10)),
        "log_page at line 500,000": timed(lambda: queries.log_page(run_id, "QHST", 500_000, 10)),
        "log_page last page (F18)": timed(lambda: queries.log_page(run_id, "QHST", 2 ** 31 - 1, 10,
                                                                    backwards=True)),
        "newest_runs of a WRKFLENV page": timed(lambda: queries.newest_runs(
            [e.id for e in queries.environments_page(limit=10)])),
        "latest_run(NIGHTLY) (WRKFLRUN)": timed(lambda: queries.latest_run("NIGHTLY")),
        "log_find, no match (scans the log)": timed(lambda: queries.log_find(run_id, "QHST", "NOSUCHTEXT", 0),
                                                    repeat=3),
    }


async def bench_ui(url: str, run_id: int, rounds: int) -> dict:
    """Open FLDSPHST and the log viewer in the real app (headless) and roll them."""
    from screens.app import Flash4iApp
    from screens.panel import ListPanel

    shown: asyncio.Event = asyncio.Event()
    original = ListPanel.page_shown

    def page_shown(self, page):
        original(self, page)
        shown.set()
    ListPanel.page_shown = page_shown
    results: dict = {}
    app = Flash4iApp(url, system_name="BENCH", tz=timezone.utc, ensure_worker=lambda u: None,
                     keymap_file=Path("/nonexistent"))
    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.wait_for(shown.wait(), 30)
        for label, command in (("FLDSPHST", "FLDSPHST"), ("log viewer", f"DSPFLLOG RUN({run_id}) LOG(*QHST)")):
            opens, pages = [], []
            for _ in range(rounds):
                shown.clear()
                t = time.perf_counter()
                app.run_command(command, app.screen)
                await asyncio.wait_for(shown.wait(), 30)
                opens.append((time.perf_counter() - t) * 1000)
                for _ in range(5):
                    shown.clear()
                    t = time.perf_counter()
                    app.action_roll(True)
                    await asyncio.wait_for(shown.wait(), 30)
                    pages.append((time.perf_counter() - t) * 1000)
                shown.clear()
                t = time.perf_counter()
                app.action_fkey(18)                           # bottom: the oldest runs, the last log lines
                await asyncio.wait_for(shown.wait(), 30)
                pages.append((time.perf_counter() - t) * 1000)
                app.action_fkey(12)
                await pilot.pause()
            results[f"open {label} (to first page shown)"] = statistics.median(opens)
            results[f"page {label} (PageDown / F18 to page shown)"] = statistics.median(pages)
            results[f"page {label}, 90th percentile"] = statistics.quantiles(pages, n=10)[-1]
            results[f"page {label}, worst of {len(pages)}"] = max(pages)
    ListPanel.page_shown = original
    return results


def bench_cold_start(url: str, home: str, rounds: int) -> dict:
    """`python -m flash4i_tui` in tmux (80x24): time until the first panel's rows are painted."""
    if shutil.which("tmux") is None:
        return {"cold start": "tmux not installed: not measured"}
    times = []
    for _ in range(rounds):
        sock = f"flash4i-bench-{uuid.uuid4().hex[:8]}"
        env = dict(os.environ, TERM="xterm-256color", FLASH4I_HOME=home, PYTHONPATH=str(REPO))
        cmd = f"{sys.executable} -m flash4i_tui --db {url}"
        t = time.perf_counter()
        subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-s", "b", "-x", "80", "-y", "24",
                        cmd], env=env, cwd=REPO, check=True)
        try:
            while time.perf_counter() - t < 20:
                screen = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", "b"], capture_output=True,
                                        text=True).stdout
                if "NIGHTLY" in screen and "Bottom" in screen:
                    times.append((time.perf_counter() - t) * 1000)
                    break
                time.sleep(0.01)
        finally:
            subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
            (Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / sock).unlink(missing_ok=True)
    return {"cold start to WRKFLENV painted (tmux, median)": statistics.median(times),
            "cold start, worst": max(times)}


def imports_on_panel_path() -> str:
    code = ("import sys; import flash4i_tui.cli as c; c.build_parser(); import screens.app, screens.wrkflenv, "
            "screens.fldsphst, screens.logview, screens.runpanel, screens.envedit, screens.wrkfldfn; "
            "print(sorted(m for m in ('paramiko', 'flash4i_tui.devices', 'flash4i_tui.engine.runner') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    return out.stdout.strip() or out.stderr.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLite file to create (default: a temporary folder)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="flash4i-bench-"))
    os.environ["FLASH4I_HOME"] = str(folder / "home")
    path = Path(args.db) if args.db else folder / "bench.db"
    if path.exists():
        path.unlink()
    url = f"sqlite:///{path}"
    t = time.perf_counter()
    run_id = fill(url, args.runs, args.logs)
    print(f"filled {args.runs:,} runs and {args.logs:,} log lines in {time.perf_counter() - t:.1f} s "
          f"({path.stat().st_size / 1024 ** 2:.0f} MiB)")
    print("\nstore queries (median ms):")
    for label, ms in bench_queries(run_id).items():
        print(f"  {label:<45} {ms:8.2f}")
    print("\npanels, headless 80x24 (median ms):")
    for label, ms in asyncio.run(bench_ui(url, run_id, args.rounds)).items():
        print(f"  {label:<45} {ms:8.2f}")
    print("\ncold start:")
    for label, ms in bench_cold_start(url, str(folder / "home"), args.rounds).items():
        print(f"  {label:<45} {ms if isinstance(ms, str) else f'{ms:8.2f}'}")
    print(f"\nheavy modules imported on the panel path: {imports_on_panel_path()}")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
        if args.db:
            path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
