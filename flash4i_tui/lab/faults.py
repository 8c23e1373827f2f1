"""Fault injection: make a device command fail, hang, drop the connection or be ignored, or
stall an IPL.

Rules come from a YAML file at start and can be replaced while the lab runs (the file is
re-read when it changes, or through the control API). A rule:

    - device: svc            # svc | hmc | ibmi:<PARTITION or address> | * (any)
      match: 'startfcconsistgrp'   # regular expression searched in the command line
      action: fail           # fail | hang | drop | ignore
      message: 'CMMVC5903E The FlashCopy mapping was not changed because ...'
      exit_status: 1         # for fail (default 1; IBM i `system` uses 255)
      seconds: 30            # for hang (lab seconds; default: until the client gives up)
      after: 0               # let this many matching commands through first
      times: 1               # trigger this many times, then stop (default: always)
    - ipl_stall: {lpar: CLONE1, refcode: C6004031}

`ignore` answers as if the command worked (SSH: exit 0 and no output; REST: 200 and an empty
object) and does nothing: the device that acknowledges and then does not act. SFTP requests
are served as usual (an SFTP reply without its effect has no form of its own).
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import yaml

ACTIONS = ("fail", "hang", "drop", "ignore")


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


# ------------------------------------------------------------------ device latency

EFFECTS = ("end", "start")


def _names(device: Union[str, Sequence[str]]) -> tuple:
    return (device,) if isinstance(device, str) else tuple(device)


def _matches(pattern: str, names: tuple) -> bool:
    return any(pattern in ("*", name) or name.startswith(pattern + ":") for name in names)


@dataclass
class Delay:
    """A device command that takes SECONDS (real seconds, not scaled by the lab's speed).

    effect: end    the command takes effect when it answers (the device works, then acts:
                   a startfcconsistgrp that takes 100 ms)
            start  it takes effect at once and answers after the wait (a CHGASPACT *SUSPEND
                   that holds new work at once, then waits for transactions to reach a boundary)
    """

    device: str
    match: str
    seconds: float
    effect: str = "end"

    def __post_init__(self) -> None:
        if self.effect not in EFFECTS:
            raise ValueError(f"latency effect {self.effect!r} is not one of {', '.join(EFFECTS)}")
        if self.seconds < 0:
            raise ValueError("latency seconds must not be negative")
        self._pattern = re.compile(self.match)

    def applies(self, names: tuple, command: str) -> bool:
        return _matches(self.device, names) and bool(self._pattern.search(command))

    def as_dict(self) -> dict:
        return {"device": self.device, "match": self.match, "seconds": self.seconds, "effect": self.effect}


@dataclass
class Latency:
    """Device latencies, in real seconds (the clients' waits are real time, whatever the lab's speed).

    From the topology (key `latency`), and replaced while the lab runs through the control API
    (`PUT /latency`, `flash4i labctl latency FILE`). Zero unless set:

        rtt: {'*': 0.005, 'svc:FS9500': 0.05}   # network round trip of each SSH device: every
                                               # packet the lab's SSH servers exchange waits half of
                                               # it each way (handshakes and commands alike); read
                                               # when a connection is accepted, then live
        commands:                               # the first matching rule applies
          - {device: svc, match: 'startfcconsistgrp', seconds: 0.1}
          - {device: ibmi, match: 'OPTION\\(\\*SUSPEND\\)', seconds: 2, effect: start}
          - {device: 'ds8000', match: '^POST .*/flashcopies', seconds: 0.1}   # REST: "METHOD path"

    Device names are those of the fault rules: svc, svc:<array>, hmc, hmc:<HMC>, ibmi,
    ibmi:<partition or address>, ds8000:<array>, powermax:<array>, * (any); the most specific
    rtt entry wins (exact name, then its family, then *).
    """

    rtt: Dict[str, float] = field(default_factory=dict)
    commands: List[Delay] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def parse(cls, data: object) -> "Latency":
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValueError("latency: expected a mapping with rtt and/or commands")
        unknown = set(data) - {"rtt", "commands"}
        if unknown:
            raise ValueError(f"latency: unknown keys {', '.join(sorted(unknown))}")
        rtt_data = data.get("rtt") or {}
        if isinstance(rtt_data, (int, float)):
            rtt_data = {"*": rtt_data}
        if not isinstance(rtt_data, dict):
            raise ValueError("latency.rtt: expected seconds, or a mapping of device -> seconds")
        rtt = {str(k): float(v) for k, v in rtt_data.items()}
        if any(v < 0 for v in rtt.values()):
            raise ValueError("latency.rtt: seconds must not be negative")
        commands = []
        for i, item in enumerate(data.get("commands") or []):
            if not isinstance(item, dict):
                raise ValueError(f"latency.commands[{i}]: expected a mapping")
            unknown = set(item) - {"device", "match", "seconds", "effect"}
            if unknown:
                raise ValueError(f"latency.commands[{i}]: unknown keys {', '.join(sorted(unknown))}")
            commands.append(Delay(str(item.get("device", "*")), str(item.get("match", "")),
                                  float(item.get("seconds", 0) or 0), str(item.get("effect", "end"))))
        return cls(rtt=rtt, commands=commands)

    def replace(self, other: "Latency") -> None:
        with self._lock:
            self.rtt, self.commands = dict(other.rtt), list(other.commands)

    def clear(self) -> None:
        self.replace(Latency())

    def delay(self, device: Union[str, Sequence[str]], command: str) -> Optional[Delay]:
        """The latency rule of this command, if any (None when none applies or it is zero)."""
        names = _names(device)
        with self._lock:
            for rule in self.commands:
                if rule.applies(names, command):
                    return rule if rule.seconds > 0 else None
        return None

    def rtt_of(self, device: Union[str, Sequence[str]]) -> float:
        names = _names(device)
        with self._lock:
            if not self.rtt:
                return 0.0
            for name in names:                       # exact name first
                if name in self.rtt:
                    return self.rtt[name]
            for name in names:                       # then its family (svc for svc:FS9500)
                family = name.split(":", 1)[0]
                if family in self.rtt:
                    return self.rtt[family]
            return self.rtt.get("*", 0.0)

    def as_dict(self) -> dict:
        with self._lock:
            return {"rtt": dict(self.rtt), "commands": [d.as_dict() for d in self.commands]}
