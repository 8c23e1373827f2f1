"""CLI commands of the engine: start, plan, worker, cancel, agent."""
from __future__ import annotations

import argparse
import sys
import time

from ..cli import open_store, print_json
from ..textfmt import fmt_seconds


def cmd_start(args: argparse.Namespace) -> int:
    from ..store import queries
    from .queue import submit_run
    from .launch import ensure_worker
    open_store(args)
    run = submit_run(args.env, requested_by=args.user)
    print(f"run {run.id} of {run.env_name} ({run.function}) queued")
    if not args.no_worker:
        pid = ensure_worker(args.db)
        if pid:
            print(f"worker started (pid {pid})")
    if not args.wait:
        return 0
    return follow(run.id, args.timeout, as_json=args.json, queries=queries)


def follow(run_id: int, timeout: float, as_json: bool, queries) -> int:
    """Print each step as it completes; exit 0 on success, 1 on failure."""
    printed = set()
    deadline = time.monotonic() + timeout
    while True:
        run = queries.run(run_id)
        for step in queries.steps(run):
            if step.status in ("OK", "FAILED", "SKIPPED") and step.seq not in printed:
                printed.add(step.seq)
                if not as_json:
                    print(f"{step.name:<18} {step.status:<8} {fmt_seconds(step.duration):>9}  {step.detail}")
                    sys.stdout.flush()
        if run.state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        if time.monotonic() > deadline:
            print(f"flash4i: run {run_id} still {run.state} after {timeout:.0f}s (it goes on in the worker)",
                  file=sys.stderr)
            return 1
        time.sleep(0.5)
    if as_json:
        print_json(queries.run_summary(run))
    else:
        window = fmt_seconds(run.suspended_seconds) if run.suspended_seconds is not None else "n/a"
        print(f"run {run.id} {run.state} in {fmt_seconds(run.duration)}; production suspended {window}"
              + (f": {run.message}" if run.message else ""))
    return 0 if run.state == "SUCCEEDED" else 1


def cmd_plan(args: argparse.Namespace) -> int:
    from .describe import describe_plan
    open_store(args)
    plan = describe_plan(args.env)
    if args.json:
        print_json(plan)
        return 0
    print(f"Plan of environment {plan['environment']} ({plan['function']}): nothing below is sent by `plan`.")
    for step in plan["steps"]:
        bound = fmt_seconds(step["bound_seconds"])
        if step["skipped"]:
            print(f"\n{step['name']}  (skipped: {step['skipped']})")
            continue
        print(f"\n{step['name']}  (bound {bound})")
        for line in step["commands"]:
            print(f"  {line['device']:<10} {line['command']}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from .worker import Worker
    worker = Worker(args.db, concurrency=args.concurrency, idle_exit=args.idle_exit, step_poll=args.step_poll)
    worker.install_signal_handlers()
    print(f"flash4i worker {worker.ident} serving {worker.db_url}", flush=True)
    return worker.serve()


def cmd_cancel(args: argparse.Namespace) -> int:
    from .queue import request_cancel
    open_store(args)
    run = request_cancel(args.run)
    print(f"run {run.id}: {run.state}" + (" (stop requested)" if run.cancel_requested else ""))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("start", help="queue a run of an environment (and start a worker if none is alive)")
    p.add_argument("env")
    p.add_argument("--wait", action="store_true", help="follow the run; exit 0 on success, 1 on failure")
    p.add_argument("--timeout", type=float, default=48 * 3600, help="seconds --wait follows the run")
    p.add_argument("--user", help="who starts the run (default: your login)")
    p.add_argument("--no-worker", action="store_true", help="only queue the run")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_start)

    p = sub.add_parser("plan", help="print the steps and the exact commands a run would send (touches no device)")
    p.add_argument("env")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser("worker", help="claim queued runs from the store and execute them")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--idle-exit", type=float, default=None, help="exit after this many idle seconds")
    p.add_argument("--step-poll", type=float, default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_worker)

    p = sub.add_parser("cancel", help="stop a queued or running run (production is resumed first)")
    p.add_argument("run", type=int)
    p.set_defaults(handler=cmd_cancel)
