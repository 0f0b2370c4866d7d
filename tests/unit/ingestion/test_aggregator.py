"""Aggregator: best bid/ask across brokers, provenance, outliers, sequence, restarts."""

from __future__ import annotations

from mesh.tiers import Tier
from servers.ingestion.aggregator import Aggregator, AggregatorRules
from servers.ingestion.quote import RawQuote

T0 = 1_700_000_000_000_000


class FakeClock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def q(broker: str, bid: float, ask: float, t: int = T0, symbol: str = "EURUSD") -> RawQuote:
    return RawQuote(symbol, bid, ask, broker, t - 1_000, 1e6, 1e6)


def test_best_bid_and_ask_come_from_different_brokers_with_provenance() -> None:
    agg = Aggregator(clock=FakeClock())
    result = agg.ingest(
        [
            q("ic_markets", 1.08500, 1.08503),
            q("pepperstone", 1.08501, 1.08505),
            q("fxcm", 1.08499, 1.08502),
        ],
        T0,
    )
    assert not result.rejections
    last = result.ticks[-1]
    assert (last.bid, last.ask) == (1.08501, 1.08502)
    assert last.broker == "pepperstone" and last.ask_broker == "fxcm"
    assert last.spread_pips == 0.1
    assert sorted(bq.broker for bq in last.broker_quotes) == ["fxcm", "ic_markets", "pepperstone"]
    assert 0 < last.quality_score <= 1 and 0 < last.liquidity_score <= 1
    assert last.ingest_time_us == T0 and last.broker_time_us == T0 - 1_000


def test_ask_broker_is_empty_when_one_broker_sets_both_sides() -> None:
    agg = Aggregator(clock=FakeClock())
    tick = agg.ingest([q("ic_markets", 1.085, 1.08502)], T0).ticks[0]
    assert tick.broker == "ic_markets" and tick.ask_broker == ""


def test_a_tick_only_when_the_best_changes() -> None:
    agg = Aggregator(clock=FakeClock())
    enterprise = 4  # the enterprise view's bit: the view that sees every broker
    first = agg.ingest([q("ic_markets", 1.08500, 1.08502)], T0).ticks
    # A worse quote from another broker changes nothing at the top of the book.
    same = agg.ingest([q("fxcm", 1.08490, 1.08510)], T0 + 10).ticks
    better = agg.ingest([q("fxcm", 1.08501, 1.08510)], T0 + 20).ticks
    first, same, better = ([t for t in ts if t.views & enterprise] for ts in (first, same, better))
    assert len(first) == 1 and same == [] and len(better) == 1
    assert better[0].sequence > first[0].sequence


def test_sequence_strictly_increases_across_symbols() -> None:
    agg = Aggregator(clock=FakeClock())
    quotes = []
    for i in range(50):
        quotes.append(q("ic_markets", 1.085 + i * 1e-5, 1.08502 + i * 1e-5, T0 + i))
        quotes.append(q("ic_markets", 150.5 + i * 1e-3, 150.503 + i * 1e-3, T0 + i, "USDJPY"))
    ticks = agg.ingest(quotes, T0 + 100).ticks
    sequences = [t.sequence for t in ticks]
    assert len(ticks) == 100
    assert sequences == list(range(sequences[0], sequences[0] + 100))
    assert agg.last_seq == sequences[-1]


def test_sequence_starts_at_the_clock_and_a_restart_continues_above() -> None:
    clock = FakeClock()
    first_life = Aggregator(clock=clock)
    assert first_life.start_seq == T0
    ticks = []
    for i in range(1_000):
        ticks += first_life.ingest([q("ic_markets", 1.085 + i * 1e-5, 1.086)], T0).ticks
    # The restart comes 5 ms later: 1,000 ticks in 5 ms is 200 k ticks/s, under 1 M/s.
    clock.now = T0 + 5_000
    second_life = Aggregator(clock=clock)
    tick = second_life.ingest([q("ic_markets", 1.085, 1.086, clock.now)], clock.now).ticks[0]
    assert tick.sequence > ticks[-1].sequence


def test_an_outlier_far_from_the_other_brokers_median_is_refused() -> None:
    agg = Aggregator(clock=FakeClock())
    agg.ingest([q("ic_markets", 1.08500, 1.08502), q("pepperstone", 1.08501, 1.08504)], T0)
    result = agg.ingest([q("fxcm", 1.09500, 1.09503)], T0 + 10)  # 100 pips off
    assert result.ticks == []
    assert [(i, r.split(":")[0]) for i, r in result.rejections] == [(0, "outlier")]
    assert "median" in result.rejections[0][1]


def test_a_lone_broker_jumping_many_sigmas_is_refused_then_believed() -> None:
    rules = AggregatorRules(reanchor_after=3)
    agg = Aggregator(clock=FakeClock(), rules=rules)
    agg.ingest([q("ic_markets", 1.08500, 1.08502)], T0)
    jumped = [q("ic_markets", 1.09000, 1.09002, T0 + 1_000 * i) for i in range(1, 4)]
    outcomes = [agg.ingest([quote], quote.broker_time_us) for quote in jumped]
    assert [len(o.rejections) for o in outcomes] == [1, 1, 0]
    assert "sigma" in outcomes[0].rejections[0][1]
    assert outcomes[2].ticks[0].bid == 1.09


