"""The tick pipeline over real processes: Storage, Ingestion (synthetic feeds) and the Bridge.

Rates are checked as upper bounds from the subscriber's own receive clock (a throttle
can only make updates rarer, so these hold however slow the machine is); every wait
is bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psutil
import pytest
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import market_pb2, tenancy_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.tiers import FREE_SYMBOLS, MAJOR_PAIRS
from tests.e2e.processes import ServiceProcesses

pytestmark = pytest.mark.e2e
WAIT = 60.0
FREE, PRO, ENTERPRISE = tenancy_pb2.TIER_FREE, tenancy_pb2.TIER_PRO, tenancy_pb2.TIER_ENTERPRISE


@dataclass
class Pipeline:
    """Running processes plus clients; one company (and key) per tier."""

    processes: ServiceProcesses
    keys: dict[int, str] = field(default_factory=dict)
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def channel(
        self, service: str, key: str, options: list[tuple[str, object]] | None = None
    ) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(
            self.processes.address(service), interceptors=api_key_interceptors(key), options=options
        )
        self.channels.append(channel)
        return channel

    def bridge(self, tier: int) -> bridge_pb2_grpc.BridgeServiceStub:
        return bridge_pb2_grpc.BridgeServiceStub(self.channel("bridge", self.keys[tier]))


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ServiceProcesses]:
    # A lively feed, so a subscriber that stops reading fills its transport buffers soon.
    procs = ServiceProcesses(
        tmp_path / "mesh",
        extra_env={"TICKMESH_INGESTION_SEED": "7", "TICKMESH_INGESTION_QUOTES_PER_SECOND": "10000"},
    )
    try:
        for service in ("storage", "ingestion", "bridge"):
            procs.start(service)
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
async def pipeline(processes: ServiceProcesses) -> AsyncIterator[Pipeline]:
    pipe = Pipeline(processes)
    operator = storage_pb2_grpc.StorageServiceStub(pipe.channel("storage", processes.operator_key))
    for tier in (FREE, PRO, ENTERPRISE):
        created = await operator.CreateCompany(
            storage_pb2.CreateCompanyRequest(
                name=f"Tier {tier}", tier=tier, owner_email=f"o{tier}@example.com", owner_name="O"
            )
        )
        pipe.keys[tier] = created.owner_key.api_key
    try:
        yield pipe
    finally:
        for channel in pipe.channels:
            await channel.close()


@dataclass
class Received:
    """What one subscriber got: per-symbol receive times, fields seen, sequences, gaps."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ticks: list[market_pb2.Tick] = field(default_factory=list)
    sequences: list[int] = field(default_factory=list)
    gaps: list[market_pb2.GapNotice] = field(default_factory=list)
    last_seq: int = 0


async def _collect(call: object, until: float, received: Received) -> None:
    """Read `call` until the monotonic clock passes `until` (bounded by WAIT)."""
    async with asyncio.timeout(WAIT):
        async for message in call:  # type: ignore[attr-defined]
            now = time.monotonic()
            if message.HasField("batch"):
                for tick in message.batch.ticks:
                    received.times[tick.symbol].append(now)
                    received.ticks.append(tick)
                    received.sequences.append(tick.sequence)
                received.last_seq = max(received.last_seq, message.batch.last_seq)
            elif message.HasField("gap"):
                received.gaps.append(message.gap)
            if now >= until:
                return


async def test_each_tier_gets_its_symbols_rate_and_fields(pipeline: Pipeline) -> None:
    wanted = [*FREE_SYMBOLS, "EURJPY", "GBPJPY", "XAUUSD", "USDZAR"]
    window = 4.0
    results = {tier: Received() for tier in (FREE, PRO, ENTERPRISE)}
    calls = {
        tier: pipeline.bridge(tier).Subscribe(
            bridge_pb2.SubscribeRequest(
                symbols=wanted, options=bridge_pb2.SubscribeOptions(best_effort=True)
            )
        )
        for tier in results
    }
    acks = {tier: (await call.read()).ack for tier, call in calls.items()}  # type: ignore[union-attr]
    start = time.monotonic()
    await asyncio.gather(*(_collect(calls[t], start + window, results[t]) for t in results))
    for call in calls.values():
        call.cancel()

    assert set(acks[FREE].symbols) == set(FREE_SYMBOLS)
    assert {r.symbol for r in acks[FREE].refused} == {"EURJPY", "GBPJPY", "XAUUSD", "USDZAR"}
    assert set(acks[PRO].symbols) == {*FREE_SYMBOLS, "EURJPY", "GBPJPY"}
    assert set(acks[ENTERPRISE].symbols) == set(wanted)
    for tier, interval_s in ((FREE, 1.0), (PRO, 0.1), (ENTERPRISE, 0.01)):
        got = results[tier]
        assert set(got.times) <= set(acks[tier].symbols), tier
        assert got.ticks, f"tier {tier} received nothing"
        for symbol, stamps in got.times.items():
            span = stamps[-1] - stamps[0]
            # A throttle of one update per interval, measured on our side: at most
            # span/interval + 1 updates, plus one for a late delivery at the seam.
            assert len(stamps) <= span / interval_s + 2, (tier, symbol, len(stamps), span)
    free_ticks, pro_ticks, ent_ticks = (results[t].ticks for t in (FREE, PRO, ENTERPRISE))
    assert all(
        not t.spread_pips and not t.quality_score and not t.broker_quotes for t in free_ticks
    )
    assert any(t.spread_pips for t in pro_ticks) and all(not t.broker_quotes for t in pro_ticks)
    assert all(not t.liquidity_score for t in pro_ticks)
    assert any(t.broker_quotes for t in ent_ticks) and any(t.liquidity_score for t in ent_ticks)
    # The enterprise feed really is faster than free's: the throttle, not the feed, limits free.
    assert len(ent_ticks) > 3 * len(free_ticks)


