"""Fault injection: make a device command fail, hang or drop the connection, or stall an IPL.

Rules come from a YAML file at start and can be replaced while the lab runs (the file is
re-read when it changes, or through the control API). A rule:

    - device: svc            # svc | hmc | ibmi:<PARTITION or address> | * (any)
      match: 'startfcconsistgrp'   # regular expression searched in the command line
      action: fail           # fail | hang | drop
      message: 'CMMVC5903E The FlashCopy mapping was not changed because ...'
      exit_status: 1         # for fail (default 1; IBM i `system` uses 255)
      seconds: 30            # for hang (lab seconds; default: until the client gives up)
      after: 0               # let this many matching commands through first
      times: 1               # trigger this many times, then stop (default: always)
    - ipl_stall: {lpar: CLONE1, refcode: C6004031}
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Union

import yaml

ACTIONS = ("fail", "hang", "drop")


@dataclass
class Rule:
    device: str
    match: str
    action: str
    message: str = ""
    exit_status: int = 1
    seconds: Optional[float] = None
    after: int = 0
    times: Optional[int] = None
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"fault action {self.action!r} is not one of {', '.join(ACTIONS)}")
        self._pattern = re.compile(self.match)

    def applies(self, device: Union[str, Sequence[str]], command: str) -> bool:
        """DEVICE is a device name, or several names of the same device (ibmi:PROD, ibmi:10.1.1.10)."""
        names = (device,) if isinstance(device, str) else tuple(device)
        return any(self.device in ("*", name) or name.startswith(self.device + ":") for name in names) and \
            bool(self._pattern.search(command))


@dataclass
class Fault:
    """What a front must do with one command."""

    action: str
    message: str = ""
    exit_status: int = 1
    seconds: Optional[float] = None


@dataclass
class IplStall:
    lpar: str
    refcode: str


@dataclass
class FaultRules:
    rules: List[Rule] = field(default_factory=list)
    stalls: List[IplStall] = field(default_factory=list)
    source: Optional[Path] = None
    _mtime: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def parse(cls, data: object) -> "FaultRules":
        rules, stalls = [], []
        for i, item in enumerate(data or []):
            if not isinstance(item, dict):
                raise ValueError(f"fault {i}: expected a mapping")
            if "ipl_stall" in item:
                stall = item["ipl_stall"]
                stalls.append(IplStall(lpar=str(stall["lpar"]), refcode=str(stall["refcode"])))
                continue
            known = {"device", "match", "action", "message", "exit_status", "seconds", "after", "times"}
            unknown = set(item) - known
            if unknown:
                raise ValueError(f"fault {i}: unknown keys {', '.join(sorted(unknown))}")
            rules.append(Rule(device=str(item.get("device", "*")), match=str(item.get("match", "")),
                              action=str(item.get("action", "fail")), message=str(item.get("message", "")),
                              exit_status=int(item.get("exit_status", 1)), seconds=item.get("seconds"),
                              after=int(item.get("after", 0)), times=item.get("times")))
        return cls(rules=rules, stalls=stalls)

    @classmethod
    def load(cls, path: Path) -> "FaultRules":
        faults = cls.parse(yaml.safe_load(path.read_text()) if path.exists() else [])
        faults.source = path
        faults._mtime = path.stat().st_mtime if path.exists() else 0.0
        return faults

    def replace(self, other: "FaultRules") -> None:
        with self._lock:
            self.rules, self.stalls = other.rules, other.stalls

    def reload_if_changed(self) -> bool:
        """Re-read the source file if it changed since it was loaded."""
        if self.source is None:
            return False
        mtime = self.source.stat().st_mtime if self.source.exists() else 0.0
        if mtime == self._mtime:
            return False
        fresh = FaultRules.load(self.source)
        self.replace(fresh)
        self._mtime = mtime
        return True

    def check(self, device: Union[str, Sequence[str]], command: str) -> Optional[Fault]:
        """The fault to apply to this command, if any (counts the match)."""
        with self._lock:
            for rule in self.rules:
                if not rule.applies(device, command):
                    continue
                rule.seen += 1
                if rule.seen <= rule.after:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                rule.fired += 1
                return Fault(rule.action, rule.message, rule.exit_status, rule.seconds)
        return None

    def ipl_stall(self, lpar: str) -> Optional[str]:
        """The reference code at which LPAR's IPL must stall, if any."""
        with self._lock:
            for stall in self.stalls:
                if stall.lpar == lpar:
                    return stall.refcode
        return None

    def clear(self) -> None:
        with self._lock:
            self.rules, self.stalls = [], []
