"""Per-tenant stream minutes: time open and served, updates written and skipped, sources."""

from __future__ import annotations

from dataclasses import dataclass, field

from tickmesh.common.v1 import tenancy_pb2
from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier
from servers.bridge.source_watch import STALE_S, Sources, SourceWatch
from servers.bridge.stream_minutes import MINUTE_US, SLICE, StreamMinutes

T0 = 1_780_000_040_000_000  # 20 s into a minute
SECOND = 1_000_000


@dataclass
class FakeSession:
    session_id: str
    company_id: str
    tier: Tier
    opened_at_us: int
    ticks_delivered: int = 0
    skipped_total: int = 0
    gaps_total: int = 0
    symbols: tuple[str, ...] = ("EURUSD",)
    closed: bool = False
    tenant: TenantContext = field(init=False)

    def __post_init__(self) -> None:
        self.tenant = TenantContext(
            company_id=self.company_id, user_id="u", tier=self.tier, key_id="k"
        )


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def _minutes(
    sessions: list[FakeSession], clock: Clock, live: list[bool], sources: dict[Tier, Sources]
) -> StreamMinutes:
    return StreamMinutes(lambda: sessions, lambda: live[0], lambda t, _: sources.get(t), clock)


def _n(count: int, below: bool = False) -> Sources:
    return Sources(fewest=count, most=count, below_target=below)


def test_a_served_minute_counts_its_time_and_updates() -> None:
    clock, live = Clock(), [True]
    a = FakeSession("s1", "aaaaaaaaaaaa", Tier.ENTERPRISE, T0)
    minutes = _minutes([a], clock, live, {Tier.ENTERPRISE: _n(3)})
    minutes.observe()
    for _ in range(40):  # to the end of the minute, one look a second
        clock.now += SECOND
        a.ticks_delivered += 100
        minutes.observe()
    a.skipped_total, a.gaps_total = 5, 1
    clock.now += SECOND  # into the next minute: the first one is finished
    minutes.observe()
    # The finished minute, and the current one as far as it went (sent every 10 s).
    row, current = minutes.take()
    assert row.minute_us == T0 - T0 % MINUTE_US
    assert (row.stream_ms, row.available_ms) == (40_000, 40_000)
    # Counts seen at a look belong to the minute the look's step was in.
    assert (row.ticks_delivered, row.ticks_skipped, row.gaps) == (4000, 0, 0)
    assert row.live_sources_min == 3 and row.tier == tenancy_pb2.TIER_ENTERPRISE
    assert not row.below_redundancy
    assert current.minute_us == row.minute_us + MINUTE_US
    assert (current.ticks_delivered, current.ticks_skipped, current.gaps) == (0, 5, 1)
    assert (current.stream_ms, current.available_ms) == (1000, 1000)


def test_a_paused_bridge_leaves_the_time_open_but_unserved_across_minutes() -> None:
    clock, live = Clock(), [True]
    a = FakeSession("s1", "aaaaaaaaaaaa", Tier.PRO, T0)
    minutes = _minutes([a], clock, live, {Tier.PRO: _n(2)})
    minutes.observe()
    clock.now += 100 * SECOND  # SIGSTOP for 100 s: 40 s of this minute, 60 of the next
    minutes.observe()
    rows = minutes.take(finish=True)
    # Only the first 1.25 s after the last look can have been served.
    assert [(r.stream_ms, r.available_ms) for r in rows] == [(40_000, 1_250), (60_000, 0)]
    assert rows[1].minute_us == rows[0].minute_us + MINUTE_US


def test_no_feed_or_no_live_source_is_unserved_and_sources_take_the_minimum() -> None:
    clock, live = Clock(), [True]
    sources: dict[Tier, int | None] = {Tier.PRO: _n(2)}
    a = FakeSession("s1", "aaaaaaaaaaaa", Tier.PRO, T0)
    b = FakeSession("s2", "aaaaaaaaaaaa", Tier.PRO, T0 + 2 * SECOND)  # same tenant, later
    minutes = _minutes([a, b], clock, live, sources)
    minutes.observe()
    clock.now += SECOND
    minutes.observe()  # a alone: 1 s served
    live[0] = False
    clock.now += 2 * SECOND
    minutes.observe()  # a 2 s, b 1 s open (since T0 + 2 s); the feed is down: unserved
    live[0], sources[Tier.PRO] = True, _n(1, below=True)
    clock.now += SECOND
    minutes.observe()  # a and b 1 s each, served, one source left
    sources[Tier.PRO] = _n(0, below=True)
    clock.now += SECOND
    minutes.observe()  # no live source: open, unserved; 0 is no count
    [row] = minutes.take(finish=True)
    assert (row.stream_ms, row.available_ms) == (1000 + 3000 + 2000 + 2000, 1000 + 2000)
    assert row.live_sources_min == 1 and row.below_redundancy


