"""Files shipped with flash4i (the top-level data/ folder, installed as flash4i_tui/data)."""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def data_file(name: str) -> Path:
    """Path of a shipped data file, installed or in a source checkout."""
    for folder in (_HERE / "data", _HERE.parent / "data"):
        candidate = folder / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"flash4i data file {name!r} is missing from this installation")
