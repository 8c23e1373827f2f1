"""flash4i start, plan, worker, resume, cancel, history, trust, rcvpnt: runs and what they need."""
from __future__ import annotations

import argparse
import re
import sys
import time

from .common import open_store, print_json, print_table, run_number, seconds, whole_number
from ..errors import SafetyRefusal, ValidationError
from ..store.db import redact_url
from ..textfmt import fmt_bytes, fmt_proven, fmt_seconds, fmt_time


def cmd_history(args: argparse.Namespace) -> int:
    from ..store import queries
    open_store(args)
    if args.env:
        queries.environment(args.env)  # a clear error for an unknown name
    runs = queries.runs_page(env_name=args.env, limit=args.limit)
    data = [queries.run_summary(r) for r in runs]
    if args.json:
        print_json(data)
        return 0
    if not data:
        print("no runs yet")
        return 0
    print_table(["Run", "Environment", "Function", "Started", "Duration", "Suspended", "Space used", "Proven",
                 "State"],
                [[r.id, r.env_name, r.function, fmt_time(r.started_at or r.requested_at), fmt_seconds(r.duration),
                  fmt_seconds(r.suspended_seconds), fmt_bytes(r.space_used_bytes), fmt_proven(r.proven), r.state]
                 for r in runs])
    for r in data:             # why a clone is not proven (engine/proof.py), one line per run
        why = (r["proof"] or {}).get("reasons") if r["proven"] is False else None
        if why:
            print(f"run {r['id']}: clone NOT proven: {'; '.join(why)}")
    if args.steps:
        for r in data:
            print(f"\nRun {r['id']} {r['environment']} {r['state']} {r['message']}".rstrip())
            for s in r["steps"]:
                print(f"  {s['seq']:>2} {s['name']:<18} {s['status']:<8} {fmt_seconds(s['duration']):>10}  {s['detail']}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    from ..store import queries
    from ..engine.queue import submit_run
    from ..engine.launch import ensure_worker
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
    from ..engine.describe import describe_plan
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
    from ..engine.worker import Worker
    worker = Worker(args.db, concurrency=args.concurrency, idle_exit=args.idle_exit, step_poll=args.step_poll)
    worker.install_signal_handlers()
    print(f"flash4i worker {worker.ident} serving {redact_url(worker.db_url)}", flush=True)
    return worker.serve()


def cmd_resume(args: argparse.Namespace) -> int:
    from ..engine.steps import resume_by_hand
    open_store(args)
    print(f"run {args.run}: {resume_by_hand(args.run, args.timeout)}; the resume is recorded as confirmed")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from ..engine.queue import request_cancel
    open_store(args)
    run = request_cancel(args.run)
    print(f"run {run.id}: {run.state}" + (" (stop requested)" if run.cancel_requested else ""))
    return 0


def cmd_rcvpnt_list(args: argparse.Namespace) -> int:
    from ..store.queries import environment
    from ..engine.generations import listing
    open_store(args)
    rows = listing(environment(args.env))
    if args.json:
        print_json(rows)
        return 0
    print_table(["Gen", "Consistency group", "Taken", "Run", "State", "Space used", "Proven"],
                [[r["generation"], r["consistency_group"], fmt_time(r["taken_at"]), r["run"] or "",
                  r["state"], fmt_bytes(r["space_used_bytes"]), fmt_proven(r["proven"])] for r in rows])
    return 0


def cmd_rcvpnt_boot(args: argparse.Namespace) -> int:
    from ..engine.rcvpnt import boot
    open_store(args)
    result = boot(args.env, args.generation, bound=args.timeout)
    print(f"{result.environment} generation {result.generation} (taken {fmt_time(result.taken_at)} by run "
          f"{result.run_id}): {result.detail}")
    print(f"{result.clone} ({result.lpar_name} on {result.system}) waits at its console in a manual IPL "
          f"({result.refcode}). Next, at the console:")
    for n, text in enumerate(result.next_steps, 1):
        print(f"  {n}. {text}" if not text.startswith("  ") else f"     {text.strip()}")
    return 0


def cmd_rcvpnt_verify(args: argparse.Namespace) -> int:
    """Without readings: boot the generation isolated and say what to read at its console; with
    them (--journal, --previous-end): judge, record the generation's proof, stop the clone."""
    from ..engine.rcvpnt import boot, console_steps, verify_record
    from ..engine.context import Defs
    from ..config.store_io import environment_record
    from ..store.queries import environment
    open_store(args)
    if args.previous_end is None:
        if args.journal:
            raise ValidationError("--journal needs --previous-end (what DSPSYSVAL QABNORMSW showed)")
        result = boot(args.env, args.generation, bound=args.timeout)
        print(f"{result.environment} generation {result.generation} (taken {fmt_time(result.taken_at)} by run "
              f"{result.run_id}): {result.detail}")
        print(f"{result.clone} ({result.lpar_name} on {result.system}) waits at its console in a manual IPL "
              f"({result.refcode}). Next, at the console:")
        steps = result.next_steps[:-1] + console_steps(Defs.load(environment_record(environment(args.env))),
                                                       result.generation)
        for n, text in enumerate(steps, 1):
            print(f"  {n}. {text}" if not text.startswith("  ") else f"     {text.strip()}")
        return 0
    result = verify_record(args.env, args.generation, dict(args.journal or []), args.previous_end,
                           bound=args.timeout)
    print(f"{result.environment} generation {result.generation}: "
          f"{'proven' if result.proven else 'NOT proven: ' + '; '.join(result.reasons)}; {result.stopped}")
    return 0 if result.proven else 1


def _journal_reading(text: str) -> tuple:
    """LIB/JRN=SEQ, as read at the console."""
    from ..config.schema import qualified_journal
    name, sep, seq = text.partition("=")
    if not sep or not seq.strip().isdigit() or len(seq.strip()) > 21:
        raise argparse.ArgumentTypeError(f"{text!r} is not LIB/JRN=SEQUENCE")
    try:
        return qualified_journal(name.strip().upper()), int(seq.strip())
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _ssh_devices(host: str = "", port: int = 0, name: str = "") -> list:
    """(name, host, port, known_hosts) of the store's SSH devices with NAME, or at HOST:PORT."""
    from ..store import models as m
    found = [(h.name, h.host, h.port, h.known_hosts) for h in m.Hmc.select()]
    found += [(s.name, s.host, s.port, s.known_hosts) for s in m.StorageSystem.select() if s.type == "svc"]
    found += [(p.name, p.ssh_host, p.ssh_port, p.known_hosts) for p in m.Partition.select()]
    return [d for d in found if d[0] == name or (d[1], d[2]) == (host, port)]


def _trust_target(target: str) -> tuple:
    """HOST, PORT and the configured known_hosts files of TARGET: a device name or HOST[:PORT]."""
    from .. import names
    from ..store import models as m
    named = _ssh_devices(name=target)
    rest = m.StorageSystem.get_or_none(m.StorageSystem.name == target)
    if rest is not None and not named:
        raise ValidationError(f"{target} is reached over HTTPS ({rest.type}): its certificate is trusted through "
                              "the storage option ca_file, not known_hosts")
    if named:
        _, host, port, _ = named[0]
    else:
        # [v6]:port, host:port, or a bare host (an IPv6 address has several colons)
        bracketed = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", target)
        if bracketed:
            host, port_text = bracketed.group(1), bracketed.group(2) or "22"
        elif target.count(":") == 1:
            host, port_text = target.split(":")
        else:
            host, port_text = target, "22"
        if not (port_text.isascii() and port_text.isdigit()):
            raise ValidationError(f"{target!r}: the port after ':' is not a number")
        host, port = names.host(host), names.port(int(port_text))
    return host, port, sorted({d[3] or "" for d in _ssh_devices(host, port)})


def cmd_trust(args: argparse.Namespace) -> int:
    from ..devices.hostkeys import add_known_host, fingerprint, judge_host, known_hosts_path
    open_store(args)
    host, port, configured = _trust_target(args.target)
    if args.known_hosts:
        configured = [args.known_hosts]
    if len(configured) > 1:
        raise ValidationError(f"the devices at {host}:{port} use different known_hosts files "
                              f"({', '.join(c or '~/.ssh/known_hosts' for c in configured)}): name one with --known-hosts")
    path = known_hosts_path(configured[0] if configured else None)
    verdict = judge_host(host, port, path, timeout=args.timeout)
    shown = f"{host}:{port} presents {verdict.key.get_name()} {fingerprint(verdict.key)}"
    if verdict.trusted:
        print(f"{shown}: already trusted in {path}")
        return 0
    if verdict.changed:
        raise SafetyRefusal(f"{shown}, but {path} knows it by {verdict.known.get_name()} "
                            f"{fingerprint(verdict.known)}: THE HOST KEY HAS CHANGED. Nothing was written. If the "
                            "change is expected (the device was reinstalled), remove the old line "
                            f"(ssh-keygen -R '{host if port == 22 else f'[{host}]:{port}'}' -f {path}) and run "
                            "flash4i trust again")
    print(shown)
    if args.fingerprint:
        if args.fingerprint.strip() != fingerprint(verdict.key):
            raise SafetyRefusal(f"the fingerprint given ({args.fingerprint.strip()}) is not the one presented: "
                                "nothing was written")
    elif sys.stdin.isatty():
        answer = input(f"Add it to {path}? Compare the fingerprint with the device's console first [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise SafetyRefusal("not confirmed: nothing was written")
    else:
        raise SafetyRefusal("no terminal to confirm on: compare the fingerprint with the device's console and "
                            "give it with --fingerprint (a key is never accepted without a confirmation)")
    print(f"added to {path}: {add_known_host(path, host, port, verdict.key)}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    h = sub.add_parser("history", help="runs with their step durations, suspended window and space used")
    h.add_argument("--env", help="only this environment")
    h.add_argument("--limit", type=whole_number(1, 10000), default=20)
    h.add_argument("--steps", action="store_true", help="list each run's steps")
    h.add_argument("--json", action="store_true")
    h.set_defaults(handler=cmd_history)

    p = sub.add_parser("start", help="queue a run of an environment (and start a worker if none is alive)")
    p.add_argument("env")
    p.add_argument("--wait", action="store_true", help="follow the run; exit 0 on success, 1 on failure")
    p.add_argument("--timeout", type=seconds, default=48 * 3600, help="seconds --wait follows the run")
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

    p = sub.add_parser("resume", help="resume production after a run that ended without a confirmed resume "
                                      "(and release the storage's hold on its I/O)")
    p.add_argument("run", type=run_number)
    p.add_argument("--timeout", type=seconds, default=300.0, help="seconds the resume may take, retries included")
    p.set_defaults(handler=cmd_resume)

    p = sub.add_parser("cancel", help="stop a queued or running run (production is resumed first)")
    p.add_argument("run", type=run_number)
    p.set_defaults(handler=cmd_cancel)

    p = sub.add_parser("rcvpnt", help="recovery points of an environment that keeps generations")
    rsub = p.add_subparsers(dest="rcvpnt_command", metavar="ACTION", required=True)
    r = rsub.add_parser("list", help="each generation: when it was taken, by which run, space used, proven")
    r.add_argument("env")
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=cmd_rcvpnt_list)
    r = rsub.add_parser("boot", help="copy a generation onto the clone's disks and IPL the clone in manual mode "
                                     "(it stops at its console: no startup program, no TCP/IP)")
    r.add_argument("env")
    r.add_argument("--generation", type=whole_number(1, 4096), help="default: the newest taken")
    r.add_argument("--timeout", type=seconds, default=3600.0, help="seconds until the clone waits at its console")
    r.set_defaults(handler=cmd_rcvpnt_boot)
    r = rsub.add_parser("verify", help="prove a generation: boot it isolated and read its markers at the console, "
                                       "then record them (--journal, --previous-end) and stop it")
    r.add_argument("env")
    r.add_argument("generation", type=whole_number(1, 4096))
    r.add_argument("--journal", action="append", type=_journal_reading, metavar="LIB/JRN=SEQ",
                   help="a journal's last sequence number as read at the console")
    r.add_argument("--previous-end", choices=("normal", "abnormal"), help="QABNORMSW 0 (normal) or 1 (abnormal)")
    r.add_argument("--timeout", type=seconds, default=3600.0, help="seconds for the boot, or for the stop")
    r.set_defaults(handler=cmd_rcvpnt_verify)

    p = sub.add_parser("trust", help="show an SSH device's host key fingerprint and add it to its known_hosts "
                                     "once you confirm it")
    p.add_argument("target", metavar="DEVICE|HOST[:PORT]", help="a device name in the store, or where it listens")
    p.add_argument("--known-hosts", help="the file to check and add to (default: the device's configured one, "
                                         "else ~/.ssh/known_hosts)")
    p.add_argument("--fingerprint", metavar="SHA256:...", help="confirm without a terminal: the fingerprint you "
                                                               "read on the device's console")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds for the connection and the handshake")
    p.set_defaults(handler=cmd_trust)
