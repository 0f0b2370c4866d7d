"""The conflating throttle on a fake clock: one update per symbol per interval, latest wins."""

from __future__ import annotations

import itertools
import random

import pytest

from servers.bridge.throttle import Throttle


def test_first_update_goes_out_and_early_ones_are_held() -> None:
    throttle: Throttle[str] = Throttle(1.0)
    assert throttle.offer("EURUSD", "a", now=10.0)
    assert not throttle.offer("EURUSD", "b", now=10.2)
    assert not throttle.offer("EURUSD", "c", now=10.5)
    assert throttle.pending == 1
    assert throttle.next_due() == 11.0
    assert throttle.pop_due(10.99) == []
    # The latest held update is flushed once the interval has elapsed: never b, never lost.
    assert throttle.pop_due(11.0) == ["c"]
    assert throttle.pending == 0
    assert throttle.next_due() is None


def test_symbols_are_throttled_independently_on_one_grid() -> None:
    throttle: Throttle[str] = Throttle(1.0)
    assert throttle.offer("EURUSD", "e1", now=0.0)  # on a boundary
    assert throttle.offer("GBPUSD", "g1", now=0.5)  # quiet: at once, off the grid
    assert not throttle.offer("EURUSD", "e2", now=0.6)
    assert not throttle.offer("GBPUSD", "g2", now=0.7)
    assert throttle.pop_due(1.0) == ["e2"]
    # g1 went out off the grid: its next update waits for the first boundary a whole
    # interval later, and from then on it is flushed with the others.
    assert throttle.next_due() == 2.0
    assert not throttle.offer("GBPUSD", "g3", now=1.6)
    assert not throttle.offer("EURUSD", "e3", now=1.7)
    assert throttle.pop_due(2.0) == ["g3", "e3"]


def test_the_grid_starts_at_the_phase() -> None:
    throttle: Throttle[str] = Throttle(0.1, phase_s=0.05)
    assert throttle.offer("EURUSD", "a", now=0.05)
    assert not throttle.offer("EURUSD", "b", now=0.07)
    assert throttle.next_due() == pytest.approx(0.15)


def test_a_flush_counts_as_its_boundary_unless_it_is_very_late() -> None:
    throttle: Throttle[str] = Throttle(1.0)
    throttle.offer("EURUSD", "a", now=0.0)
    throttle.offer("EURUSD", "b", now=0.1)
    # 0.2 s late (a slow timer): still the update of the boundary at 1.0, so the symbol
    # stays on the grid instead of skipping a slot.
    assert throttle.pop_due(1.2) == ["b"]
    assert throttle.deadline("EURUSD") == 2.0
    assert not throttle.offer("EURUSD", "c", now=1.5)
    # More than half a slot late: it counts from its own time (3.7 -> the boundary at 4).
    assert throttle.pop_due(2.7) == ["c"]
    assert throttle.deadline("EURUSD") == 4.0


def test_a_newer_update_supersedes_a_late_flush() -> None:
    throttle: Throttle[str] = Throttle(1.0)
    throttle.offer("EURUSD", "a", now=0.0)
    throttle.offer("EURUSD", "b", now=0.5)
    # The timer is late; the new update goes out at once and b is dropped, not sent after.
    assert throttle.offer("EURUSD", "c", now=1.3)
    assert throttle.pending == 0
    assert throttle.pop_due(5.0) == []
    assert throttle.deadline("EURUSD") == 2.0  # it was the flush of the boundary at 1.0


def test_random_feed_keeps_the_rate_and_always_ends_on_the_latest() -> None:
    rng = random.Random(7)
    for interval in (1.0, 0.1, 0.01):
        throttle: Throttle[int] = Throttle(interval, phase_s=interval / 2)
        sent: dict[str, list[tuple[float, int]]] = {}
        now, last_offered = 0.0, {}
        for n in range(5000):
            now += rng.expovariate(200)
            symbol = rng.choice(["EURUSD", "GBPUSD", "USDJPY"])
            last_offered[symbol] = n
            if throttle.offer(symbol, n, now):
                sent.setdefault(symbol, []).append((now, n))
            if rng.random() < 0.3:  # a timer firing now and then, often late
                for item in throttle.pop_due(now):
                    sent.setdefault(_symbol_of(item, last_offered), []).append((now, item))
        now += 2 * interval
        for item in throttle.pop_due(now):
            sent.setdefault(_symbol_of(item, last_offered), []).append((now, item))
        for symbol, updates in sent.items():
            times = [t for t, _ in updates]
            # A flush counts as its boundary's update when it is at most half a slot
            # late: two updates are never closer than that, and over any span there is
            # at most one per interval, give or take the one at each end.
            assert all(b - a >= interval / 2 - 1e-9 for a, b in itertools.pairwise(times))
            assert len(times) <= (times[-1] - times[0]) / interval + 2
            assert updates[-1][1] == last_offered[symbol]  # latest price wins


def _symbol_of(item: int, last_offered: dict[str, int]) -> str:
    # Held items are always their symbol's latest offer at the time.
    return next(s for s, n in last_offered.items() if n == item)
