"""The captured-output corpus (tests/data/captures/): its index, its files, and a fake SSH
session that answers each command with a capture, as the device would (stream, exit status)."""
from __future__ import annotations

from pathlib import Path
import json
from typing import Any, Dict, List, Optional, Tuple

import yaml

from flash4i_tui.devices.ssh import CommandResult

CAPTURES = Path(__file__).resolve().parent.parent / "data" / "captures"
FIELDS = {"file", "command", "stream", "exit_status", "level", "source", "fidelity"}
FIDELITIES = {"verbatim", "shape", "reconstructed"}


def index(family: str) -> List[dict]:
    data = yaml.safe_load((CAPTURES / family / "index.yaml").read_text(encoding="utf-8"))
    return list(data["files"])


def entry(family: str, name: str) -> dict:
    found = [e for e in index(family) if e["file"] == name]
    assert len(found) == 1, name
    return found[0]


def text(family: str, name: str) -> str:
    return (CAPTURES / family / name).read_text(encoding="utf-8")


def answer(family: str, name: str) -> Tuple[str, str, int]:
    """(stdout, stderr, exit status) of a capture, per its index entry."""
    e, body = entry(family, name), text(family, name)
    return (body, "", e["exit_status"]) if e["stream"] == "stdout" else ("", body, e["exit_status"])


def check_index(family: str) -> None:
    """Every file is listed once, every entry names an existing file and states its source and level."""
    entries = index(family)
    names = [e["file"] for e in entries]
    assert len(names) == len(set(names))
    on_disk = {p.name for p in (CAPTURES / family).iterdir() if p.name != "index.yaml"}
    assert on_disk == set(names)
    for e in entries:
        assert FIELDS <= set(e), e["file"]
        assert e["stream"] in ("stdout", "stderr") and isinstance(e["exit_status"], int), e["file"]
        assert e["fidelity"] in FIDELITIES and str(e["source"]).strip() and str(e["level"]).strip(), e["file"]


class CaptureSession:
    """An SshSession stand-in: the first key that starts the command line picks the answer."""

    def __init__(self, answers: Dict[str, Tuple[str, str, int]]):
        self.answers = answers
        self.sent: List[str] = []

    def run(self, command: str, timeout: Optional[float] = None) -> CommandResult:
        self.sent.append(command)
        for prefix, (out, err, status) in self.answers.items():
            if command.startswith(prefix):
                return CommandResult(command, out, err, status, 0.0)
        raise AssertionError(f"no capture answers {command!r}")

    def close(self) -> None:
        pass


# -------------------------------------------------------------------- REST families (JSON bodies)

REST_FIELDS = {"file", "request", "http_status", "level", "source", "fidelity"}


def check_rest_index(family: str) -> None:
    """As check_index, for a REST family: each entry names its request and HTTP status, and its file is JSON."""
    entries = index(family)
    names = [e["file"] for e in entries]
    assert len(names) == len(set(names))
    on_disk = {p.name for p in (CAPTURES / family).iterdir() if p.name != "index.yaml"}
    assert on_disk == set(names)
    for e in entries:
        assert REST_FIELDS <= set(e), e["file"]
        assert isinstance(e["http_status"], int) and str(e["request"]).split()[0] in ("GET", "POST", "PUT", "DELETE")
        assert e["fidelity"] in FIDELITIES and str(e["source"]).strip() and str(e["level"]).strip(), e["file"]
        json.loads(text(family, e["file"]))


def body(family: str, name: str) -> Any:
    return json.loads(text(family, name))


def rest_answer(family: str, name: str) -> Tuple[int, str]:
    """(HTTP status, body text) of a REST capture, per its index entry (what FakeRest answers)."""
    return entry(family, name)["http_status"], text(family, name)


def shape(value: Any) -> Any:
    """The key sets and value types of a JSON value (lists by their first item), to compare two answers."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


def shape_gaps(real: Any, lab: Any, where: str = "") -> List[str]:
    """Where LAB lacks a key of REAL or has a value of another type (lab-only keys are allowed)."""
    real, lab = shape(real), shape(lab)
    gaps: List[str] = []

    def walk(r: Any, l: Any, at: str) -> None:
        if isinstance(r, dict):
            if not isinstance(l, dict):
                gaps.append(f"{at}: object in the capture, {l!r} in the lab")
                return
            for key, value in r.items():
                if key not in l:
                    gaps.append(f"{at}.{key}: missing in the lab")
                else:
                    walk(value, l[key], f"{at}.{key}")
        elif isinstance(r, list):
            if not isinstance(l, list):
                gaps.append(f"{at}: list in the capture, {l!r} in the lab")
            elif r and l:
                walk(r[0], l[0], f"{at}[0]")
        elif r != l:
            gaps.append(f"{at}: {r} in the capture, {l} in the lab")
    walk(real, lab, where)
    return gaps
