"""The `flash4i` command, the composition root: parse the arguments, call the services, map
errors to exit codes.

One module per command group adds its subcommands through `add_commands(subparsers)`
(COMMAND_MODULES); heavy imports stay inside the handlers so `flash4i --help` is fast. Only
this package opens a store from arguments, prints JSON or tables, composes the demo and
launches the panels (cli.tui); no package below it imports it (the layers contract in
pyproject.toml).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import Callable, Optional, Sequence

from .. import __version__
from ..errors import Flash4iError

COMMAND_MODULES = (
    "flash4i_tui.cli.config",
    "flash4i_tui.cli.runs",
    "flash4i_tui.cli.agent",
    "flash4i_tui.cli.monitor",
    "flash4i_tui.cli.lab",
    "flash4i_tui.cli.demo",
    "flash4i_tui.cli.tui",
)


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
        importlib.import_module(name).add_commands(sub)
    return parser


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
        from .tui import cmd_tui
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
