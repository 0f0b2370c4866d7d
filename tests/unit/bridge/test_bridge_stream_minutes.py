"""Per-tenant stream minutes: time open and served, updates written and skipped, sources."""

from __future__ import annotations

from dataclasses import dataclass, field

from tickmesh.common.v1 import tenancy_pb2
from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier
from servers.bridge.source_watch import STALE_S, SourceWatch
from servers.bridge.stream_minutes import MINUTE_US, StreamMinutes

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
    sessions: list[FakeSession], clock: Clock, live: list[bool], sources: dict[Tier, int | None]
) -> StreamMinutes:
    return StreamMinutes(lambda: sessions, lambda: live[0], sources.get, clock)


def test_a_served_minute_counts_its_time_and_updates() -> None:
    clock, live = Clock(), [True]
    a = FakeSession("s1", "aaaaaaaaaaaa", Tier.ENTERPRISE, T0)
    minutes = _minutes([a], clock, live, {Tier.ENTERPRISE: 3})
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
    assert current.minute_us == row.minute_us + MINUTE_US
    assert (current.ticks_delivered, current.ticks_skipped, current.gaps) == (0, 5, 1)
    assert (current.stream_ms, current.available_ms) == (1000, 1000)


def test_a_paused_bridge_leaves_the_time_open_but_unserved_across_minutes() -> None:
    clock, live = Clock(), [True]
    a = FakeSession("s1", "aaaaaaaaaaaa", Tier.PRO, T0)
    minutes = _minutes([a], clock, live, {Tier.PRO: 2})
    minutes.observe()
    clock.now += 100 * SECOND  # SIGSTOP for 100 s: 40 s of this minute, 60 of the next
    minutes.observe()
    rows = minutes.take(finish=True)
    # Only the first 1.25 s after the last look can have been served.
    assert [(r.stream_ms, r.available_ms) for r in rows] == [(40_000, 1_250), (60_000, 0)]
    assert rows[1].minute_us == rows[0].minute_us + MINUTE_US


def test_no_feed_or_no_live_source_is_unserved_and_sources_take_the_minimum() -> None:
    clock, live = Clock(), [True]
    sources: dict[Tier, int | None] = {Tier.PRO: 2}
    a = FakeSession("s1", "aaaaaaaaaaaa", Tier.PRO, T0)
    b = FakeSession("s2", "aaaaaaaaaaaa", Tier.PRO, T0 + 2 * SECOND)  # same tenant, later
    minutes = _minutes([a, b], clock, live, sources)
    minutes.observe()
    clock.now += SECOND
    minutes.observe()  # a alone: 1 s served
    live[0] = False
    clock.now += 2 * SECOND
    minutes.observe()  # a 2 s, b 1 s open (since T0 + 2 s); the feed is down: unserved
    live[0], sources[Tier.PRO] = True, 1
    clock.now += SECOND
    minutes.observe()  # a and b 1 s each, served, one source left
    sources[Tier.PRO] = 0
    clock.now += SECOND
    minutes.observe()  # no live source: open, unserved; 0 is no count
    [row] = minutes.take(finish=True)
    assert (row.stream_ms, row.available_ms) == (1000 + 3000 + 2000 + 2000, 1000 + 2000)
    assert row.live_sources_min == 1


def test_a_closed_session_hands_over_its_last_counts_once() -> None:
    clock = Clock()
    a = FakeSession("s1", "aaaaaaaaaaaa", Tier.FREE, T0)
    sessions = [a]
    minutes = _minutes(sessions, clock, [True], {})
    minutes.observe()
    a.ticks_delivered = 7
    sessions.clear()
    minutes.closed(a)
    minutes.closed(a)  # told twice: counted once
    clock.now += SECOND
    minutes.observe()
    [row] = minutes.take(finish=True)
    assert row.ticks_delivered == 7 and row.live_sources_min == 0  # sources unknown


def _status(*up: tuple[str, bool]) -> ingestion_pb2.GetBrokerStatusResponse:
    return ingestion_pb2.GetBrokerStatusResponse(
        brokers=[ingestion_pb2.BrokerStatus(broker=b, up=u) for b, u in up]
    )


def test_live_sources_follow_each_tiers_policy_and_go_stale() -> None:
    now = [0.0]
    watch = SourceWatch(fetch=None, clock=lambda: now[0])  # type: ignore[arg-type]
    assert watch.live_sources(Tier.FREE) is None
    watch.update(_status(("ic_markets", True), ("pepperstone", True), ("fxcm", True)))
    assert [watch.live_sources(t) for t in Tier] == [1, 2, 3]
    # fxcm down: free fails over (still one source), pro keeps two, enterprise has two.
    watch.update(_status(("ic_markets", True), ("pepperstone", True), ("fxcm", False)))
    assert [watch.live_sources(t) for t in Tier] == [1, 2, 2]
    watch.update(_status(("ic_markets", False), ("pepperstone", False), ("fxcm", False)))
    assert [watch.live_sources(t) for t in Tier] == [0, 0, 0]
    now[0] += STALE_S + 1
    assert watch.live_sources(Tier.ENTERPRISE) is None


def test_the_current_minute_goes_out_every_ten_seconds_in_rows_that_add_up() -> None:
    clock = Clock()
    a = FakeSession("s1", "aaaaaaaaaaaa", Tier.PRO, T0)
    minutes = _minutes([a], clock, [True], {Tier.PRO: 2})
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
