"""Concurrent-stream leases: renewed while a stream is open, released when it ends, and a
lost lease ends the stream with RESOURCE_EXHAUSTED."""

from __future__ import annotations

import asyncio
import time
from typing import cast

import grpc
import pytest

from mesh.backoff import Backoff
from mesh.tenancy.quota import QuotaStore
from mesh.tiers import Tier
from servers.bridge.leases import RENEW_BATCH, LeaseKeeper
from servers.bridge.session import Session, SessionLimits
from servers.bridge.settings import BridgeTuning
from servers.bridge.usage_counter import UsageCounter
from tests.integration.bridge.conftest import Bridge, BridgeFactory, eventually, next_message
from tests.integration.bridge.fake_ingestion import WAIT
from tests.unit.bridge.helpers import grant, tenant

SHORT_LEASE = BridgeTuning(
    session=SessionLimits(heartbeat_s=0.5), stream_lease_s=1.0, backoff=Backoff(0.01, 0.2)
)


async def _leases(bridge: Bridge, company: str) -> dict[str, float]:
    key = f"{bridge.server.config.redis_prefix}quota:streams:{company}"
    members = await bridge.parts.quota.redis.zrange(key, 0, -1, withscores=True)
    return {member.decode(): score for member, score in cast(list[tuple[bytes, float]], members)}


async def test_lease_is_renewed_while_open_and_released_at_the_end(
    make_bridge: BridgeFactory,
) -> None:
    bridge = await make_bridge(SHORT_LEASE)
    client = bridge.client(Tier.FREE)
    call = client.subscribe("EURUSD")
    session_id = (await next_message(call)).ack.session_id
    first = (await _leases(bridge, client.company))[session_id]

    async def renewed() -> bool:  # renewals happen every third of the 1 s lease
        return (await _leases(bridge, client.company)).get(session_id, 0) > first

    async def released() -> bool:
        return not await _leases(bridge, client.company)

    await eventually(renewed)
    call.cancel()
    await eventually(released)


async def test_a_lost_lease_ends_the_stream_with_resource_exhausted(
    make_bridge: BridgeFactory,
) -> None:
    bridge = await make_bridge(SHORT_LEASE)
    client = bridge.client(Tier.FREE)
    call = client.subscribe("EURUSD")
    session_id = (await next_message(call)).ack.session_id
    # Another replica took the only free slot after ours lapsed (simulated directly).
    key = f"{bridge.server.config.redis_prefix}quota:streams:{client.company}"
    await bridge.parts.quota.redis.zrem(key, session_id)
    taken = await bridge.parts.quota.acquire_stream(client.company, Tier.FREE, "other", 60)
    assert taken.allowed
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async with asyncio.timeout(WAIT):
            while True:
                await next_message(call)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_one_keeper_renews_every_held_lease_in_batches() -> None:
    store = await QuotaStore.connect(None)
    keeper = LeaseKeeper(store, ttl_s=30.0)
    sessions = {}
    try:
        for n in range(RENEW_BATCH * 2 + 5):  # three pipelined batches
            company = f"c{n}"
            lease = (await store.acquire_stream(company, Tier.FREE, f"l{n}", 1.0)).lease
            assert lease is not None
            session = Session(
                session_id=f"l{n}", tenant=tenant(Tier.FREE, company=company),
                grant=grant(Tier.FREE, "EURUSD"), usage=UsageCounter(), watermark=lambda: 0,
            )  # fmt: skip
            keeper.hold(lease, session)
            sessions[company] = session
        # c0's lease lapses and another stream takes its only free slot.
        await store.redis.zrem("tickmesh:quota:streams:c0", "l0")
        assert (await store.acquire_stream("c0", Tier.FREE, "other", 60)).allowed
        await keeper.renew_all()
        assert sessions["c0"].closed and sessions["c0"].error is not None
        assert sessions["c0"].error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert keeper.held == RENEW_BATCH * 2 + 4
        for n in range(1, RENEW_BATCH * 2 + 5):  # every other lease now lasts 30 s
            (score,) = (await _scores(store, f"c{n}")).values()
            assert score > (time.time() + 20) * 1000
            assert not sessions[f"c{n}"].closed
    finally:
        await store.aclose()


async def _scores(store: QuotaStore, company: str) -> dict[str, float]:
    members = await store.redis.zrange(f"tickmesh:quota:streams:{company}", 0, -1, withscores=True)
    return {m.decode(): s for m, s in cast(list[tuple[bytes, float]], members)}
