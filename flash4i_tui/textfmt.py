"""How durations, sizes and stored times read for an operator (CLI and panels alike)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional


def fmt_seconds(value: Optional[float]) -> str:
    if value is None:
        return ""
    if value < 60:
        return f"{value:.2f}s"
    minutes, seconds = divmod(int(round(value)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def fmt_bytes(value: Optional[int]) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def fmt_proven(value: Optional[bool]) -> str:
    """Whether a run's clone is proven a copy taken in the window; blank when it could not tell."""
    return "" if value is None else ("*YES" if value else "*NO")


def fmt_time(value: Optional[datetime]) -> str:
    """A stored UTC timestamp in local time, as operators read it."""
    if value is None:
        return ""
    return value.replace(tzinfo=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")
