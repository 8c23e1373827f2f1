"""How values look on the panels: local times in IBM i form, durations, sizes, progress bars.

The store holds naive UTC; panels show the operator's local time (or the time zone the app
was given, so snapshots do not depend on the machine).
"""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Optional

from flash4i_tui.textfmt import fmt_bytes, fmt_proven, fmt_seconds  # one formatting of durations and sizes for CLI and panels

__all__ = ["fmt_bytes", "fmt_proven", "fmt_seconds", "local", "fmt_datetime", "fmt_date_time", "fmt_clock", "progress_bar",
           "leader"]


def local(value: datetime, tz: Optional[tzinfo]) -> datetime:
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(tz) if tz is not None else aware.astimezone()


def fmt_datetime(value: Optional[datetime], tz: Optional[tzinfo], seconds: bool = False) -> str:
    """MM/DD/YY HH:MM[:SS], the job date format the operators read on IBM i."""
    if value is None:
        return ""
    return local(value, tz).strftime("%m/%d/%y %H:%M:%S" if seconds else "%m/%d/%y %H:%M")


def fmt_date_time(value: datetime, tz: Optional[tzinfo]) -> str:
    """The date and time line a list panel shows under its title: `MM/DD/YY  HH:MM:SS`."""
    return local(value, tz).strftime("%m/%d/%y  %H:%M:%S")


def fmt_clock(value: Optional[datetime], tz: Optional[tzinfo]) -> str:
    return local(value, tz).strftime("%H:%M:%S") if value is not None else ""


def progress_bar(percent: Optional[float], width: int = 10) -> str:
    """`|#####     |  50%`: plain characters, so every terminal and capture shows it."""
    if percent is None:
        return ""
    pct = max(0.0, min(100.0, float(percent)))
    filled = int(round(pct * width / 100))
    return f"|{'#' * filled}{' ' * (width - filled)}| {pct:3.0f}%"


def leader(label: str, width: int) -> str:
    """`System name . . . . . :` with IBM's dot leaders, padded to WIDTH."""
    text = label + " "
    dots = ". " * width
    if len(text) % 2:
        text += " "
    out = (text + dots)[:width - 2].rstrip() + " :"
    return out.ljust(width)
