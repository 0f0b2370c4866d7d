"""A session on a fake clock and fake timers: filter, throttle, bounded conflating queue,
coalescing, sequence numbers and counts."""

from __future__ import annotations

import asyncio

from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2

from mesh.tiers import Tier
from servers.bridge.fanout import Fanout
from servers.bridge.session import SessionLimits
from servers.bridge.usage_counter import UsageCounter
from tests.unit.bridge.helpers import FakeClock, FakeTimers, grant, parse, tenant, tick, view


class Harness:
    """One session opened on a fan-out with a fake clock and fake timers (the throttle
    is its tier feed's)."""

    def __init__(
        self, tier: Tier, *symbols: str, bounds: SessionLimits | None = None,
        max_batch_ticks: int = 0, resume_from: int = 0,
    ) -> None:  # fmt: skip
        self.clock = FakeClock()
        self.timers = FakeTimers()
        self.usage = UsageCounter()
        self.fanout = Fanout(
            self.usage, bounds=bounds or SessionLimits(), clock=self.clock,
            wall_us=lambda: 1, schedule=self.timers,
        )  # fmt: skip
        self.fanout.on_universe(symbols)
        self.session = self.fanout.open(
            "s1", tenant(tier), grant(tier, *symbols),
            resume_from=resume_from, max_batch_ticks=max_batch_ticks,
        ).session  # fmt: skip

    def feed(self, *ticks: market_pb2.Tick) -> None:
        self.fanout.on_batch(list(ticks), ticks[0].sequence, ticks[-1].sequence)

    def drain(self) -> list[bridge_pb2.SubscribeResponse]:
        out = []
        while (message := self.session.take_message()) is not None:
            self.session.delivered(message)
            out.append(parse(message.payload))
        return out


def _seqs(message: bridge_pb2.SubscribeResponse) -> list[int]:
    return [t.sequence for t in message.batch.ticks]


def test_only_granted_symbols_projected_to_the_tier() -> None:
    h = Harness(Tier.FREE, "EURUSD", "GBPUSD")
    h.feed(tick("EURUSD", 1), tick("USDCHF", 2), tick("GBPUSD", 3))
    (message,) = h.drain()
    assert [t.symbol for t in message.batch.ticks] == ["EURUSD", "GBPUSD"]
    assert all(t.spread_pips == 0 and not t.broker_quotes for t in message.batch.ticks)
    assert (message.batch.first_seq, message.batch.last_seq) == (1, 3)


def test_throttle_holds_early_updates_and_the_timer_flushes_the_latest() -> None:
    h = Harness(Tier.FREE, "EURUSD")
    h.feed(tick("EURUSD", 1, bid=1.0))
    assert _seqs(h.drain()[0]) == [1]
    h.clock.now += 0.25
    h.feed(tick("EURUSD", 2, bid=1.1))
    h.clock.now += 0.25
    h.feed(tick("EURUSD", 3, bid=1.2), tick("GBPUSD", 4))
    assert h.drain() == []  # held back: nothing within the interval
    ((delay, _, _),) = h.timers.live()  # one timer, armed for the first deadline
    assert delay == 0.75
    h.clock.now += 0.25
    h.timers.fire_all()  # a timer that fires early flushes nothing...
    assert h.drain() == []
    ((delay, _, _),) = h.timers.live()  # ...and re-arms for the rest
    assert delay == 0.25
    h.clock.now += 0.25  # 1.0 s after the first update
    assert h.timers.fire_all() == 1
    (message,) = h.drain()
    assert _seqs(message) == [3]  # the latest price; 2 is conflated away by design
    assert message.batch.ticks[0].bid == 1.2
    assert message.batch.last_seq == 4  # complete up to the watermark
    assert message.skipped == 0  # throttling is not falling behind
    assert h.timers.live() == []


def test_a_batch_delivers_each_symbols_latest_tick_only() -> None:
    h = Harness(Tier.ENTERPRISE, "EURUSD", "GBPUSD")
    h.feed(tick("EURUSD", 1), tick("GBPUSD", 2), tick("EURUSD", 3))
    assert _seqs(h.drain()[0]) == [2, 3]


def test_pending_batches_coalesce_into_one_message() -> None:
    h = Harness(Tier.ENTERPRISE, "EURUSD", "GBPUSD")
    for seq in range(1, 7, 2):
        h.clock.now += 1
        h.feed(tick("EURUSD", seq), tick("GBPUSD", seq + 1))
    (message,) = h.drain()
    assert _seqs(message) == [1, 2, 3, 4, 5, 6]
    assert (message.batch.first_seq, message.batch.last_seq) == (1, 6)
    assert message.message_seq == 1


def test_max_batch_ticks_splits_and_last_seq_never_goes_back() -> None:
    h = Harness(Tier.ENTERPRISE, "A1A1A1", "B2B2B2", "C3C3C3", max_batch_ticks=2)
    h.feed(tick("A1A1A1", 1), tick("B2B2B2", 2), tick("C3C3C3", 3))
    h.clock.now += 1
    h.feed(tick("A1A1A1", 4), tick("B2B2B2", 5))
    messages = h.drain()
    assert [_seqs(m) for m in messages] == [[1, 2], [3, 4], [5]]
    assert [m.batch.last_seq for m in messages] == [2, 4, 5]
    assert [m.message_seq for m in messages] == [1, 2, 3]


