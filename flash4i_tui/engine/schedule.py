"""Cron schedules of environments, parsed by cronsim (DST-aware, as cron itself behaves).

Schedules are read in one time zone: `--tz`, else $FLASH4I_TZ, else the scheduler host's own
zone (as an IANA zone, so daylight-saving changes are followed). cronsim decides what a
wall-clock time that does not exist or exists twice means, the way Debian cron does: a job in
the hour skipped in spring runs right after the change; a job at a fixed hour inside the hour
repeated in autumn runs once, at its first occurrence.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Iterator, Optional

from cronsim import CronSim, CronSimError

from ..errors import ValidationError

TZ_VARIABLE = "FLASH4I_TZ"


# ------------------------------------------------------------------ time zones

def _zone(name: str) -> Optional[tzinfo]:
    from zoneinfo import ZoneInfo
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):     # ZoneInfoNotFoundError is a KeyError
        return None


def local_zone() -> tzinfo:
    """The host's time zone as an IANA zone ($TZ, /etc/localtime, /etc/timezone).

    A fixed UTC offset (what datetime.astimezone() gives) would be wrong after the next
    daylight-saving change, so it is only the last resort."""
    candidates = []
    if os.environ.get("TZ"):
        candidates.append(os.environ["TZ"].lstrip(":"))
    localtime = Path("/etc/localtime")
    try:
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text().strip())
    except OSError:
        pass
    for name in candidates:
        zone = _zone(name) if name else None
        if zone is not None:
            return zone
    try:
        from zoneinfo import ZoneInfo
        with open(localtime, "rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError):
        return datetime.now().astimezone().tzinfo or timezone.utc


def schedule_zone(name: Optional[str] = None) -> tzinfo:
    """The zone schedules are read in: NAME (--tz), else $FLASH4I_TZ, else the host's zone."""
    name = name or os.environ.get(TZ_VARIABLE) or None
    if name is None:
        return local_zone()
    zone = _zone(name)
    if zone is None:
        raise ValidationError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)")
    return zone


def zone_name(tz: tzinfo) -> str:
    return str(getattr(tz, "key", None) or tz.tzname(datetime.now(timezone.utc)) or tz)


# ------------------------------------------------------------------ due times

def _aware(moment: datetime) -> datetime:
    """Store timestamps are naive UTC; anything else keeps its own zone."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def next_times(expr: str, after: datetime, tz: Optional[tzinfo] = None, count: int = 1) -> list[datetime]:
    """The next COUNT due times strictly after AFTER (aware UTC datetimes), the schedule read in TZ
    (default: schedule_zone())."""
    local = _aware(after).astimezone(tz if tz is not None else schedule_zone())
    it: Iterator[datetime] = CronSim(expr, local)
    return [next(it).astimezone(timezone.utc) for _ in range(count)]


def latest_due(expr: str, now: datetime, tz: Optional[tzinfo] = None) -> Optional[datetime]:
    """The most recent due time at or before NOW (aware UTC), or None if there is none."""
    now = _aware(now)
    # cronsim's reverse walk yields times strictly before its start (before the start's minute in
    # cronsim 2.6, the last release for Python 3.9): start at the next whole minute.
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    try:
        due = next(CronSim(expr, start.astimezone(tz if tz is not None else schedule_zone()), reverse=True))
    except StopIteration:
        return None
    due = due.astimezone(timezone.utc)
    return due if due <= now else None


def next_run(env: Any, now: Optional[datetime] = None, tz: Optional[tzinfo] = None) -> Optional[datetime]:
    """When ENV (an Environment row or a record with "schedule") is next due, as an aware UTC
    datetime; None without a schedule or with one the scheduler cannot read (panels show it)."""
    expr = env.get("schedule") if isinstance(env, dict) else getattr(env, "schedule", None)
    if not expr:
        return None
    try:
        return next_times(expr, now or datetime.now(timezone.utc), tz=tz)[0]
    except (CronSimError, StopIteration, ValidationError):
        return None
