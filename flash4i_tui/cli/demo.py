"""`flash4i demo`: composition, not lab. The lab in the background, its configuration imported
into a demo store, the clone agent installed on its production partition, then the panels."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from ..errors import Flash4iError
from ..lab import TOPOLOGIES
from ..paths import data_dir, private_dir
from .common import open_store
from .tui import cmd_tui


def cmd_demo(args: argparse.Namespace) -> int:
    """Start the lab in the background, import its configuration into a demo store, open the panels."""
    from ..config.store_io import import_config, load_config_file
    demo = private_dir(data_dir() / "demo")
    suffix = _suffix(args.storage)
    state_dir = demo / f"lab{suffix}"
    if args.stop:
        return _stop_lab(state_dir)
    info = _running_lab(state_dir) or _spawn_lab(state_dir, demo / f"lab{suffix}.log", args.speed, args.storage)
    args.db = args.db or f"sqlite:///{demo / f'demo{suffix}.db'}"
    open_store(args)
    import_config(load_config_file(info["config"]))
    _install_agent(args, demo)
    secrets = _lab_secrets(state_dir / "lab.env")
    os.environ.update(secrets)      # the panels, and the workers they start, reach the REST arrays
    print(f"demo store {args.db}; lab pid {info['pid']} (stop it with `flash4i demo --stop"
          f"{'' if args.storage == 'svc' else ' --storage ' + args.storage}`)")
    if secrets:
        print(f"for flash4i commands in another shell: . {state_dir / 'lab.env'}   (the lab arrays' passwords)")
    if args.no_tui:
        return 0
    args.start_command = "WRKFLENV"
    args.system_name = "FLASHLAB"
    args.greeting = "Lab ready. Type 1 next to an environment and press Enter to start a run."
    return cmd_tui(args)


def _suffix(storage: str) -> str:
    """What the demo's files of STORAGE's datacenter are told apart by (svc keeps the names it always had)."""
    return "" if storage == "svc" else f"-{storage}"


def _lab_secrets(env_file: Path) -> dict:
    """The variables of the lab's lab.env (written by `flash4i lab`, mode 0600): export NAME='value'."""
    try:
        lines = env_file.read_text().splitlines()
    except FileNotFoundError:
        return {}
    pairs = (line[len("export "):].split("=", 1) for line in lines if line.startswith("export ") and "=" in line)
    return {name: value.strip("'") for name, value in pairs}


def _running_lab(state_dir: Path) -> Optional[dict]:
    try:
        info = json.loads((state_dir / "lab.json").read_text())
        os.kill(int(info["pid"]), 0)
        return info
    except (OSError, ValueError, KeyError):
        return None


def _spawn_lab(state_dir: Path, log: Path, speed: Optional[float], storage: str = "svc") -> dict:
    (state_dir / "lab.json").unlink(missing_ok=True)
    command = [sys.executable, "-m", "flash4i_tui", "lab", "--state", str(state_dir), "--storage", storage]
    if speed:
        command += ["--speed", str(speed)]
    with open(log, "a") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                                close_fds=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = _running_lab(state_dir)
        if info:
            return info
        if proc.poll() is not None:
            raise Flash4iError(f"the lab did not start (exit {proc.returncode}); see {log}")
        time.sleep(0.1)
    raise Flash4iError(f"the lab did not come up within 30 s; see {log}")


def _stop_lab(state_dir: Path) -> int:
    info = _running_lab(state_dir)
    if not info:
        print("no demo lab is running")
        return 0
    os.kill(int(info["pid"]), signal.SIGTERM)
    print(f"demo lab (pid {info['pid']}) stopped")
    return 0


def _install_agent(args: argparse.Namespace, demo: Path) -> None:
    """Install the clone agent on the demo's production partition once (needed by *BRMS, *SAVE21, *USER)."""
    marker = demo / f"agent-installed{_suffix(args.storage)}"
    if marker.exists():
        return
    from ..engine.agentctl import install_agent
    install_agent("PROD")
    marker.write_text("PROD\n")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="start the lab in the background and open the panels on a demo store")
    p.add_argument("--speed", type=float, help="lab speed (default: the topology's)")
    p.add_argument("--no-tui", action="store_true", help="prepare the demo, do not open the panels")
    p.add_argument("--stop", action="store_true", help="stop the demo lab")
    p.add_argument("--storage", choices=sorted(TOPOLOGIES), default="svc",
                   help="the demo datacenter's storage: svc (FlashSystem), ds8000 or powermax; each has its "
                        "own lab and demo store")
    p.set_defaults(handler=cmd_demo)
