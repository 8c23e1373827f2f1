"""flash4i tui: the 5250-style panels. The one place the core reaches Textual and `screens`."""
from __future__ import annotations

import argparse


def cmd_tui(args: argparse.Namespace) -> int:
    from screens.app import run_app
    return run_app(db_url=args.db, start=getattr(args, "start_command", None),
                   system_name=getattr(args, "system_name", None), greeting=getattr(args, "greeting", ""))



def add_commands(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("tui", help="open the 5250-style panels (the default without a command)")
    t.set_defaults(handler=cmd_tui)
