"""Practice-local dates and times for display (storage is always UTC)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def to_local(moment: dt.datetime, tz: str) -> dt.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(tz))


def local_to_utc(local: dt.datetime, tz: str) -> dt.datetime:
    return local.replace(tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)


def local_today(tz: str, now: dt.datetime | None = None) -> dt.date:
    return to_local(now or dt.datetime.now(dt.UTC), tz).date()


def format_date(day: dt.date | None) -> str:
    """'Dec 4, 2026'"""
    return f"{day:%b} {day.day}, {day.year}" if day else ""


def format_time(moment: dt.datetime, tz: str) -> str:
    """'9:30 AM'"""
    local = to_local(moment, tz)
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def format_datetime(moment: dt.datetime | None, tz: str) -> str:
    """'Dec 4, 2026, 9:30 AM'"""
    if moment is None:
        return ""
    return f"{format_date(to_local(moment, tz).date())}, {format_time(moment, tz)}"
