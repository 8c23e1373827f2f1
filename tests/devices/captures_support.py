"""The captured-output corpus (tests/data/captures/): its index, its files, and a fake SSH
session that answers each command with a capture, as the device would (stream, exit status)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

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
