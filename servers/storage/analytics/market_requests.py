"""Checks of Storage's market-data history requests (the Bridge checks tier rules before)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from mesh.errors import FieldViolation, InvalidArgument
from servers.storage.analytics.market import TICK_FIELDS
from servers.storage.analytics.market_schema import BAR_INTERVALS

MAX_QUERY_SYMBOLS = 50
MAX_LATEST_SYMBOLS = 500
MAX_BATCH_TICKS = 50_000
DEFAULT_BATCH_TICKS = 10_000
MAX_BARS = 100_000


def _invalid(field: str, message: str) -> NoReturn:
    raise InvalidArgument(f"{field}: {message}", violations=[FieldViolation(field, message)])


def symbols(values: Sequence[str], most: int) -> list[str]:
    """1-`most` symbols, no duplicates."""
    if not values or len(values) > most:
        _invalid("symbols", f"1-{most} symbols, got {len(values)}")
    if len(set(values)) != len(values):
        _invalid("symbols", "duplicates")
    return list(values)


def time_range(start_us: int, end_us: int) -> tuple[int, int]:
    """A non-empty range of unix microseconds."""
    if start_us <= 0:
        _invalid("start_time_us", "required, unix microseconds")
    if end_us <= start_us:
        _invalid("end_time_us", f"must be after start_time_us ({start_us}), got {end_us}")
    return start_us, end_us


def fields(names: Sequence[str]) -> list[str]:
    """Known Tick fields; none means all."""
    unknown = [n for n in names if n not in TICK_FIELDS]
    if unknown:
        _invalid("fields", f"unknown Tick fields {unknown}")
    return list(names) or list(TICK_FIELDS)


def batch_ticks(value: int) -> int:
    """1-50,000; 0 for 10,000."""
    if value > MAX_BATCH_TICKS:
        _invalid("max_batch_ticks", f"at most {MAX_BATCH_TICKS}, got {value}")
    return value or DEFAULT_BATCH_TICKS


def interval(value: int) -> int:
    """A BarInterval other than UNSPECIFIED."""
    if value not in BAR_INTERVALS:
        _invalid("interval", f"one of 1s, 1m, 1h, 1d (BAR_INTERVAL_*), got {value}")
    return value


def bar_limit(value: int) -> int:
    """1-100,000 bars."""
    if not 0 < value <= MAX_BARS:
        _invalid("limit", f"1-{MAX_BARS}, got {value}")
    return value
