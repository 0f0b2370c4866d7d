"""The conflating throttle on a fake clock: one update per symbol per interval, latest wins."""

from __future__ import annotations

import itertools
import random

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


def test_symbols_are_throttled_independently() -> None:
    throttle: Throttle[str] = Throttle(1.0)
    assert throttle.offer("EURUSD", "e1", now=0.0)
    assert throttle.offer("GBPUSD", "g1", now=0.5)
    assert not throttle.offer("EURUSD", "e2", now=0.6)
    assert not throttle.offer("GBPUSD", "g2", now=0.7)
    assert throttle.pop_due(1.0) == ["e2"]
    assert throttle.next_due() == 1.5
    assert throttle.pop_due(1.5) == ["g2"]


def test_a_flush_counts_as_the_symbols_update() -> None:
    throttle: Throttle[str] = Throttle(1.0)
    throttle.offer("EURUSD", "a", now=0.0)
    throttle.offer("EURUSD", "b", now=0.1)
    assert throttle.pop_due(1.2) == ["b"]
    assert not throttle.offer("EURUSD", "c", now=2.1)  # 0.9 s after the flush
    assert throttle.pop_due(2.2) == ["c"]


def test_a_newer_update_supersedes_a_late_flush() -> None:
    throttle: Throttle[str] = Throttle(1.0)
    throttle.offer("EURUSD", "a", now=0.0)
    throttle.offer("EURUSD", "b", now=0.5)
    # The timer is late; the new update goes out at once and b is dropped, not sent after.
    assert throttle.offer("EURUSD", "c", now=1.3)
    assert throttle.pending == 0
    assert throttle.pop_due(5.0) == []


def test_random_feed_never_exceeds_the_rate_and_always_ends_on_the_latest() -> None:
    rng = random.Random(7)
    for interval in (1.0, 0.1, 0.01):
        throttle: Throttle[int] = Throttle(interval)
        sent: dict[str, list[tuple[float, int]]] = {}
        now, last_offered = 0.0, {}
        for n in range(5000):
            now += rng.expovariate(200)
            symbol = rng.choice(["EURUSD", "GBPUSD", "USDJPY"])
            last_offered[symbol] = n
            if throttle.offer(symbol, n, now):
                sent.setdefault(symbol, []).append((now, n))
            if rng.random() < 0.3:  # a timer firing now and then
                for item in throttle.pop_due(now):
                    sent.setdefault(_symbol_of(item, last_offered), []).append((now, item))
        now += interval
        for item in throttle.pop_due(now):
            sent.setdefault(_symbol_of(item, last_offered), []).append((now, item))
        for symbol, updates in sent.items():
            times = [t for t, _ in updates]
            assert all(b - a >= interval - 1e-9 for a, b in itertools.pairwise(times))
            assert updates[-1][1] == last_offered[symbol]  # latest price wins


def _symbol_of(item: int, last_offered: dict[str, int]) -> str:
    # Held items are always their symbol's latest offer at the time.
    return next(s for s, n in last_offered.items() if n == item)
