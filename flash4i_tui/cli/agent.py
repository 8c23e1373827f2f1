"""flash4i agent install|check PARTITION: the clone agent on a source partition."""
from __future__ import annotations

import argparse

from ..agent import flash4i_agent as agent
from ..engine.agentctl import STRTCP_VALUES, check_agent, install_agent
from .common import open_store


def cmd_agent_install(args: argparse.Namespace) -> int:
    open_store(args)
    print(install_agent(args.partition, args.strtcp_before))
    return 0


def cmd_agent_check(args: argparse.Namespace) -> int:
    open_store(args)
    problems = check_agent(args.partition)
    for problem in problems:
        print(f"{args.partition}: {problem}")
    if not problems:
        print(f"{args.partition}: agent {agent.VERSION} installed and verified")
    return 1 if problems else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agent", help="install or verify the clone agent on a source partition")
    asub = p.add_subparsers(dest="agent_command", required=True, metavar="{install,check}")
    i = asub.add_parser("install", help="upload the agent, compile the startup wrapper, set QSTRUPPGM (over SSH)")
    i.add_argument("partition")
    i.add_argument("--strtcp-before", choices=STRTCP_VALUES, default=None,
                   help="the IPL attribute STRTCP before the install (default *YES; kept from a first install)")
    i.set_defaults(handler=cmd_agent_install)
    c = asub.add_parser("check", help="verify the agent's installation (exit 1 with one line per finding)")
    c.add_argument("partition")
    c.set_defaults(handler=cmd_agent_check)
