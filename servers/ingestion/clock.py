"""The wall clock Ingestion stamps with, in unix microseconds, injectable for tests."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]
"""Returns the current time as unix microseconds (UTC)."""


def wall_clock_us() -> int:
    """The system clock in unix microseconds."""
    return time.time_ns() // 1_000
