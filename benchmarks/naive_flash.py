"""The naive order public scripts use, for comparison with flash4i's (run by hand, or by
bench_window.py): everything inside the suspend, a new SSH connection per command.

    python benchmarks/naive_flash.py --config LAB.yaml [--client openssh|paramiko]
        [--source PROD] [--storage FS9500] [--group NAIVE] [--pairs PROD_001:CLN1_001,...]

  ssh IBM i   system "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(30) SSPTIMOACN(*CONT)"
  ssh SVC     svctask mkfcconsistgrp -name G
  ssh SVC     svctask mkfcmap -source S -target T -consistgrp G      (per volume)
  ssh SVC     svctask prestartfcconsistgrp G
  ssh SVC     svcinfo lsfcconsistgrp -delim : G                       (until prepared)
  ssh SVC     svctask startfcconsistgrp G
  ssh IBM i   system "CHGASPACT ASPDEV(*SYSBAS) OPTION(*RESUME)"

Before the suspend (outside the window, not timed) it removes what a previous pass left
(stopfcconsistgrp -force, rmfcconsistgrp -force). The window it prints is its own view: from the
suspend command's return to the resume command's return (the lab's pauses say what production saw).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import yaml

SUSPEND = 'system "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(30) SSPTIMOACN(*CONT)"'
RESUME = 'system "CHGASPACT ASPDEV(*SYSBAS) OPTION(*RESUME)"'


@dataclass
class Target:
    host: str
    port: int
    user: str
    key_file: str
    known_hosts: str


def _target(entry: dict) -> Target:
    ssh = entry.get("ssh", entry)
    return Target(ssh["host"], int(ssh["port"]), ssh["user"], ssh["auth"]["key_file"], ssh["known_hosts"])


def one_command(t: Target, command: str, client: str) -> Tuple[int, str]:
    """COMMAND over a new SSH connection; (exit status, output)."""
    if client == "openssh":
        proc = subprocess.run(["ssh", "-p", str(t.port), "-i", t.key_file, "-o", f"UserKnownHostsFile={t.known_hosts}",
                               "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                               "-o", "LogLevel=ERROR", f"{t.user}@{t.host}", command],
                              capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stdout + proc.stderr
    import paramiko
    c = paramiko.SSHClient()
    c.load_host_keys(t.known_hosts)
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.connect(t.host, t.port, t.user, key_filename=t.key_file, allow_agent=False, look_for_keys=False, timeout=30)
    try:
        _, out, err = c.exec_command(command, timeout=120)
        text = out.read().decode() + err.read().decode()
        return out.channel.recv_exit_status(), text
    finally:
        c.close()


def naive_flash(ibmi: Target, svc: Target, group: str, pairs: List[Tuple[str, str]], client: str = "openssh") -> dict:
    """One pass; returns the script's own window (s) and the commands it sent inside it."""
    # outside the window: clean what the last pass left
    one_command(svc, f"svctask stopfcconsistgrp -force {group}", client)
    one_command(svc, f"svctask rmfcconsistgrp -force {group}", client)
    status, out = one_command(ibmi, SUSPEND, client)
    if status != 0:
        raise RuntimeError(f"suspend failed: {out}")
    t0 = time.monotonic()
    sent = 0
    try:
        for command in [f"svctask mkfcconsistgrp -name {group}"] + \
                       [f"svctask mkfcmap -source {s} -target {t} -consistgrp {group}" for s, t in pairs] + \
                       [f"svctask prestartfcconsistgrp {group}"]:
            status, out = one_command(svc, command, client)
            sent += 1
            if status != 0:
                raise RuntimeError(f"{command}: {out}")
        while True:
            status, out = one_command(svc, f"svcinfo lsfcconsistgrp -delim : {group}", client)
            sent += 1
            if "prepared" in out:
                break
            if time.monotonic() - t0 > 60:
                raise RuntimeError(f"{group} not prepared: {out}")
            time.sleep(0.1)
        status, out = one_command(svc, f"svctask startfcconsistgrp {group}", client)
        sent += 1
        if status != 0:
            raise RuntimeError(f"startfcconsistgrp: {out}")
    finally:
        status, out = one_command(ibmi, RESUME, client)
        sent += 1
    return {"window": time.monotonic() - t0, "commands": sent}


def from_config(path: Path, source: str, storage: str) -> Tuple[Target, Target]:
    cfg = yaml.safe_load(Path(path).read_text())
    part = next(p for p in cfg["partitions"] if p["name"] == source)
    stor = next(s for s in cfg["storage"] if s["name"] == storage)
    return _target(part), _target(stor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the configuration the lab wrote (flash4i lab --write-config)")
    parser.add_argument("--source", default="PROD")
    parser.add_argument("--storage", default="FS9500")
    parser.add_argument("--group", default="NAIVE")
    parser.add_argument("--pairs", default="PROD_001:CLN1_001,PROD_002:CLN1_002,PROD_003:CLN1_003,PROD_004:CLN1_004")
    parser.add_argument("--client", choices=["openssh", "paramiko"], default="openssh")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    ibmi, svc = from_config(Path(args.config), args.source, args.storage)
    pairs = [tuple(p.split(":")) for p in args.pairs.split(",")]
    for _ in range(args.runs):
        result = naive_flash(ibmi, svc, args.group, pairs, args.client)
        print(f"suspended window (script's view): {result['window'] * 1000:.0f} ms, {result['commands']} commands "
              f"inside it, each on a new connection")
    return 0


if __name__ == "__main__":
    sys.exit(main())