async def test_a_symbol_outside_the_tier_is_refused_naming_the_tier(pipeline: Pipeline) -> None:
    call = pipeline.bridge(FREE).Subscribe(
        bridge_pb2.SubscribeRequest(symbols=["EURUSD", "EURJPY"])
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "pro" in (caught.value.details() or "")


async def test_a_stalled_subscriber_is_conflated_and_never_holds_back_a_fast_one(
    pipeline: Pipeline, processes: ServiceProcesses
) -> None:
    bridge_process = psutil.Process(processes.processes["bridge"].pid)
    symbols = list(MAJOR_PAIRS)
    # No BDP probing: the stalled client's HTTP/2 window stays small, as with a real
    # consumer that stopped reading, so the Bridge's own queue is what fills up.
    stalled_channel = pipeline.channel(
        "bridge", pipeline.keys[ENTERPRISE], [("grpc.http2.bdp_probe", 0)]
    )
    stalled = bridge_pb2_grpc.BridgeServiceStub(stalled_channel).Subscribe(
        bridge_pb2.SubscribeRequest(symbols=symbols)
    )
    await stalled.read()  # the ack; then it never reads again
    rss_before = bridge_process.memory_info().rss
    fast = pipeline.bridge(PRO).Subscribe(bridge_pb2.SubscribeRequest(symbols=symbols[:10]))
    await fast.read()
    got = Received()
    stats_stub = pipeline.bridge(ENTERPRISE)
    async with asyncio.timeout(WAIT):  # until the stalled one is being conflated
        while True:
            await _collect(fast, time.monotonic() + 1.0, got)
            stats = await stats_stub.GetSessionStats(bridge_pb2.GetSessionStatsRequest())
            if stats.sessions[0].skipped > 0:
                break
    rss_after = bridge_process.memory_info().rss
    fast.cancel()
    stalled.cancel()
    assert not got.gaps and got.ticks, "the fast subscriber must keep getting contiguous data"
    (stalled_stats,) = stats.sessions
    assert stalled_stats.skipped > 0, "the stalled subscriber is conflated, and told so"
    assert stalled_stats.queue_depth <= 4096 + 2000  # bounded (bridge_queue_ticks + a batch)
    # Measured, not timed: the stalled stream costs the Bridge bounded memory.
    assert rss_after - rss_before < 50 * 1024 * 1024, (rss_before, rss_after)


async def test_ingestion_killed_and_restarted_resumes_without_duplicates_and_says_what_was_lost(
    pipeline: Pipeline, processes: ServiceProcesses
) -> None:
    call = pipeline.bridge(ENTERPRISE).Subscribe(
        bridge_pb2.SubscribeRequest(symbols=list(MAJOR_PAIRS))
    )
    await call.read()
    got = Received()
    await _collect(call, time.monotonic() + 1.5, got)
    await asyncio.to_thread(processes.kill, "ingestion")
    await asyncio.to_thread(processes.start, "ingestion")
    before = len(got.ticks)
    # Keep reading until ticks flow again after the restart and the gap has been told.
    async with asyncio.timeout(WAIT):
        while not (got.gaps and len(got.ticks) > before + 20):
            await _collect(call, time.monotonic() + 0.5, got)
    call.cancel()
    assert len(got.sequences) == len(set(got.sequences)), "a sequence was delivered twice"
    lost = got.gaps[0]
    assert lost.to_seq >= lost.from_seq and lost.reason

    # A client that reconnects with resume_from inside what the Bridge holds: no gap, and
    # the latest price of every symbol that moved since, or that the client may not have.
    resumed = pipeline.bridge(ENTERPRISE).Subscribe(
        bridge_pb2.SubscribeRequest(symbols=list(MAJOR_PAIRS), resume_from=got.last_seq)
    )
    ack = (await resumed.read()).ack
    after = Received()
    await _collect(resumed, time.monotonic() + 1.0, after)
    resumed.cancel()
    assert ack.start_seq >= got.last_seq
    assert not after.gaps and after.ticks
    # Anything from before the resume point is catch-up: at most one tick per symbol,
    # never older than what the client had of it. Newer: an update its tier's throttle
    # held back, which the first stream never delivered. The same: the Bridge cannot
    # tell whether the client got it (it went out in a throttle flush after the client's
    # last batch, with the same last_seq), so it is repeated; the SDK drops repeats.
    had: dict[str, int] = {}
    for tick in got.ticks:
        had[tick.symbol] = tick.sequence
    catch_up = [t for t in after.ticks if t.sequence <= got.last_seq]
    assert len({t.symbol for t in catch_up}) == len(catch_up)
    for tick in catch_up:
        assert tick.sequence >= had.get(tick.symbol, 0)