def test_a_normal_move_over_time_is_accepted() -> None:
    agg = Aggregator(clock=FakeClock())
    agg.ingest([q("ic_markets", 1.08500, 1.08502)], T0)
    # 20 pips over an hour is ~1 sigma for EURUSD: not an outlier.
    later = T0 + 3_600_000_000
    result = agg.ingest([q("ic_markets", 1.08700, 1.08702, later)], later)
    assert not result.rejections and result.ticks[0].bid == 1.087


def test_a_down_broker_leaves_the_book_and_moves_the_best() -> None:
    down: set[str] = set()
    agg = Aggregator(clock=FakeClock(), is_down=down.__contains__)
    agg.ingest([q("ic_markets", 1.08500, 1.08503), q("pepperstone", 1.08501, 1.08504)], T0)
    down.add("pepperstone")
    ticks = agg.reevaluate("pepperstone", T0 + 10)
    assert [(t.bid, t.ask, t.broker) for t in ticks] == [(1.085, 1.08503, "ic_markets")]
    assert [bq.broker for bq in ticks[0].broker_quotes] == ["ic_markets"]


def test_stale_quotes_do_not_set_the_best() -> None:
    agg = Aggregator(clock=FakeClock(), rules=AggregatorRules(stale_after_us=1_000_000))
    agg.ingest([q("pepperstone", 1.08510, 1.08512)], T0)
    later = T0 + 2_000_000
    tick = agg.ingest([q("ic_markets", 1.08500, 1.08502, later)], later).ticks[0]
    assert (tick.bid, tick.broker) == (1.085, "ic_markets")


def test_a_crossed_book_drops_the_older_quote() -> None:
    agg = Aggregator(clock=FakeClock())
    agg.ingest([q("pepperstone", 1.08500, 1.08502, T0)], T0)
    # ic_markets' newer quote bids above pepperstone's older ask: pepperstone is behind.
    tick = agg.ingest([q("ic_markets", 1.08504, 1.08506, T0 + 500)], T0 + 500).ticks[-1]
    assert (tick.bid, tick.ask, tick.broker) == (1.08504, 1.08506, "ic_markets")
    assert tick.bid <= tick.ask


def test_quality_is_higher_when_brokers_agree() -> None:
    agg = Aggregator(clock=FakeClock())
    agree = agg.ingest([q("ic_markets", 1.085, 1.08502), q("fxcm", 1.08501, 1.08503)], T0).ticks
    other = Aggregator(clock=FakeClock())
    differ = other.ingest([q("ic_markets", 1.085, 1.08502), q("fxcm", 1.08501, 1.0853)], T0).ticks
    assert (agree[-1].bid, agree[-1].ask) == (differ[-1].bid, differ[-1].ask)
    assert agree[-1].quality_score > differ[-1].quality_score


def test_one_bad_broker_cannot_refuse_the_others_good_quotes() -> None:
    agg = Aggregator(clock=FakeClock())
    agg.ingest([q("ic_markets", 1.08500, 1.08502)], T0)
    # pepperstone's first quote is far off; with one opinion against one it is believed...
    agg.ingest([q("pepperstone", 1.09500, 1.09502, T0 + 10)], T0 + 10)
    # ...but it cannot make ic_markets' next good quote an outlier,
    result = agg.ingest([q("ic_markets", 1.08501, 1.08503, T0 + 20)], T0 + 20)
    assert not result.rejections
    # and once a third broker agrees with ic_markets, pepperstone is outvoted.
    agg.ingest([q("fxcm", 1.08500, 1.08504, T0 + 30)], T0 + 30)
    result = agg.ingest([q("pepperstone", 1.09501, 1.09503, T0 + 40)], T0 + 40)
    assert "median" in result.rejections[0][1]


def test_best_prices_won_are_counted_per_tier_view_and_side() -> None:
    agg = Aggregator(clock=FakeClock())
    agg.ingest(
        [
            q("fxcm", 1.08499, 1.08502),  # first, so free never falls back to another
            q("ic_markets", 1.08500, 1.08503),
            q("pepperstone", 1.08501, 1.08505),
        ],
        T0,
    )
    won = agg.best_prices_won()
    # Each published best price credits its bid's and its ask's broker once. Free sees
    # fxcm alone; enterprise's last price is pepperstone's bid with fxcm's ask.
    assert won[Tier.FREE, "fxcm"] == 2
    assert won[Tier.ENTERPRISE, "pepperstone"] >= 1 and won[Tier.ENTERPRISE, "fxcm"] >= 1
    assert not any(won[Tier.FREE, b] for b in ("ic_markets", "pepperstone"))
    assert sum(won.values()) % 2 == 0
