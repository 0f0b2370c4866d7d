"""The fan-out: snapshots, dispatch isolation, resume catch-up and gap notices."""

from __future__ import annotations

import pytest
from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2

from mesh.errors import Unavailable
from mesh.tiers import Tier
from servers.bridge.fanout import BEFORE_START, Fanout
from servers.bridge.session import Session, SessionLimits
from servers.bridge.usage_counter import UsageCounter
from tests.unit.bridge.helpers import FakeClock, FakeTimers, grant, parse, tenant, tick


def _fanout(**bounds: int) -> tuple[Fanout, FakeClock]:
    clock = FakeClock()
    fanout = Fanout(
        UsageCounter(), bounds=SessionLimits(**bounds), clock=clock, schedule=FakeTimers()
    )
    fanout.on_universe(["EURUSD", "GBPUSD", "USDJPY"])
    return fanout, clock


def _feed(fanout: Fanout, clock: FakeClock, *ticks: market_pb2.Tick) -> None:
    clock.now += 1  # past every tier's interval
    fanout.on_batch(list(ticks), ticks[0].sequence, ticks[-1].sequence)


def _drain(session: Session) -> list[bridge_pb2.SubscribeResponse]:
    out = []
    while (message := session.take_message()) is not None:
        out.append(parse(message.payload))
    return out


def test_snapshot_has_each_granted_symbols_last_tick_projected() -> None:
    fanout, clock = _fanout()
    _feed(fanout, clock, tick("EURUSD", 1), tick("GBPUSD", 2), tick("USDJPY", 3))
    _feed(fanout, clock, tick("EURUSD", 4))
    opened = fanout.open("s1", tenant(Tier.FREE), grant(Tier.FREE, "EURUSD", "GBPUSD"))
    assert opened.start_seq == 5
    assert opened.snapshot is not None
    assert [(seq, symbol) for seq, symbol, _ in opened.snapshot] == [(2, "GBPUSD"),
                                                                     (4, "EURUSD")]  # fmt: skip
    assert _drain(opened.session) == []  # nothing else until new data


def test_no_snapshot_when_declined() -> None:
    fanout, clock = _fanout()
    _feed(fanout, clock, tick("EURUSD", 1))
    opened = fanout.open("s1", tenant(), grant(Tier.ENTERPRISE, "EURUSD"), snapshot=False)
    assert opened.snapshot is None


def test_a_stuck_session_stays_bounded_and_never_holds_back_another() -> None:
    fanout, clock = _fanout(max_queue_ticks=20)
    symbols = ("EURUSD", "GBPUSD", "USDJPY")
    slow = fanout.open("slow", tenant(), grant(Tier.ENTERPRISE, *symbols)).session
    fast = fanout.open("fast", tenant(), grant(Tier.ENTERPRISE, *symbols)).session
    received: list[int] = []
    for n in range(100):
        _feed(fanout, clock, *(tick(s, n * 3 + i + 1) for i, s in enumerate(symbols)))
        received += [t.sequence for m in _drain(fast) for t in m.batch.ticks]
        assert slow.queued_ticks <= 20
    assert received == list(range(1, 301))  # the fast one got every sequence
    assert slow.skipped_total > 0 and fast.skipped_total == 0


def test_resume_within_coverage_catches_up_without_gap_or_duplicate() -> None:
    fanout, clock = _fanout()
    _feed(fanout, clock, tick("EURUSD", 1), tick("GBPUSD", 2))
    _feed(fanout, clock, tick("EURUSD", 3), tick("USDJPY", 4))
    _feed(fanout, clock, tick("EURUSD", 5))
    opened = fanout.open(
        "s1", tenant(), grant(Tier.ENTERPRISE, "EURUSD", "GBPUSD", "USDJPY"), resume_from=2
    )
    assert opened.start_seq == 3
    assert opened.snapshot is not None
    # The snapshot is the state as of the resume point; changes after it are batches.
    assert [seq for seq, _, _ in opened.snapshot] == [2]
    (catch_up,) = _drain(opened.session)
    assert [t.sequence for t in catch_up.batch.ticks] == [4, 5]
    assert catch_up.batch.last_seq == 5
    _feed(fanout, clock, tick("EURUSD", 6))
    (live,) = _drain(opened.session)
    assert [t.sequence for t in live.batch.ticks] == [6]


