"""Time as ffgate writes and counts it: ISO timestamps of records, and the UTC day quotas and the org's
daily budget count in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DAY_S = 86_400


def utcnow() -> str:
    """Now as the records write it: ISO 8601, milliseconds, `Z`."""
    return iso(datetime.now(UTC))


def iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_day(now: datetime | None = None) -> str:
    """YYYYMMDD (formatted by hand: strftime costs more than the rest of a quota check in Python)."""
    now = now or datetime.now(UTC)
    return f"{now.year:04d}{now.month:02d}{now.day:02d}"


def seconds_to_utc_midnight(now: datetime | None = None) -> float:
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()
