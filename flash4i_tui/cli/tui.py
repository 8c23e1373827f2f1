"""flash4i tui and flash4i serve: the 5250-style panels on this terminal, or in a browser through
textual-serve (screens.web). The one place the core reaches Textual and `screens`."""
from __future__ import annotations

import argparse
import importlib.util
import os
import socket
from typing import Dict

from ..errors import Flash4iError, SafetyRefusal


def cmd_tui(args: argparse.Namespace) -> int:
    from screens.app import run_app
    return run_app(db_url=args.db, start=getattr(args, "start_command", None),
                   system_name=getattr(args, "system_name", None), greeting=getattr(args, "greeting", ""))


def cmd_serve(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("textual_serve") is None:      # looked up, not imported: screens.web does
        raise Flash4iError("flash4i serve needs textual-serve: pip install textual-serve")
    from screens.web import TOKEN_PARAM, TokenGate, is_loopback, make_server, serve_forever, ssl_context
    from ..store import open_store
    from ..store.db import resolve_url
    context = ssl_context(args.tls_cert, args.tls_key)
    if not is_loopback(args.host) and context is None:
        raise SafetyRefusal(f"serving the panels on {args.host} without TLS is refused: use an SSH tunnel to "
                            "127.0.0.1 (ssh -L PORT:127.0.0.1:PORT HOST), or give --tls-cert and --tls-key")
    panel_env: Dict[str, str] = {}
    if args.demo:               # the demo's lab and store, as `flash4i demo` prepares them
        from .demo import cmd_demo
        demo = argparse.Namespace(**vars(args))
        demo.no_tui, demo.stop, demo.speed, demo.storage = True, False, None, "svc"
        cmd_demo(demo)
        args.db = demo.db
        panel_env["FLASH4I_SYSTEM_NAME"] = "FLASHLAB"
    url = resolve_url(args.db)
    open_store(url)              # a store that cannot be opened is one error line, before anything listens
    gate, token = TokenGate.generate()
    system = (panel_env.get("FLASH4I_SYSTEM_NAME") or os.environ.get("FLASH4I_SYSTEM_NAME")
              or socket.gethostname().split(".")[0]).upper()[:8]
    server = make_server(gate, url, host=args.host, port=args.port, ssl_context=context,
                         title=f"flash4i {system}", panel_env=panel_env)
    scheme = "https" if context is not None else "http"
    once = [token]
    del token

    def ready(port: int) -> None:
        shown = args.host if ":" not in args.host else f"[{args.host}]"
        if shown in ("0.0.0.0", "[::]"):
            shown = socket.getfqdn()
        # The one time the token is shown; nothing else keeps it.
        print(f"flash4i serve: open {scheme}://{shown}:{port}/?{TOKEN_PARAM}={once.pop()}", flush=True)
        print("  The token is shown only now; every browser session needs it (a new one at each start).",
              flush=True)
        if is_loopback(args.host):
            print(f"  From another machine: ssh -N -L {port}:127.0.0.1:{port} {socket.gethostname()}, "
                  "then open the same address there.", flush=True)
        print("  Ctrl+C stops serving; runs go on in the worker.", flush=True)

    serve_forever(server, ready)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("tui", help="open the 5250-style panels (the default without a command)")
    t.set_defaults(handler=cmd_tui)

    p = sub.add_parser("serve", help="serve the panels to a browser (textual-serve; loopback and a token)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; another needs --tls-cert and --tls-key)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--tls-cert", metavar="FILE", help="TLS certificate chain (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM)")
    p.add_argument("--demo", action="store_true",
                   help="serve the demo: start the lab and its store as `flash4i demo` does")
    p.set_defaults(handler=cmd_serve)