def test_a_slow_subscriber_is_conflated_and_told_what_it_skipped() -> None:
    bounds = SessionLimits(max_queue_ticks=10, max_queue_chunks=1000)
    h = Harness(Tier.ENTERPRISE, "EURUSD", "GBPUSD", "USDJPY", bounds=bounds)
    fed = 0
    for n in range(20):
        h.clock.now += 1  # well past the interval: only the queue holds things back
        base = n * 3
        h.feed(*(tick(s, base + i + 1, bid=float(base + i)) for i, s in
                 enumerate(["EURUSD", "GBPUSD", "USDJPY"])))  # fmt: skip
        fed += 3
        assert h.session.queued_ticks <= bounds.max_queue_ticks  # bounded at every step
    messages = h.drain()
    delivered = sum(len(m.batch.ticks) for m in messages)
    skipped = sum(m.skipped for m in messages)
    assert skipped > 0
    assert delivered + skipped == fed  # every update is delivered or counted as skipped
    assert h.session.skipped_total == skipped
    latest = {t.symbol: t.sequence for m in messages for t in m.batch.ticks}
    assert latest == {"EURUSD": 58, "GBPUSD": 59, "USDJPY": 60}  # the latest price wins
    assert messages[-1].batch.last_seq == 60
    period = h.usage.current_period()
    assert h.usage.drain().deltas[(period, h.session.usage_key)].skipped == skipped


def test_chunk_bound_also_triggers_conflation() -> None:
    bounds = SessionLimits(max_queue_ticks=1000, max_queue_chunks=4)
    h = Harness(Tier.ENTERPRISE, "EURUSD", bounds=bounds)
    for seq in range(1, 11):
        h.clock.now += 1
        h.feed(tick("EURUSD", seq))
        assert h.session.queue_depth <= 4
    (message,) = h.drain()
    # Conflated at the 5th and 9th batch; the 10th arrived after, and is coalesced.
    assert _seqs(message) == [9, 10]
    assert message.skipped == 8


def test_gap_notices_keep_their_place_between_batches() -> None:
    h = Harness(Tier.ENTERPRISE, "EURUSD")
    h.feed(tick("EURUSD", 1))
    h.session.push_gap(2, 5, "lost upstream")
    h.clock.now += 1
    h.feed(tick("EURUSD", 6))
    kinds = [(m.WhichOneof("payload"), m.message_seq) for m in h.drain()]
    assert kinds == [("batch", 1), ("gap", 2), ("batch", 3)]


def test_resumed_session_suppresses_what_it_already_has() -> None:
    h = Harness(Tier.ENTERPRISE, "EURUSD", "GBPUSD", resume_from=5)
    h.feed(tick("EURUSD", 4), tick("GBPUSD", 5))
    h.clock.now += 1
    h.feed(tick("EURUSD", 5), tick("GBPUSD", 6))
    assert [_seqs(m) for m in h.drain()] == [[6]]


def test_delivered_counts_feed_stats_and_usage() -> None:
    h = Harness(Tier.PRO, "EURUSD", "GBPUSD")
    h.feed(tick("EURUSD", 1), tick("GBPUSD", 2))
    h.drain()
    assert (h.session.ticks_delivered, h.session.messages_delivered) == (2, 1)
    (counts,) = h.usage.drain().deltas.values()
    assert (counts.ticks, counts.messages) == (2, 1)


def test_ack_carries_the_snapshot_and_is_message_one() -> None:
    h = Harness(Tier.PRO, "EURUSD")
    entry = view(tick("EURUSD", 3)).latest_entry("EURUSD", Tier.PRO)
    out = h.session.ack_message(bridge_pb2.SubscriptionAck(start_seq=8), [entry])
    message = parse(out.payload)
    assert message.message_seq == 1 and message.ack.session_id == "s1"
    assert [t.sequence for t in message.ack.snapshot.ticks] == [3]
    assert message.ack.snapshot.last_seq == 7
    assert out.ticks == 1


async def test_idle_session_heartbeats_and_a_closed_one_ends() -> None:
    h = Harness(Tier.FREE, "EURUSD")
    h.fanout.watermark = 41
    h.fanout.sweep_idle()  # the session opened since the last sweep: not idle yet
    h.fanout.sweep_idle()
    assert h.session.take_message() is None
    h.fanout.sweep_idle()  # two sweeps (a heartbeat period) without a message
    out = await asyncio.wait_for(h.session.next_message(), 5)
    assert out is not None
    beat = parse(out.payload)
    assert beat.WhichOneof("payload") == "heartbeat"
    assert beat.heartbeat.last_seq == 41
    waiting = asyncio.create_task(h.session.next_message())
    await asyncio.sleep(0)
    h.session.close()
    assert await asyncio.wait_for(waiting, 5) is None


def test_a_session_that_keeps_receiving_gets_no_heartbeat() -> None:
    h = Harness(Tier.ENTERPRISE, "EURUSD")
    for seq in range(1, 6):
        h.clock.now += 1
        h.feed(tick("EURUSD", seq))
        h.fanout.sweep_idle()
        assert [m.WhichOneof("payload") for m in h.drain()] == ["batch"]


async def test_next_message_wakes_on_new_data() -> None:
    h = Harness(Tier.ENTERPRISE, "EURUSD")
    waiting = asyncio.create_task(h.session.next_message())
    await asyncio.sleep(0)
    h.feed(tick("EURUSD", 1))
    out = await asyncio.wait_for(waiting, 5)
    assert out is not None and _seqs(parse(out.payload)) == [1]
