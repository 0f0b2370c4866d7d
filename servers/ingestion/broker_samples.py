"""Per-broker samples for broker analytics: each interval's uptime, quotes against the feed's
rate, latency, refusals and best prices won per tier, on their durable way to Storage.

The figures are differences of the broker board's running counters (and the aggregator's
best-price tally) between two samples, so sampling costs nothing on the quote path and
an interval's numbers add up exactly to the period's. Durable as the Bridge's SLA
samples are (mesh.metering.batch_sender): spooled, fsynced, sent oldest first and resent
by the next run while Storage is unreachable; what a crash loses is at most the interval
in progress, which in-memory counters could not survive anyway.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from tickmesh.storage.v1 import storage_pb2

from mesh.protoconv import tier_to_proto
from mesh.tiers import Tier
from servers.ingestion.broker_health import BrokerBoard, BrokerTotals
from servers.ingestion.clock import Clock


class BrokerSampler:
    """Turns the board's running totals into one BrokerSample per broker and interval."""

    def __init__(
        self,
        board: BrokerBoard,
        best_prices_won: Callable[[], Counter[tuple[Tier, str]]],
        clock: Clock,
    ) -> None:
        self._board = board
        self._won = best_prices_won
        self._clock = clock
        self._started_us = clock()
        self._last_us = self._started_us
        self._last: dict[str, BrokerTotals] = {}
        self._last_won: Counter[tuple[Tier, str]] = Counter()

    def take(self) -> list[storage_pb2.BrokerSample]:
        """The samples of the interval since the previous call (none when nothing was seen)."""
        now = self._clock()
        won = self._won()  # running totals since start
        new_won = won - self._last_won
        samples = []
        for totals in self._board.totals(now):
            before = self._last.get(totals.broker)
            # A broker first seen during this interval is sampled from when it was seen.
            start = max(self._last_us, totals.since_us) if before is None else self._last_us
            interval = now - start
            if interval <= 0:
                continue
            samples.append(_sample(totals, before, interval, now, new_won))
            self._last[totals.broker] = totals
        self._last_us, self._last_won = now, won
        return samples

    def take_request(self) -> bytes | None:
        """The next RecordBrokerSamplesRequest, serialized; None when there is nothing."""
        samples = self.take()
        if not samples:
            return None
        return storage_pb2.RecordBrokerSamplesRequest(samples=samples).SerializeToString()


def _sample(
    now: BrokerTotals,
    before: BrokerTotals | None,
    interval_us: int,
    time_us: int,
    won: Counter[tuple[Tier, str]],
) -> storage_pb2.BrokerSample:
    def delta(field: str) -> int:
        value: int = getattr(now, field)
        return value - (getattr(before, field) if before is not None else 0)

    if now.judged_by_silence:
        # A publisher has no connection to report: it was up if it is quoting now.
        up_us = interval_us if now.up else 0
    else:
        up_us = min(interval_us, delta("up_us"))
    expected = now.expected_rate * interval_us / 1e6 if now.expected_rate else 0.0
    return storage_pb2.BrokerSample(
        broker=now.broker,
        time_us=time_us,
        interval_us=interval_us,
        up_us=max(0, up_us),
        quotes=delta("quotes"),
        expected_quotes=expected,
        invalid=delta("invalid"),
        outliers=delta("outliers"),
        latency_sum_us=delta("latency_sum_us"),
        latency_count=delta("latency_count"),
        latency_p99_us=now.latency_p99_us,
        best_prices_won=[
            storage_pb2.BestPricesWon(tier=tier_to_proto(tier), won=count)
            for tier in Tier
            if (count := won.get((tier, now.broker), 0))
        ],
    )