def test_a_closed_session_hands_over_its_last_counts_once() -> None:
    clock = Clock()
    a = FakeSession("s1", "aaaaaaaaaaaa", Tier.FREE, T0)
    sessions = [a]
    minutes = _minutes(sessions, clock, [True], {})
    minutes.observe()
    a.ticks_delivered = 7
    a.closed = True  # still in the list a look took before it ended: not counted again
    minutes.closed(a)
    minutes.closed(a)  # told twice: counted once
    clock.now += SECOND
    minutes.observe()
    [row] = minutes.take(finish=True)
    assert row.ticks_delivered == 7 and row.live_sources_min == 0  # sources unknown


def _views(*views: tuple[int, str, int, int]) -> ingestion_pb2.GetBrokerStatusResponse:
    return ingestion_pb2.GetBrokerStatusResponse(
        views=[
            ingestion_pb2.ViewSources(tier=t, symbol=s, sources=n, target=target)  # type: ignore[arg-type]
            for t, s, n, target in views
        ]
    )


def test_sources_cover_the_sessions_symbols_and_go_stale() -> None:
    now = [0.0]
    watch = SourceWatch(fetch=None, clock=lambda: now[0])  # type: ignore[arg-type]
    assert watch.sources(Tier.ENTERPRISE, ["EURUSD"]) is None
    ent = tenancy_pb2.TIER_ENTERPRISE
    # USDSEK is quoted by one broker only: one source is all it can have.
    watch.update(_views((ent, "EURUSD", 3, 3), (ent, "USDSEK", 1, 1), (ent, "GBPUSD", 2, 3)))
    assert watch.sources(Tier.ENTERPRISE, ["EURUSD", "USDSEK"]) == Sources(1, 3, False)
    assert watch.sources(Tier.ENTERPRISE, ["EURUSD", "GBPUSD"]) == Sources(2, 3, True)
    assert watch.sources(Tier.PRO, ["EURUSD"]) is None  # no pro view reported
    now[0] += STALE_S + 1
    assert watch.sources(Tier.ENTERPRISE, ["EURUSD"]) is None


def test_the_current_minute_goes_out_every_ten_seconds_in_rows_that_add_up() -> None:
    clock = Clock()
    a = FakeSession("s1", "aaaaaaaaaaaa", Tier.PRO, T0)
    minutes = _minutes([a], clock, [True], {Tier.PRO: _n(2)})
    minutes.observe()
    sent = []
    for _ in range(25):
        clock.now += SECOND
        a.ticks_delivered += 1
        minutes.observe()
        sent += minutes.take()
    assert [(r.minute_us, r.stream_ms, r.ticks_delivered) for r in sent] == [
        (T0 - T0 % MINUTE_US, 10_000, 10),
        (T0 - T0 % MINUTE_US, 10_000, 10),
    ]
    [rest] = minutes.take(finish=True)
    assert (rest.stream_ms, rest.ticks_delivered) == (5_000, 5)


def test_a_look_goes_in_slices_that_yield_between_them() -> None:
    clock = Clock()
    sessions = [FakeSession(f"s{n}", "aaaaaaaaaaaa", Tier.FREE, T0) for n in range(1200)]
    minutes = _minutes(sessions, clock, [True], {Tier.FREE: _n(1)})
    minutes.observe()
    clock.now += SECOND
    slices = sum(1 for _ in minutes._look(SLICE))
    assert slices == 2  # 1,200 sessions: yields after 500 and 1,000
    [row] = minutes.take(finish=True)
    assert row.stream_ms == 1200 * 1000
