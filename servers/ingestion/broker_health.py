"""Per-broker health: up/down, latency percentiles, completeness over the last minute, counters."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW_S = 60
"""Completeness is measured over this many seconds."""
_SLOTS = WINDOW_S + 1  # the window's seconds plus the one being counted now
LATENCY_SAMPLES = 2048
"""Latency percentiles cover this many most recent quotes."""
SILENT_AFTER_US = 10_000_000
"""A broker without its own collector (a publisher) counts as down after this much silence."""


@dataclass(frozen=True, slots=True)
class BrokerReport:
    """One broker's status at a moment, as GetBrokerStatus reports it."""

    broker: str
    up: bool
    latency_p50_us: int
    latency_p99_us: int
    completeness: float
    quotes: int
    rejected: int
    disconnects: int


@dataclass(frozen=True, slots=True)
class BrokerTotals:
    """One broker's counters since it was first seen, for interval samples (broker_samples)."""

    broker: str
    since_us: int
    up: bool
    up_us: int
    """Time connected since first seen (0 for a publisher: see judged_by_silence)."""
    expected_rate: float | None
    quotes: int
    invalid: int
    outliers: int
    latency_sum_us: int
    latency_count: int
    latency_p99_us: int
    judged_by_silence: bool
    """No collector reports it: `up` is judged by silence, up_us is not tracked."""


@dataclass(slots=True)
class _Health:
    since_us: int
    expected_rate: float | None = None
    up: bool | None = None  # None: no collector reports it (a publisher); judged by silence
    quotes: int = 0
    rejected: int = 0
    disconnects: int = 0
    outliers: int = 0
    latency_sum_us: int = 0
    up_us: int = 0  # connected time up to up_changed_us
    up_changed_us: int = 0
    last_quote_us: int = 0
    latencies: deque[int] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    # Quotes received per wall-clock second, in a ring of slots stamped with their second so
    # stale slots read as zero.
    counts: list[int] = field(default_factory=lambda: [0] * _SLOTS)
    stamps: list[int] = field(default_factory=lambda: [-1] * _SLOTS)


class BrokerBoard:
    """The health of every broker seen, fed by collectors and the pipeline."""

    def __init__(self) -> None:
        self._brokers: dict[str, _Health] = {}

    def _get(self, broker: str, now_us: int) -> _Health:
        health = self._brokers.get(broker)
        if health is None:
            health = self._brokers[broker] = _Health(since_us=now_us)
        return health

    def set_up(self, broker: str, up: bool, now_us: int, expected_rate: float | None) -> None:
        """A collector reports its feed (dis)connected; a fall from up counts a disconnect."""
        health = self._get(broker, now_us)
        if health.up and not up:
            health.disconnects += 1
        if health.up:
            health.up_us += now_us - health.up_changed_us
        health.up_changed_us = now_us
        health.up = up
        health.expected_rate = expected_rate

    def is_down(self, broker: str) -> bool:
        """True when a collector reported this broker disconnected."""
        health = self._brokers.get(broker)
        return health is not None and health.up is False

    def record(self, broker: str, now_us: int, latency_us: int, accepted: bool) -> None:
        """Count one received quote (accepted or rejected) and its latency."""
        health = self._get(broker, now_us)
        health.quotes += 1
        health.last_quote_us = now_us
        if accepted:
            health.latencies.append(latency_us)
            health.latency_sum_us += latency_us
        else:
            health.rejected += 1
        second = now_us // 1_000_000
        slot = second % _SLOTS
        if health.stamps[slot] != second:
            health.stamps[slot] = second
            health.counts[slot] = 0
        health.counts[slot] += 1

    def reject(self, broker: str) -> None:
        """Count a quote the aggregator refused after it was recorded as received."""
        health = self._brokers.get(broker)
        if health is not None:
            health.rejected += 1
            health.outliers += 1

    def reports(self, now_us: int) -> list[BrokerReport]:
        """Every broker's status, sorted by name."""
        return [self._report(name, h, now_us) for name, h in sorted(self._brokers.items())]

    def totals(self, now_us: int) -> list[BrokerTotals]:
        """Every broker's counters since first seen, sorted by name."""
        out = []
        for name, h in sorted(self._brokers.items()):
            up = h.up if h.up is not None else now_us - h.last_quote_us <= SILENT_AFTER_US
            up_us = h.up_us + (now_us - h.up_changed_us if h.up else 0)
            latencies = sorted(h.latencies)
            out.append(
                BrokerTotals(
                    broker=name,
                    since_us=h.since_us,
                    up=up,
                    up_us=up_us,
                    expected_rate=h.expected_rate,
                    quotes=h.quotes,
                    invalid=h.rejected - h.outliers,
                    outliers=h.outliers,
                    latency_sum_us=h.latency_sum_us,
                    # Accepted at validation: every quote received but the invalid ones.
                    latency_count=h.quotes - (h.rejected - h.outliers),
                    latency_p99_us=_percentile(latencies, 0.99),
                    judged_by_silence=h.up is None,
                )
            )
        return out

    def _report(self, name: str, h: _Health, now_us: int) -> BrokerReport:
        latencies = sorted(h.latencies)
        up = h.up if h.up is not None else now_us - h.last_quote_us <= SILENT_AFTER_US
        return BrokerReport(
            broker=name,
            up=up,
            latency_p50_us=_percentile(latencies, 0.50),
            latency_p99_us=_percentile(latencies, 0.99),
            completeness=self._completeness(h, now_us),
            quotes=h.quotes,
            rejected=h.rejected,
            disconnects=h.disconnects,
        )

    @staticmethod
    def _completeness(h: _Health, now_us: int) -> float:
        second = now_us // 1_000_000
        # Only whole seconds count, and only since the broker was first seen, so a broker
        # that started ten seconds ago is not judged on a full minute.
        first = max(second - WINDOW_S, -(-h.since_us // 1_000_000))
        seconds = range(first, second)
        if not seconds:
            return 1.0
        counts = [h.counts[s % _SLOTS] if h.stamps[s % _SLOTS] == s else 0 for s in seconds]
        if h.expected_rate:
            return min(1.0, sum(counts) / (h.expected_rate * len(counts)))
        # No known rate (a publisher): the share of seconds in which it delivered anything.
        return sum(1 for c in counts if c) / len(counts)


def _percentile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]
