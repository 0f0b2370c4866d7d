"""Data flow through a real Bridge: throttle rate, slow consumers, upstream reconnects,
gap notices, client resume and shutdown. Conditions are awaited with bounded timeouts;
rate assertions use only bounds that hold however slow the machine is."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import threading

import grpc
import pytest
from tickmesh.bridge.v1 import bridge_pb2

from mesh.backoff import Backoff
from mesh.tiers import Tier
from servers.bridge.session import SessionLimits
from servers.bridge.settings import BridgeTuning
from servers.bridge.upstream import Upstream
from tests.integration.bridge.conftest import (
    SYNTHETIC,
    TEST_TUNING,
    Bridge,
    BridgeFactory,
    next_message,
    wait_until,
)
from tests.integration.bridge.fake_ingestion import WAIT
from tests.waiting import eventually


async def test_free_tier_gets_at_most_one_update_per_second_per_symbol_ending_on_the_latest(
    bridge: Bridge,
) -> None:
    call = bridge.client(Tier.FREE).subscribe("EURUSD", "GBPUSD")
    await next_message(call)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for k in range(30):
        bridge.upstream.feed("EURUSD", "USDCHF", "GBPUSD", bid=1.0 + k / 1000)
    final = 1.0 + 29 / 1000
    updates: dict[str, list[int]] = {"EURUSD": [], "GBPUSD": []}
    last_bid: dict[str, float] = {}
    while any(last_bid.get(s) != final for s in updates):
        message = await next_message(call)
        for t in message.batch.ticks:
            updates[t.symbol].append(t.sequence)
            last_bid[t.symbol] = t.bid
    elapsed = loop.time() - started
    for symbol, seqs in updates.items():
        # Updates of one symbol are >= 1 s apart inside this window, whatever the load.
        assert len(seqs) <= int(elapsed) + 1, (symbol, seqs, elapsed)
        assert seqs == sorted(set(seqs))
    assert updates["EURUSD"][-1] == 88 and updates["GBPUSD"][-1] == 90  # the final ticks
    call.cancel()


async def test_a_stalled_subscriber_never_holds_back_a_fast_one(make_bridge: BridgeFactory) -> None:
    bounds = SessionLimits(max_queue_ticks=1000, max_queue_chunks=64, heartbeat_s=0.5)
    bridge = await make_bridge(BridgeTuning(session=bounds, backoff=Backoff(0.01, 0.2)))
    symbols = SYNTHETIC[:200]
    # No BDP probing: the stalled client's HTTP/2 window stays small, so the Bridge's
    # writes to it block soon, as with a real consumer that stopped reading.
    stalled_client = bridge.client(Tier.ENTERPRISE, options=[("grpc.http2.bdp_probe", 0)])
    stalled = stalled_client.subscribe(*symbols)
    stalled_id = (await next_message(stalled)).ack.session_id
    fast = bridge.client(Tier.ENTERPRISE).subscribe(*symbols)
    await next_message(fast)

    fast_last_seq = 0
    fast_bids: dict[str, float] = {}
    fast_kinds: set[str] = set()

    async def read_fast() -> None:
        nonlocal fast_last_seq
        while True:
            message = await next_message(fast, within=60)
            fast_kinds.add(str(message.WhichOneof("payload")))
            if message.HasField("batch"):
                assert message.batch.last_seq >= fast_last_seq
                fast_last_seq = message.batch.last_seq
                fast_bids.update((t.symbol, t.bid) for t in message.batch.ticks)

    reader = asyncio.create_task(read_fast())
    try:
        stats = bridge.parts.fanout.get(stalled_id)
        assert stats is not None
        async with asyncio.timeout(60):
            n = 0
            while stats.skipped_total == 0:
                n += 1
                bridge.upstream.feed(*symbols, bid=1.0 + n / 1e5)
                await asyncio.sleep(0.005)  # pacing only; the loop ends on the condition
        final = bridge.upstream.feed(*symbols, bid=2.0)
        await wait_until(lambda: fast_last_seq >= final.last_seq, within=30)
        assert fast_bids == dict.fromkeys(symbols, 2.0)  # the fast one is current
        assert "gap" not in fast_kinds
        # Meanwhile the stalled one has read nothing past its ack, yet stays bounded.
        (seen,) = (await stalled_client.stats(stalled_id)).sessions
        assert seen.skipped > 0
        assert seen.queue_depth <= bounds.max_queue_chunks
        assert stats.queued_ticks <= bounds.max_queue_ticks
    finally:
        reader.cancel()

    # Once it reads again it converges on the latest prices and is told it skipped.
    skipped = 0
    bids: dict[str, float] = {}
    last_seq = 0
    async with asyncio.timeout(30):
        while last_seq < final.last_seq or bids != dict.fromkeys(symbols, 2.0):
            message = await next_message(stalled)
            skipped += message.skipped
            if message.HasField("batch"):
                last_seq = message.batch.last_seq
                bids.update((t.symbol, t.bid) for t in message.batch.ticks)
    assert skipped > 0
    stalled.cancel()
    fast.cancel()


async def test_upstream_reconnect_resumes_without_duplicates(bridge: Bridge) -> None:
    symbols = SYNTHETIC[:30]
    call = bridge.client(Tier.ENTERPRISE).subscribe(*symbols)
    await next_message(call)
    seen: list[int] = []
    last_seq = 0

    async def read_until(target: int) -> None:
        nonlocal last_seq
        async with asyncio.timeout(WAIT):
            while last_seq < target:
                message = await next_message(call)
                assert not message.HasField("gap")
                if message.HasField("batch"):
                    seen.extend(t.sequence for t in message.batch.ticks)
                    last_seq = message.batch.last_seq

    for i in range(10):
        bridge.upstream.feed(*symbols[i * 3 : i * 3 + 3])
    await read_until(30)
    assert bridge.parts.upstream.last_seq == 30

    bridge.upstream.replay_overlap = 9  # the upstream replays some of what we have
    bridge.upstream.disconnect()
    await wait_until(lambda: not bridge.parts.upstream.connected or len(
        bridge.upstream.requests) > 1)  # fmt: skip
    for i in range(5):  # fed while the Bridge is away: it must come back by replay
        bridge.upstream.feed(*symbols[i * 3 : i * 3 + 3])
    await bridge.upstream.wait_for(lambda: len(bridge.upstream.requests) == 2)
    assert bridge.upstream.requests[1].from_seq == 30
    for i in range(5, 10):
        bridge.upstream.feed(*symbols[i * 3 : i * 3 + 3])
    await read_until(60)
    assert len(seen) == len(set(seen)), "a sequence was delivered twice"
    assert bridge.parts.upstream.last_seq == 60
    call.cancel()


async def test_a_hung_upstream_is_dropped_after_the_idle_timeout_and_resumed(
    make_bridge: BridgeFactory,
) -> None:
    tuning = dataclasses.replace(TEST_TUNING, upstream_idle_timeout_s=1.5)  # 3 heartbeats
    bridge = await make_bridge(tuning)
    call = bridge.client(Tier.PRO).subscribe("EURUSD")
    await next_message(call)
    bridge.upstream.feed("EURUSD")
    await bridge.fed()

    bridge.upstream.silent = True  # the connection stays open; nothing arrives
    await bridge.upstream.wait_for(lambda: len(bridge.upstream.requests) >= 2)
    assert bridge.upstream.requests[1].from_seq == 1
    assert bridge.parts.upstream.reconnects >= 1

    bridge.upstream.silent = False
    await bridge.upstream.wait_for(lambda: bridge.upstream.open_streams == 1)
    bridge.upstream.feed("EURUSD")
    seen: list[int] = []
    async with asyncio.timeout(WAIT):
        while 2 not in seen:
            seen.extend(t.sequence for t in (await next_message(call)).batch.ticks)
    assert seen == [1, 2]  # the resumed stream repeats nothing and loses nothing

    # Stopping ends the reader thread too, not only its call.
    await bridge.parts.upstream.stop()
    assert not [t for t in threading.enumerate() if t.name == "upstream-reader"]
    call.cancel()


async def test_upstream_gap_notices_reach_subscribers(bridge: Bridge) -> None:
    call = bridge.client(Tier.PRO).subscribe("EURUSD")
    await next_message(call)
    bridge.upstream.feed("EURUSD")
    assert (await next_message(call)).batch.ticks[0].sequence == 1
    bridge.upstream.gap(5, "evicted from the ring buffer")
    bridge.upstream.feed("EURUSD")
    gap = await next_message(call)
    assert gap.WhichOneof("payload") == "gap"
    assert (gap.gap.from_seq, gap.gap.to_seq) == (2, 6)
    assert gap.gap.reason == "evicted from the ring buffer"
    after = await next_message(call)
    assert [t.sequence for t in after.batch.ticks] == [7]
    assert [gap.message_seq, after.message_seq] == [3, 4]
    call.cancel()


async def test_a_resumed_subscription_continues_where_it_left_off(bridge: Bridge) -> None:
    client = bridge.client(Tier.ENTERPRISE)
    first = client.subscribe("EURUSD", "GBPUSD", "USDJPY")
    await next_message(first)
    bridge.upstream.feed("EURUSD", "GBPUSD")
    resume_from = (await next_message(first)).batch.last_seq
    first.cancel()
    bridge.upstream.feed("GBPUSD")
    bridge.upstream.feed("USDJPY", "AUDUSD")
    await bridge.fed()
    await wait_until(lambda: not bridge.parts.fanout.sessions_of(client.company))
    again = client.subscribe("EURUSD", "GBPUSD", "USDJPY", resume_from=resume_from)
    ack = (await next_message(again)).ack
    assert ack.start_seq == resume_from + 1
    assert [t.sequence for t in ack.snapshot.ticks] == [1]  # the state as of the resume point
    # GBPUSD 3 may still be held by the tier's throttle (GBPUSD 2 went out just before):
    # then it comes with the tier's next flush instead of the catch-up. Either way each
    # comes exactly once, and no gap: nothing was lost.
    received: list[int] = []
    while sorted(received) != [3, 4]:
        message = await next_message(again)
        assert message.WhichOneof("payload") == "batch"
        assert message.batch.last_seq == 5
        received += [t.sequence for t in message.batch.ticks]
        assert len(received) == len(set(received)) and set(received) <= {3, 4}
    again.cancel()


async def test_idle_streams_get_heartbeats(bridge: Bridge) -> None:
    bridge.upstream.feed("USDCHF")
    await bridge.fed()
    call = bridge.client(Tier.FREE).subscribe("EURUSD")
    await next_message(call)
    beat = await next_message(call)
    assert beat.WhichOneof("payload") == "heartbeat"
    assert beat.heartbeat.last_seq == 1 and beat.message_seq == 2
    call.cancel()


async def test_server_stop_ends_open_streams_promptly(make_bridge: BridgeFactory) -> None:
    bridge = await make_bridge(grace_seconds=60)
    call = bridge.client(Tier.PRO).subscribe("EURUSD")
    await next_message(call)
    stopping = asyncio.create_task(bridge.server.stop())
    async with asyncio.timeout(WAIT):  # far less than the 60 s grace period
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            while (message := await call.read()) is not grpc.aio.EOF:
                assert isinstance(message, bridge_pb2.SubscribeResponse)
        await stopping
    # UNAVAILABLE, which every client retries (the SDK resumes), not OK ("all done").
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "the bridge is stopping" in (ended.value.details() or "")


class _NoSink:
    def on_universe(self, symbols: object) -> None: ...

    def on_batch(self, ticks: object, first_seq: int, last_seq: int) -> None: ...

    def on_gap(self, from_seq: int, to_seq: int, reason: str) -> None: ...


async def test_an_ingestion_still_starting_is_info_until_the_idle_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`up` starts every service at once: a Bridge that finds Ingestion not listening yet
    logs it at INFO; a warning only once it has waited an idle timeout."""
    caplog.set_level(logging.INFO, logger="servers.bridge.upstream")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{probe.getsockname()[1]}"
    upstream = Upstream(
        target, _NoSink(), backoff=Backoff(initial_s=0.05, max_s=0.05, jitter=0), idle_timeout_s=1.0
    )

    def refused(level: int) -> bool:
        return any("unavailable" in r.getMessage() and r.levelno == level for r in caplog.records)

    upstream.start()
    try:
        await eventually(lambda: refused(logging.INFO), "a refused connection at INFO")
        assert not refused(logging.WARNING)
        await eventually(lambda: refused(logging.WARNING), "a warning after the idle timeout")
    finally:
        await upstream.stop()
