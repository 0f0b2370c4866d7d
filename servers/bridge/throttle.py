"""Per-symbol conflating throttle on a grid: at most one update per symbol per interval,
latest wins, and the updates of all symbols that are throttled go out together.

An update that comes too early is held as the symbol's pending update, replacing any
older pending one (never a queue of stale prices); the owner flushes pending updates
once they are due (pop_due), so the last price is never lost.

The grid: time is cut into slots of one interval (starting at `phase_s`), and a held
update is due at a slot boundary. A busy symbol (updated more often than the interval)
is therefore flushed at every boundary, together with every other busy symbol, so a
subscriber gets one message per interval with all of them, not one per symbol at its
own phase. A quiet symbol's update goes out at once, as before. Spacing:

- an update sent at once counts from its own time: the symbol's next one waits for the
  first boundary at least one interval later (up to two intervals for that one update);
- a flush counts as sent at its boundary, so that a timer that fires late does not push
  the symbol off the grid. A flush is never more than half an interval late on that
  account: later than that, it counts from its own time. Two updates of a symbol are
  thus at least one interval apart, less the flush's lateness (the event loop's lag).

Time is passed in by the caller, so tests drive it with a fake clock.
"""

from __future__ import annotations

import math
from typing import Generic, TypeVar

T = TypeVar("T")

_EPS = 1e-6
"""Of a slot: a time within a microsecond-ish of a boundary is on it (float rounding,
and asyncio runs a timer up to its clock resolution early)."""


class Throttle(Generic[T]):
    """One tier's (or subscriber's) throttle; `T` is what the owner sends (a projected tick)."""

    __slots__ = ("_next_ok", "_pending", "interval_s", "phase_s")

    def __init__(self, interval_s: float, phase_s: float = 0.0) -> None:
        if interval_s < 0:
            raise ValueError("interval_s must not be negative")
        self.interval_s = interval_s
        self.phase_s = phase_s
        self._next_ok: dict[str, float] = {}  # symbol -> the boundary of its next update
        self._pending: dict[str, T] = {}  # symbol -> latest update held back

    def offer(self, symbol: str, item: T, now: float) -> bool:
        """True: send `item` now. False: it is held as the symbol's pending update."""
        next_ok = self._next_ok.get(symbol)
        if next_ok is None or now >= next_ok - _EPS * self.interval_s:
            # Held until now: this is the symbol's flush, with a newer price (the pending
            # one is older and superseded). Otherwise it was quiet: sent at its own time.
            held = self._pending.pop(symbol, None) is not None
            self._next_ok[symbol] = self._after(now, flushed=held)
            return True
        self._pending[symbol] = item
        return False

    def deadline(self, symbol: str) -> float:
        """When `symbol` may next be sent (a boundary: its pending update is then due)."""
        return self._next_ok[symbol]

    def pop_due(self, now: float) -> list[T]:
        """Remove and return the pending updates that are due; each counts as that
        symbol's update at the boundary it was due at."""
        if not self._pending:
            return []
        ready = now + _EPS * self.interval_s
        due = [symbol for symbol in self._pending if self._next_ok[symbol] <= ready]
        out = []
        for symbol in due:
            out.append(self._pending.pop(symbol))
            self._next_ok[symbol] = self._after(now, flushed=True)
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

    def _after(self, now: float, *, flushed: bool) -> float:
        """The boundary of the next update of a symbol sent at `now`."""
        interval = self.interval_s
        if interval == 0:
            return now
        slots = (now - self.phase_s) / interval
        boundary = math.floor(slots + _EPS)
        if flushed and slots - boundary <= 0.5:
            return self.phase_s + (boundary + 1) * interval  # one slot after its boundary
        return self.phase_s + math.ceil(slots + 1 - _EPS) * interval
