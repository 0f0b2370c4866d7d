"""Tier views: each tier's price from its own brokers, failover and recovery with causes."""

from __future__ import annotations

from tickmesh.common.v1 import market_pb2

from mesh.source_policy import SourcePolicy
from mesh.tiers import CATALOG, Tier
from servers.ingestion.aggregator import Aggregator, AggregatorRules
from servers.ingestion.quote import RawQuote
from servers.ingestion.tier_views import view_bit

T0 = 1_700_000_000_000_000
FREE, PRO, ENTERPRISE = (view_bit(t) for t in Tier)
ALL = ("ic_markets", "pepperstone", "fxcm")


def q(broker: str, bid: float, t: int = T0, symbol: str = "EURUSD") -> RawQuote:
    return RawQuote(symbol, bid, bid + 0.00004, broker, t - 1_000, 1e6, 1e6)


def latest(ticks: list[market_pb2.Tick], bit: int) -> market_pb2.Tick:
    return [t for t in ticks if t.views & bit][-1]


def sources(tick: market_pb2.Tick) -> set[str]:
    return {quote.broker for quote in tick.broker_quotes}


class Mesh:
    """An aggregator whose brokers can be taken down."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.agg = Aggregator(
            clock=lambda: T0,
            rules=AggregatorRules(stale_after_us=1_000_000),
            is_down=self.down.__contains__,
        )
        self.ticks: list[market_pb2.Tick] = []

    def quote(self, *quotes: RawQuote, now: int = T0) -> None:
        self.ticks += self.agg.ingest(list(quotes), now).ticks

    def all_quote(self, now: int = T0, bid: float = 1.08500) -> None:
        # pepperstone best, ic_markets next, fxcm worst: each tier's best differs
        self.quote(
            q("pepperstone", bid + 0.00002, now),
            q("ic_markets", bid + 0.00001, now),
            q("fxcm", bid, now),
            now=now,
        )


def test_each_tier_prices_from_the_brokers_the_catalog_lists() -> None:
    mesh = Mesh()
    mesh.all_quote()
    free, pro, ent = (latest(mesh.ticks, bit) for bit in (FREE, PRO, ENTERPRISE))
    assert free.broker == "fxcm" and sources(free) == set(CATALOG[Tier.FREE].brokers)
    assert pro.broker == "ic_markets" and sources(pro) == set(CATALOG[Tier.PRO].brokers)
    assert ent.broker == "pepperstone" and sources(ent) == set(ALL)
    assert mesh.agg.switches.query() == []  # sources joining at start are no switch


def test_a_symbol_outside_a_tier_has_no_view_of_that_tier() -> None:
    mesh = Mesh()
    mesh.quote(q("fxcm", 160.100, symbol="EURJPY"))  # a major, not a free symbol
    assert {t.views for t in mesh.ticks} == {PRO | ENTERPRISE}


def test_a_down_broker_fails_over_to_the_next_allowed_and_back() -> None:
    mesh = Mesh()
    mesh.all_quote()
    mesh.down.add("fxcm")
    mesh.ticks += mesh.agg.reevaluate("fxcm", T0 + 10)
    free, pro, ent = (latest(mesh.ticks, bit) for bit in (FREE, PRO, ENTERPRISE))
    assert sources(free) == {"ic_markets"}  # free's first fallback
    assert sources(pro) == {"ic_markets", "pepperstone"}  # pro keeps two live sources
    assert sources(ent) == {"ic_markets", "pepperstone"}  # nothing left to add
    switches = {s.tier: s for s in mesh.agg.switches.query()}
    assert switches[Tier.FREE].cause == "fxcm down; failover to ic_markets"
    assert not switches[Tier.FREE].recovery and not switches[Tier.FREE].degraded
    assert not switches[Tier.PRO].degraded and switches[Tier.ENTERPRISE].degraded
    assert mesh.agg.switches.failovers == 3

    mesh.down.clear()
    mesh.all_quote(T0 + 20, bid=1.08510)
    assert latest(mesh.ticks, FREE).broker == "fxcm"
    assert sources(latest(mesh.ticks, PRO)) == {"ic_markets", "fxcm"}
    back = mesh.agg.switches.query(since_us=T0 + 10, tier=Tier.FREE)
    assert [(s.cause, s.recovery) for s in back] == [
        ("fxcm live again; back from ic_markets", True)
    ]


def test_a_silent_broker_goes_stale_and_the_sweep_fails_over() -> None:
    mesh = Mesh()
    mesh.all_quote()
    later = T0 + 1_500_000  # past stale_after_us; nobody quoted EURUSD since
    mesh.quote(q("ic_markets", 1.08520, later), q("pepperstone", 1.08521, later), now=later)
    mesh.ticks += mesh.agg.sweep(later)
    assert latest(mesh.ticks, FREE).broker == "ic_markets"
    [switch] = mesh.agg.switches.query(tier=Tier.FREE)
    assert switch.cause == "fxcm stale: no quote for 1.5 s; failover to ic_markets"
    assert switch.from_brokers == ("fxcm",) and switch.to_brokers == ("ic_markets",)


def test_the_sweep_alone_notices_a_view_left_without_sources() -> None:
    mesh = Mesh()
    mesh.quote(q("fxcm", 1.08500))
    assert mesh.agg.sweep(T0 + 2_000_000) == []  # nothing to fail over to: no price
    [switch, *_] = mesh.agg.switches.query(tier=Tier.FREE)
    assert switch.to_brokers == () and switch.degraded


def test_policies_follow_the_catalog() -> None:
    free, pro, ent = (SourcePolicy.of(t) for t in Tier)
    assert free.order == ("fxcm", "ic_markets", "pepperstone") and free.redundancy == 1
    assert pro.order == ("ic_markets", "fxcm", "pepperstone") and pro.redundancy == 2
    assert ent.every_live and ent.redundancy == 3
    live = {"pepperstone", "fxcm", "lmax"}.__contains__
    assert free.choose(["lmax"], live) == ("fxcm",)
    assert pro.choose(["lmax"], live) == ("fxcm", "pepperstone")
    assert ent.choose(["lmax"], live) == ("pepperstone", "fxcm", "lmax")


def test_view_sources_report_each_views_count_against_what_it_could_have() -> None:
    mesh = Mesh()
    mesh.all_quote()
    counts = {(tier, symbol): (n, target) for tier, symbol, n, target in mesh.agg.view_sources()}
    assert counts == {
        (Tier.FREE, "EURUSD"): (1, 1),
        (Tier.PRO, "EURUSD"): (2, 2),
        (Tier.ENTERPRISE, "EURUSD"): (3, 3),
    }
    mesh.down.add("fxcm")
    mesh.ticks += mesh.agg.reevaluate("fxcm", T0 + 10)
    counts = {(tier, symbol): (n, target) for tier, symbol, n, target in mesh.agg.view_sources()}
    # Free and pro fail over and keep their count; enterprise has nothing left to add.
    assert counts[(Tier.FREE, "EURUSD")] == (1, 1)
    assert counts[(Tier.PRO, "EURUSD")] == (2, 2)
    assert counts[(Tier.ENTERPRISE, "EURUSD")] == (2, 3)
