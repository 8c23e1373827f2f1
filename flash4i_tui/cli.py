"""The `flash4i` command: parse the arguments, call the services, map errors to exit codes.

Each area adds its own subcommands through an `add_commands(subparsers)` function
(COMMAND_MODULES); heavy imports stay inside the handlers so `flash4i --help` is fast.
This module is the only one in the core allowed to launch the Textual panels.
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import traceback
from typing import Callable, Optional, Sequence

from . import __version__
from .errors import Flash4iError
from .textfmt import fmt_bytes, fmt_proven, fmt_seconds, fmt_time

COMMAND_MODULES = (
    "flash4i_tui.cli",
    "flash4i_tui.engine.commands",
    "flash4i_tui.engine.agentctl",
    "flash4i_tui.monitor.commands",
    "flash4i_tui.lab.commands",
    "flash4i_tui.serve",
)


# ------------------------------------------------------------------ helpers for handlers

def open_store(args: argparse.Namespace):
    from .store import open_store as _open
    return _open(args.db)


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


# ------------------------------------------------------------------ argument types
# Checked by argparse, so a bad value is a usage error (exit 2) before anything is opened.

MAX_ID = 2 ** 63 - 1      # a store key (SQLite INTEGER, PostgreSQL bigint)


def run_number(text: str) -> int:
    """A run id: a whole number a store key can hold (a 30-digit id would crash the driver)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a run number") from None
    if not 1 <= value <= MAX_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is not a run number (1-{MAX_ID})")
    return value


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """A count between LOW and HIGH (a page size, how many next times): never 'everything'."""
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range ({low}-{high})")
        return value
    check.__name__ = "whole number"
    return check


def seconds(text: str) -> float:
    """A bound in seconds: above 0 and finite (nan or inf would make a wait endless)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


# ------------------------------------------------------------------ core commands

def cmd_config_validate(args: argparse.Namespace) -> int:
    from .config.store_io import load_config_file
    cfg = load_config_file(args.file)
    print(f"{args.file}: valid ({len(cfg['environments'])} environments, {len(cfg['partitions'])} partitions, "
          f"{len(cfg['hmcs'])} HMCs, {len(cfg['storage'])} storage systems)")
    return 0


def cmd_config_import(args: argparse.Namespace) -> int:
    from .config.store_io import import_config, load_config_file
    cfg = load_config_file(args.file)      # every problem is found before the store is touched
    open_store(args)
    counts = import_config(cfg)
    print("imported " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return 0


def cmd_config_export(args: argparse.Namespace) -> int:
    from .config.store_io import export_yaml
    from .paths import write_private
    open_store(args)
    text = export_yaml()
    if args.output and args.output != "-":
        write_private(__import__("pathlib").Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_env_list(args: argparse.Namespace) -> int:
    from .store import queries
    open_store(args)
    envs = queries.environments()
    last = queries.last_runs()
    rows = []
    for e in envs:
        run = last.get(e.id)
        rows.append({"name": e.name, "function": e.function, "source": e.source.name, "clone": e.clone.name,
                     "storage": e.storage.name, "schedule": e.schedule, "description": e.description,
                     "last_run": run.id if run else None, "last_state": run.state if run else None})
    if args.json:
        print_json(rows)
    else:
        print_table(["Name", "Function", "Source", "Clone", "Storage", "Schedule", "Last run"],
                    [[r["name"], r["function"], r["source"], r["clone"], r["storage"], r["schedule"] or "",
                      f"{r['last_run']} {r['last_state']}" if r["last_run"] else ""] for r in rows])
    return 0


def cmd_env_show(args: argparse.Namespace) -> int:
    from .config.store_io import environment_record
    from .config.yamlsrc import dump_yaml
    from .store import queries
    open_store(args)
    record = environment_record(queries.environment(args.name))
    if args.json:
        print_json(record)
    else:
        sys.stdout.write(dump_yaml(record))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from .store import queries
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
    if args.steps:
        for r in data:
            print(f"\nRun {r['id']} {r['environment']} {r['state']} {r['message']}".rstrip())
            for s in r["steps"]:
                print(f"  {s['seq']:>2} {s['name']:<18} {s['status']:<8} {fmt_seconds(s['duration']):>10}  {s['detail']}")
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    # The composition root: the only place the core reaches the Textual panels.
    from screens.app import run_app
    return run_app(db_url=args.db, start=getattr(args, "start_command", None),
                   system_name=getattr(args, "system_name", None), greeting=getattr(args, "greeting", ""))


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="validate, import or export a configuration file")
    csub = p.add_subparsers(dest="config_command", required=True, metavar="{validate,import,export}")
    v = csub.add_parser("validate", help="check a configuration file; list every problem")
    v.add_argument("file")
    v.set_defaults(handler=cmd_config_validate)
    i = csub.add_parser("import", help="validate a configuration file and write it into the store")
    i.add_argument("file")
    i.set_defaults(handler=cmd_config_import)
    e = csub.add_parser("export", help="write the store's definitions as YAML")
    e.add_argument("-o", "--output", help="file to write (mode 0600); default standard output")
    e.set_defaults(handler=cmd_config_export)

    p = sub.add_parser("env", help="list or show environments")
    esub = p.add_subparsers(dest="env_command", required=True, metavar="{list,show}")
    lst = esub.add_parser("list", help="list the environments")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_env_list)
    show = esub.add_parser("show", help="show one environment")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_env_show)

    h = sub.add_parser("history", help="runs with their step durations, suspended window and space used")
    h.add_argument("--env", help="only this environment")
    h.add_argument("--limit", type=whole_number(1, 10000), default=20)
    h.add_argument("--steps", action="store_true", help="list each run's steps")
    h.add_argument("--json", action="store_true")
    h.set_defaults(handler=cmd_history)

    t = sub.add_parser("tui", help="open the 5250-style panels (the default without a command)")
    t.set_defaults(handler=cmd_tui)


# ------------------------------------------------------------------ entry point

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flash4i", description="Clone an IBM i partition with a storage snapshot and put the clone to work.")
    parser.add_argument("--version", action="version", version=f"flash4i {__version__}")
    parser.add_argument("--db", metavar="URL", help="store URL (sqlite:///PATH or postgresql://...); "
                        "default $FLASH4I_DB or the per-user SQLite file")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = sys.modules[__name__] if name == __name__ else _import_optional(name)
        if module is not None:
            module.add_commands(sub)
    return parser


def _import_optional(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:      # the area is not built yet; anything else is a real error
            return None
        raise


def _tolerant_streams() -> None:
    """A file name that is not UTF-8 arrives as surrogate escapes; echoing it (or argparse quoting
    a bad argument) must give back its bytes, not fail: stdout is strict under a UTF-8 locale, and
    stderr is whatever an embedding caller gave us."""
    for stream, errors in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=errors)


def main(argv: Optional[Sequence[str]] = None) -> int:
    _tolerant_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Optional[Callable[[argparse.Namespace], int]] = getattr(args, "handler", None)
    if handler is None:
        handler = cmd_tui
    debug = args.debug or os.environ.get("FLASH4I_DEBUG") == "1"
    try:
        return int(handler(args) or 0)
    except Flash4iError as exc:
        if debug:
            traceback.print_exc()
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"flash4i: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("flash4i: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an unexpected failure is still one clear line
        if debug:
            traceback.print_exc()
        print(f"flash4i: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
