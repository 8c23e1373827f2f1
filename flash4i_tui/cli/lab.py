"""`flash4i lab` (the simulated datacenter in the foreground) and `flash4i labctl` (talk to a
running lab over its control API)."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from ..errors import Flash4iError
from ..paths import data_dir, write_private
from ..lab import TOPOLOGIES


def default_state_dir() -> Path:
    return data_dir() / "lab"


def cmd_lab(args: argparse.Namespace) -> int:
    from ..lab.faults import FaultRules
    from ..lab.server import Lab, load_topology
    state_dir = Path(args.state) if args.state else default_state_dir()
    faults = FaultRules.load(Path(args.faults)) if args.faults else None
    try:
        topology = load_topology(Path(args.topology) if args.topology else None, args.storage)
    except (OSError, ValueError) as exc:
        raise Flash4iError(f"cannot read the lab topology: {exc}") from None
    lab = Lab(topology, state_dir, speed=args.speed, faults=faults)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    lab.start()
    try:
        config_path = Path(args.write_config) if args.write_config else state_dir / "lab.yaml"
        lab.write_config(config_path)
        ep = lab.endpoints
        info = {"pid": os.getpid(), "config": str(config_path.resolve()), "control_url": ep.control_url,
                "hmcs": ep.hmcs, "storage": ep.storage, "ibmi": ep.ibmi, "speed": lab.world.clock.speed,
                "known_hosts": str(lab.files()["known_hosts"]), "client_key": str(lab.files()["client_key"])}
        write_private(state_dir / "lab.json", json.dumps(info, indent=2) + "\n")
        print(f"flash4i lab at speed {lab.world.clock.speed:g} (state in {state_dir})")
        for name, port in ep.hmcs.items():
            print(f"  HMC      {name:<10} ssh -p {port} hscroot@127.0.0.1")
        for name, port in ep.storage.items():
            if name in ep.storage_urls:
                print(f"  REST     {name:<10} {ep.storage_urls[name]}")
            else:
                print(f"  SVC      {name:<10} ssh -p {port} flash4i@127.0.0.1")
        passwords = lab.passwords()
        if passwords:
            # The REST arrays' lab passwords reach flash4i through password_env, as real ones would.
            env_file = state_dir / "lab.env"
            write_private(env_file, "".join(f"export {var}='{value}'\n" for var, value in passwords.items()))
            print(f"  secrets  {env_file}   (sets {', '.join(passwords)} for flash4i commands)")
        for address, port in ep.ibmi.items():
            print(f"  IBM i    {address:<15} ssh -p {port} FLASH4I@127.0.0.1")
        print(f"  control  {ep.control_url}   (flash4i labctl state|events|conflicts|pauses|faults FILE|"
              f"latency [FILE]|stats)")
        print(f"  config   {config_path}   known_hosts {lab.files()['known_hosts']}")
        print("events:", flush=True)
        lab.world.listeners.append(lambda e: print(f"  {e.at:%H:%M:%S} {e.kind:<9} {e.text}", flush=True))
        while not stop.wait(0.5):
            pass
    finally:
        lab.stop()
        (state_dir / "lab.json").unlink(missing_ok=True)
    return 0


# ------------------------------------------------------------------ labctl

def _lab_info(state: Optional[str]) -> dict:
    path = (Path(state) if state else default_state_dir()) / "lab.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise Flash4iError(f"no running lab found ({path} is missing): start one with `flash4i lab`") from None


def _control(info: dict, method: str, path: str, body: Optional[bytes] = None) -> dict:
    request = urllib.request.Request(info["control_url"] + path, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        raise Flash4iError(f"lab control API: {json.loads(exc.read().decode()).get('error', exc)}") from None
    except OSError as exc:
        raise Flash4iError(f"the lab does not answer at {info['control_url']}: {exc}") from None


def cmd_labctl(args: argparse.Namespace) -> int:
    info = _lab_info(args.state)
    if args.action == "state":
        print(json.dumps(_control(info, "GET", "/state"), indent=2))
    elif args.action == "events":
        for event in _control(info, "GET", f"/events?since={args.since}")["events"]:
            print(f"{event['seq']:>6} {event['at'][11:19]} {event['kind']:<9} {event['text']}")
    elif args.action == "conflicts":
        conflicts = _control(info, "GET", "/conflicts")["conflicts"]
        for event in conflicts:
            print(f"{event['at'][:19]} {event['text']}")
        print(f"{len(conflicts)} conflicts")
        return 1 if conflicts else 0
    elif args.action == "pauses":
        # Ground truth: how long production's I/O was held, as the lab's IBM i and arrays saw it.
        pauses = _control(info, "GET", "/pauses")["pauses"]
        for pause in pauses:
            seconds = "still held" if pause["open"] else f"{pause['seconds']:.3f}s"
            print(f"{pause['at'][:19]} {pause['who']:<20} {pause['kind']:<12} {seconds:>11} {pause['how']}")
        print(f"{len(pauses)} pauses, {sum(1 for p in pauses if p['open'])} still held")
        return 1 if any(p["open"] for p in pauses) else 0
    elif args.action == "faults":
        if not args.file:
            raise Flash4iError("labctl faults needs a YAML file of fault rules")
        print(_control(info, "PUT", "/faults", Path(args.file).read_bytes()))
    elif args.action == "clear-faults":
        print(_control(info, "DELETE", "/faults"))
    elif args.action == "latency":
        # Without a file: show the latencies; with one (YAML, `-` for stdin): replace them.
        if args.file:
            body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
            print(json.dumps(_control(info, "PUT", "/latency", body), indent=2))
        else:
            print(json.dumps(_control(info, "GET", "/latency"), indent=2))
    elif args.action == "clear-latency":
        print(json.dumps(_control(info, "DELETE", "/latency"), indent=2))
    elif args.action == "stats":
        print(json.dumps(_control(info, "GET", "/stats"), indent=2))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="run the simulated datacenter (HMC, FlashSystem, IBM i) in the foreground")
    p.add_argument("--speed", type=float, help="lab seconds per real second (default: the topology's)")
    p.add_argument("--topology", help="topology YAML (default: the shipped datacenter of --storage)")
    p.add_argument("--storage", choices=sorted(TOPOLOGIES), default="svc",
                   help="the shipped datacenter's storage family (default: svc, a FlashSystem)")
    p.add_argument("--write-config", metavar="FILE", help="write a flash4i configuration for this lab")
    p.add_argument("--state", help="state folder (host keys, client key, known_hosts)")
    p.add_argument("--faults", help="fault rules YAML, re-read when it changes")
    p.set_defaults(handler=cmd_lab)

    p = sub.add_parser("labctl", help="talk to a running lab: state, events, conflicts, fault rules, latency")
    p.add_argument("action", choices=["state", "events", "conflicts", "pauses", "faults", "clear-faults",
                                      "latency", "clear-latency", "stats"])
    p.add_argument("file", nargs="?", help="fault rules YAML (for `faults`); latency YAML (for `latency`, "
                                           "`-` for stdin; without it: show them)")
    p.add_argument("--since", type=int, default=0)
    p.add_argument("--state", help="the lab's state folder")
    p.set_defaults(handler=cmd_labctl)
