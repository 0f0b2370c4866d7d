"""Billing periods: strict "YYYY-MM", bounds, days and exact fractions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest

from mesh.errors import InvalidArgument
from servers.billing.clock import ManualClock, SystemClock
from servers.billing.periods import BillingPeriod, Granularity

from .helpers import at


@pytest.mark.parametrize(
    "bad",
    [
        "2025-13",
        "2025-00",
        "2025-1",
        "25-11",
        " 2025-11",
        "2025-11 ",
        "2025/11",
        "2025-11-01",
        "",
        "1969-12",
        "\uff12\uff10\uff12\uff15-11",  # full-width digits match \d but are not a period
        "202\uff15-11",
        "Nov 2025",
    ],
)
def test_bad_periods_are_invalid_argument(bad: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        BillingPeriod.parse(bad)
    assert caught.value.violations[0].field == "billing_period"
    assert "YYYY-MM" in caught.value.message


def test_non_string_period_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument):
        BillingPeriod.parse(202511)  # type: ignore[arg-type]


def test_parse_format_round_trip_and_order() -> None:
    nov = BillingPeriod.parse("2025-11")
    assert (nov.year, nov.month, str(nov)) == (2025, 11, "2025-11")
    assert nov.previous() == BillingPeriod(2025, 10) < nov < nov.next() == BillingPeriod(2025, 12)
    assert BillingPeriod(2025, 12).next() == BillingPeriod(2026, 1)
    assert BillingPeriod(2026, 1).previous() == BillingPeriod(2025, 12)


def test_bounds_are_utc_calendar_months() -> None:
    dec = BillingPeriod(2025, 12)
    assert dec.start == datetime(2025, 12, 1, tzinfo=UTC)
    assert dec.end == datetime(2026, 1, 1, tzinfo=UTC)
    assert dec.contains(at(2025, 12, 31, 23, 59))
    assert not dec.contains(dec.end)
    # 00:30 on Jan 1 in UTC+1 is still December in UTC
    plus_one = datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert BillingPeriod.containing(plus_one) == dec


@pytest.mark.parametrize(
    ("period", "days"),
    [
        ("2024-02", 29),
        ("2025-02", 28),
        ("2100-02", 28),
        ("2000-02", 29),
        ("2025-11", 30),
        ("2025-01", 31),
    ],
)
def test_days_in_period(period: str, days: int) -> None:
    parsed = BillingPeriod.parse(period)
    assert parsed.days == days == parsed.units(Granularity.DAY)
    assert parsed.units(Granularity.SECOND) == days * 86400


def test_fraction_of_period_is_exact() -> None:
    nov = BillingPeriod(2025, 11)
    # Nov 17 10:30 to the end: days floor to Nov 17, so 17..30 = 14 of 30 days
    assert nov.fraction(at(2025, 11, 17, 10, 30), nov.end) == Fraction(14, 30)
    # by the second: 13 days 13.5 hours of 30 days = 1171800 / 2592000
    assert nov.fraction(at(2025, 11, 17, 10, 30), nov.end, Granularity.SECOND) == Fraction(
        13 * 86400 + 13 * 3600 + 1800, 30 * 86400
    )
    # spans outside the period are clipped
    assert nov.fraction(at(2025, 10, 1), at(2026, 3, 1)) == 1
    assert nov.fraction(at(2025, 12, 5), at(2025, 12, 9)) == 0


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError):
        BillingPeriod.containing(datetime(2025, 11, 1))


def test_manual_clock_runs_a_month_instantly() -> None:
    clock = ManualClock(at(2025, 11, 1))
    assert clock.advance(days=16, hours=10) == at(2025, 11, 17, 10)
    assert clock.advance(timedelta(days=14)) == at(2025, 12, 1, 10)
    clock.set(at(2025, 11, 30))
    assert clock.now() == at(2025, 11, 30)
    with pytest.raises(ValueError):
        clock.advance(days=-1)
    with pytest.raises(ValueError):
        ManualClock(datetime(2025, 11, 1))


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)
