"""Per-symbol conflating throttle: at most one update per symbol per interval, latest wins.

An update that comes too early is held as the symbol's pending update, replacing any
older pending one (never a queue of stale prices); the owner flushes pending updates
once their symbol's interval has elapsed (pop_due), so the last price is never lost.
Time is passed in by the caller, so tests drive it with a fake clock.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Throttle(Generic[T]):
    """One subscriber's throttle; `T` is whatever the owner sends (a projected tick)."""

    __slots__ = ("_next_ok", "_pending", "interval_s")

    def __init__(self, interval_s: float) -> None:
        if interval_s < 0:
            raise ValueError("interval_s must not be negative")
        self.interval_s = interval_s
        self._next_ok: dict[str, float] = {}  # symbol -> earliest time of its next update
        self._pending: dict[str, T] = {}  # symbol -> latest update held back

    def offer(self, symbol: str, item: T, now: float) -> bool:
        """True: send `item` now. False: it is held as the symbol's pending update."""
        if now >= self._next_ok.get(symbol, now):
            self._next_ok[symbol] = now + self.interval_s
            # Anything pending for the symbol is older than `item`, which supersedes it.
            self._pending.pop(symbol, None)
            return True
        self._pending[symbol] = item
        return False

    def deadline(self, symbol: str) -> float:
        """When `symbol` may next be sent (its pending update then becomes due)."""
        return self._next_ok[symbol]

    def pop_due(self, now: float) -> list[T]:
        """Remove and return the pending updates whose interval has elapsed; each counts
        as that symbol's update at `now`."""
        if not self._pending:
            return []
        due = [symbol for symbol in self._pending if self._next_ok[symbol] <= now]
        out = []
        for symbol in due:
            out.append(self._pending.pop(symbol))
            self._next_ok[symbol] = now + self.interval_s
        return out

    def next_due(self) -> float | None:
        """The earliest time a pending update becomes due; None when nothing is pending."""
        if not self._pending:
            return None
        return min(self._next_ok[symbol] for symbol in self._pending)

    def holds(self, symbol: str) -> bool:
        """True when an update of `symbol` is held back."""
        return symbol in self._pending

    @property
    def pending(self) -> int:
        """How many symbols have an update held back."""
        return len(self._pending)

    def clear(self) -> None:
        """Drop every pending update (the subscriber is gone)."""
        self._pending.clear()
