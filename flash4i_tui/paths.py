"""Where flash4i keeps its files, and how files holding secrets are created."""
from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The per-user data folder ($FLASH4I_HOME, else $XDG_DATA_HOME/flash4i, else ~/.local/share/flash4i)."""
    explicit = os.environ.get("FLASH4I_HOME")
    if explicit:
        base = Path(explicit)
    else:
        xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        base = Path(xdg) / "flash4i"
    return private_dir(base)


def private_dir(path: Path) -> Path:
    """Create a folder readable by its owner only (0700) if it does not exist."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def touch_private(path: Path) -> Path:
    """Make sure a file exists with mode 0600, before anything is written to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return path


def write_private(path: Path, data: str | bytes) -> Path:
    """Write a file that may hold secrets (keys, databases, configurations): mode 0600."""
    touch_private(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as fh:
        fh.write(data)
    return path
