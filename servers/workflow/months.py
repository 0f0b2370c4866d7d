"""Calendar months in UTC: the mesh's billing periods."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta


def month_start(instant: datetime) -> datetime:
    """Midnight UTC on the first day of `instant`'s month."""
    instant = instant.astimezone(UTC)
    return datetime(instant.year, instant.month, 1, tzinfo=UTC)


def next_month_start(instant: datetime) -> datetime:
    """Midnight UTC on the first day of the month after `instant`'s."""
    start = month_start(instant)
    return month_start(start + timedelta(days=32))


def period_before(instant: datetime) -> str:
    """The billing period ("YYYY-MM") that ended last at or before `instant`."""
    last = month_start(instant) - timedelta(microseconds=1)
    return f"{last.year:04d}-{last.month:02d}"


def month_ends_between(start: datetime, end: datetime) -> Iterator[datetime]:
    """Each month boundary b with start < b <= end, in order."""
    boundary = next_month_start(start)
    while boundary <= end:
        yield boundary
        boundary = next_month_start(boundary)
