"""Broker samples: interval differences of the board's counters and the best-price tally."""

from __future__ import annotations

from collections import Counter

from mesh.protoconv import tier_from_proto
from mesh.tiers import Tier
from servers.ingestion.broker_health import BrokerBoard
from servers.ingestion.broker_samples import BrokerSampler

S = 1_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 100 * S

    def __call__(self) -> int:
        return self.now


def test_intervals_carry_uptime_quotes_latency_refusals_and_wins() -> None:
    clock, board, won = FakeClock(), BrokerBoard(), Counter[tuple[Tier, str]]()
    sampler = BrokerSampler(board, lambda: Counter(won), clock)
    board.set_up("fxcm", True, clock.now, expected_rate=10.0)
    for latency in (1000, 3000):
        board.record("fxcm", clock.now, latency, accepted=True)
    board.record("fxcm", clock.now, 0, accepted=False)  # invalid
    board.reject("fxcm")  # one accepted above turned out an outlier
    won[Tier.FREE, "fxcm"] += 5
    clock.now += 4 * S
    board.set_up("fxcm", False, clock.now, expected_rate=10.0)  # down for the next 6 s
    clock.now += 6 * S
    (first,) = sampler.take()
    assert (first.broker, first.interval_us, first.up_us) == ("fxcm", 10 * S, 4 * S)
    assert (first.quotes, first.expected_quotes) == (3, 100.0)
    assert (first.invalid, first.outliers) == (1, 1)
    assert (first.latency_sum_us, first.latency_count) == (4000, 2)
    assert [(tier_from_proto(w.tier), w.won) for w in first.best_prices_won] == [(Tier.FREE, 5)]

    board.set_up("fxcm", True, clock.now, expected_rate=10.0)
    board.record("fxcm", clock.now, 2000, accepted=True)
    won[Tier.PRO, "fxcm"] += 2
    clock.now += 5 * S
    (second,) = sampler.take()
    # Only this interval's numbers: the first interval's are not counted twice.
    assert (second.interval_us, second.up_us, second.quotes) == (5 * S, 5 * S, 1)
    assert (second.invalid, second.outliers, second.latency_sum_us) == (0, 0, 2000)
    assert [(tier_from_proto(w.tier), w.won) for w in second.best_prices_won] == [(Tier.PRO, 2)]


def test_a_broker_first_seen_mid_interval_is_sampled_from_then_and_a_publisher_by_silence() -> None:
    clock, board = FakeClock(), BrokerBoard()
    sampler = BrokerSampler(board, Counter, clock)
    clock.now += 7 * S
    board.record("sidecar_feed", clock.now, 500, accepted=True)  # no collector: a publisher
    clock.now += 3 * S
    (sample,) = sampler.take()
    assert (sample.interval_us, sample.up_us, sample.expected_quotes) == (3 * S, 3 * S, 0.0)
    clock.now += 60 * S  # silent for a minute: down
    (sample,) = sampler.take()
    assert (sample.interval_us, sample.up_us, sample.quotes) == (60 * S, 0, 0)


def test_nothing_seen_nothing_sent() -> None:
    clock = FakeClock()
    sampler = BrokerSampler(BrokerBoard(), Counter, clock)
    clock.now += S
    assert sampler.take_request() is None
