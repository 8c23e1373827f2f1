"""Cron schedules of environments, parsed by cronsim (DST-aware, as cron itself behaves)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator

from cronsim import CronSim, CronSimError

from ..errors import ValidationError


def check_cron(expr: str) -> str:
    """Validate a five-field cron expression; return it unchanged."""
    if not isinstance(expr, str) or len(expr.split()) != 5:
        raise ValidationError(f"{expr!r} is not a cron expression (five fields: minute hour day month weekday)")
    try:
        CronSim(expr, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ValidationError(f"{expr!r} is not a valid cron expression: {exc}") from None
    return expr


def next_times(expr: str, after: datetime, tz=None, count: int = 1) -> list[datetime]:
    """The next COUNT due times after AFTER (aware datetimes, in the schedule's time zone)."""
    local = after.astimezone(tz) if tz is not None else after.astimezone()
    it: Iterator[datetime] = CronSim(expr, local)
    return [next(it).astimezone(timezone.utc) for _ in range(count)]
