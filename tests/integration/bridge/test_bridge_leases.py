"""Concurrent-stream leases: renewed while a stream is open, released when it ends, and a
lost lease ends the stream with RESOURCE_EXHAUSTED."""

from __future__ import annotations

import asyncio
import time
import uuid
from functools import partial
from typing import cast

import grpc
import pytest
import redis.asyncio as aioredis

from mesh.backoff import Backoff
from mesh.tenancy.quota import QuotaStore
from mesh.tiers import Tier
from servers.bridge.leases import RENEW_BATCH, LeaseKeeper
from servers.bridge.session import Session, SessionLimits
from servers.bridge.settings import BridgeTuning
from servers.bridge.usage_counter import UsageCounter
from tests.integration.bridge.conftest import Bridge, BridgeFactory, eventually, next_message
from tests.integration.bridge.fake_ingestion import WAIT
from tests.support.backing import REDIS_URL, delete_redis_prefix, require_redis
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


@pytest.mark.redis
async def test_a_restarted_bridge_gives_back_what_its_killed_run_held_at_once(
    make_bridge: BridgeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await require_redis()
    prefix = f"bridge-test:{uuid.uuid4().hex[:8]}:"
    shared = partial(make_bridge, redis_url=REDIS_URL, redis_prefix=prefix)
    probe = aioredis.Redis.from_url(REDIS_URL)
    try:
        first = await shared(instance="bridge-a")
        other = await shared(instance="bridge-b")
        free = first.client(Tier.FREE)
        pro = f"co{uuid.uuid4().hex[:10]}"  # streams through both Bridges
        free_id = (await next_message(free.subscribe("EURUSD"))).ack.session_id
        pro_a = (await next_message(first.client(Tier.PRO, pro).subscribe("EURUSD"))).ack
        pro_b = (await next_message(other.client(Tier.PRO, pro).subscribe("EURUSD"))).ack
        # A SIGKILLed Bridge releases nothing: its leases would stay for 30 s.
        monkeypatch.setattr(first.parts.quota, "release_stream", _releases_nothing)
        await first.server.stop()
        assert free_id in await _members(probe, prefix, free.company)

        again = await shared(instance="bridge-a")  # same data dir, so the same holder
        call = again.client(Tier.FREE, free.company).subscribe("EURUSD")
        assert (await next_message(call, within=5.0)).ack.session_id  # admitted at once
        assert free_id not in await _members(probe, prefix, free.company)
        held = await _members(probe, prefix, pro)
        assert pro_b.session_id in held and pro_a.session_id not in held  # b's untouched
    finally:
        await probe.aclose()
        await delete_redis_prefix(prefix)


async def _releases_nothing(lease: object) -> bool:
    return False


async def _members(redis: aioredis.Redis, prefix: str, company: str) -> set[str]:
    members = await redis.zrange(f"{prefix}quota:streams:{company}", 0, -1)
    return {m.decode() for m in cast(list[bytes], members)}
