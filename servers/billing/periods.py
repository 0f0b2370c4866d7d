"""Billing periods: calendar months in UTC, named "YYYY-MM", and exact fractions of them."""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from mesh.errors import FieldViolation, InvalidArgument
from servers.billing.clock import require_utc

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


class Granularity(enum.Enum):
    """The unit time is counted in when prorating.

    DAY (the default): instants are floored to 00:00 UTC, so the day a change happens is
    billed entirely at the new tier and every amount is price * days / days-in-month,
    checkable by hand. SECOND: instants are floored to the second, for exact-time billing.
    """

    DAY = "day"
    SECOND = "second"


_UNIT = {Granularity.DAY: timedelta(days=1), Granularity.SECOND: timedelta(seconds=1)}


def floor(instant: datetime, granularity: Granularity) -> datetime:
    """`instant` (UTC) truncated to the start of its day or second."""
    instant = require_utc(instant)
    if granularity is Granularity.DAY:
        return instant.replace(hour=0, minute=0, second=0, microsecond=0)
    return instant.replace(microsecond=0)


def units_between(start: datetime, end: datetime, granularity: Granularity) -> int:
    """Whole units from `start` to `end` after flooring both (0 when end is not later)."""
    span = floor(end, granularity) - floor(start, granularity)
    return max(0, span // _UNIT[granularity])


@dataclass(frozen=True, slots=True, order=True)
class BillingPeriod:
    """One calendar month in UTC: [start, end)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.year <= 9998 and 1 <= self.month <= 12):
            raise ValueError(f"no billing period {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str, field: str = "billing_period") -> BillingPeriod:
        """Parse "YYYY-MM" strictly (no spaces, two-digit month); INVALID_ARGUMENT otherwise."""
        match = _PERIOD.fullmatch(text) if isinstance(text, str) else None
        if match and text.isascii():
            year, month = int(match[1]), int(match[2])
            if 1970 <= year <= 9998 and 1 <= month <= 12:
                return cls(year, month)
        shown = text if isinstance(text, str) else type(text).__name__
        raise InvalidArgument(
            f"{field}: {shown!r} is not a billing period; expected YYYY-MM, e.g. 2025-11",
            violations=[FieldViolation(field, "must be YYYY-MM with month 01-12, year >= 1970")],
        )

    @classmethod
    def containing(cls, instant: datetime) -> BillingPeriod:
        """The period `instant` falls in."""
        instant = require_utc(instant)
        return cls(instant.year, instant.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        """The first instant, 00:00 UTC on the 1st."""
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period (the next period's start)."""
        return self.next().start

    @property
    def days(self) -> int:
        """Days in the month: 28, 29, 30 or 31."""
        return calendar.monthrange(self.year, self.month)[1]

    def next(self) -> BillingPeriod:
        """The following month."""
        return BillingPeriod(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> BillingPeriod:
        """The preceding month."""
        if self.month == 1:
            return BillingPeriod(self.year - 1, 12)
        return BillingPeriod(self.year, self.month - 1)

    def contains(self, instant: datetime) -> bool:
        """True when start <= instant < end."""
        return self.start <= require_utc(instant) < self.end

    def clip(self, instant: datetime) -> datetime:
        """`instant` moved into [start, end]."""
        return min(max(require_utc(instant), self.start), self.end)

    def units(self, granularity: Granularity) -> int:
        """Units in the whole period (days, or seconds)."""
        return units_between(self.start, self.end, granularity)

    def units_in(self, start: datetime, end: datetime, granularity: Granularity) -> int:
        """Units of [start, end) that fall inside this period."""
        return units_between(self.clip(start), self.clip(end), granularity)

    def fraction(
        self, start: datetime, end: datetime, granularity: Granularity = Granularity.DAY
    ) -> Fraction:
        """The exact share of this period covered by [start, end), 0..1."""
        return Fraction(self.units_in(start, end, granularity), self.units(granularity))