def test_resume_from_before_the_bridge_started_gets_a_gap_notice() -> None:
    fanout, clock = _fanout()
    _feed(fanout, clock, tick("EURUSD", 100))
    opened = fanout.open("s1", tenant(), grant(Tier.ENTERPRISE, "EURUSD"), resume_from=50)
    gap, catch_up = _drain(opened.session)
    assert (gap.gap.from_seq, gap.gap.to_seq, gap.gap.reason) == (51, 99, BEFORE_START)
    assert [t.sequence for t in catch_up.batch.ticks] == [100]


def test_upstream_gaps_reach_live_sessions_and_later_resumes() -> None:
    fanout, clock = _fanout()
    _feed(fanout, clock, tick("EURUSD", 1))
    live = fanout.open("live", tenant(), grant(Tier.ENTERPRISE, "EURUSD")).session
    fanout.on_gap(2, 9, "evicted upstream")
    _feed(fanout, clock, tick("EURUSD", 10))
    kinds = [m.WhichOneof("payload") for m in _drain(live)]
    assert kinds == ["gap", "batch"]
    assert fanout.watermark == 10
    resumed = fanout.open("r", tenant(), grant(Tier.ENTERPRISE, "EURUSD"), resume_from=1)
    gap, batch = _drain(resumed.session)
    assert (gap.gap.from_seq, gap.gap.to_seq) == (2, 9)
    assert [t.sequence for t in batch.batch.ticks] == [10]


def test_resume_ahead_of_the_bridge_waits_for_newer_sequences() -> None:
    fanout, clock = _fanout()
    _feed(fanout, clock, tick("EURUSD", 1))
    opened = fanout.open("s1", tenant(), grant(Tier.ENTERPRISE, "EURUSD"), resume_from=3)
    assert opened.start_seq == 4
    _feed(fanout, clock, tick("EURUSD", 2), tick("EURUSD", 3))
    _feed(fanout, clock, tick("EURUSD", 4))
    assert [[t.sequence for t in m.batch.ticks] for m in _drain(opened.session)] == [[4]]


def test_close_all_ends_sessions_and_refuses_new_ones() -> None:
    fanout, _ = _fanout()
    session = fanout.open("s1", tenant(), grant(Tier.ENTERPRISE, "EURUSD")).session
    fanout.close_all()
    assert session.closed
    assert isinstance(session.error, Unavailable) and session.error.reason == "SHUTTING_DOWN"
    with pytest.raises(Unavailable):
        fanout.open("s2", tenant(), grant(Tier.ENTERPRISE, "EURUSD"))


def test_sessions_are_listed_per_company() -> None:
    fanout, _ = _fanout()
    fanout.open("a", tenant(company="c1"), grant(Tier.ENTERPRISE, "EURUSD"))
    fanout.open("b", tenant(company="c2"), grant(Tier.ENTERPRISE, "EURUSD"))
    assert [s.session_id for s in fanout.sessions_of("c1")] == ["a"]
    fanout.close("a")
    assert fanout.sessions_of("c1") == []


def _of(views: int, t: market_pb2.Tick) -> market_pb2.Tick:
    t.views = views
    return t


def test_each_tier_gets_only_its_views_ticks_in_snapshot_and_live() -> None:
    fanout, clock = _fanout()
    free_bit, pro_bit, ent_bit = (tier.view_bit for tier in Tier)
    _feed(
        fanout, clock, _of(free_bit, tick("EURUSD", 1)), _of(pro_bit | ent_bit, tick("EURUSD", 2))
    )
    free = fanout.open("f", tenant(Tier.FREE), grant(Tier.FREE, "EURUSD"))
    ent = fanout.open("e", tenant(), grant(Tier.ENTERPRISE, "EURUSD"))
    assert [seq for seq, _, _ in free.snapshot or []] == [1]
    assert [seq for seq, _, _ in ent.snapshot or []] == [2]
    _feed(fanout, clock, _of(ent_bit, tick("EURUSD", 3)), _of(free_bit, tick("EURUSD", 4)))
    got = {
        name: [t.sequence for m in _drain(opened.session) for t in m.batch.ticks]
        for name, opened in (("free", free), ("ent", ent))
    }
    assert got == {"free": [4], "ent": [3]}
