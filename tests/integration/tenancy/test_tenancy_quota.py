"""Daily call quotas and stream leases, on real Redis and on fakeredis (same Lua)."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from mesh.errors import ResourceExhausted
from mesh.tenancy.quota import (
    DAILY_SLACK_S,
    QuotaStore,
    call_quota_exhausted,
    ratelimit_headers,
    streams_exhausted,
)
from mesh.tiers import Tier

MIDNIGHT = 1_907_798_400.0  # 2030-06-16T00:00:00Z


@pytest.fixture
def store(redis_factory, prefix: str, clock) -> QuotaStore:
    return QuotaStore(redis_factory(), prefix=prefix, now=clock)


async def test_fifty_concurrent_callers_get_exactly_the_limit(redis_factory, prefix: str) -> None:
    # Fifty replicas' worth of connections hammering one company's free-tier quota.
    stores = [QuotaStore(redis_factory(), prefix=prefix) for _ in range(50)]

    async def caller(s: QuotaStore) -> int:
        return sum([(await s.check_call("acme", Tier.FREE)).allowed for _ in range(24)])

    successes = await asyncio.gather(*(caller(s) for s in stores))
    assert sum(successes) == 1_000  # of 1,200 attempts
    usage = await stores[0].call_usage("acme", Tier.FREE)
    assert (usage.used, usage.remaining, usage.allowed) == (1_000, 0, False)


async def test_a_refusal_consumes_nothing(store: QuotaStore) -> None:
    assert (await store.check_call("acme", Tier.FREE, cost=990)).allowed
    too_big = await store.check_call("acme", Tier.FREE, cost=20)
    assert not too_big.allowed and too_big.used == 990 and too_big.remaining == 10
    assert (await store.check_call("acme", Tier.FREE, cost=10)).remaining == 0
    for _ in range(5):
        refused = await store.check_call("acme", Tier.FREE)
        assert (refused.allowed, refused.used, refused.remaining) == (False, 1_000, 0)
    assert (await store.call_usage("acme", Tier.FREE)).used == 1_000


async def test_quota_resets_at_midnight_utc(redis_factory, prefix: str, clock) -> None:
    clock.now = MIDNIGHT - 0.5
    client = redis_factory()
    store = QuotaStore(client, prefix=prefix, now=clock)
    assert (await store.check_call("acme", Tier.FREE, cost=1_000)).allowed
    refused = await store.check_call("acme", Tier.FREE)
    assert not refused.allowed
    assert refused.reset_at == MIDNIGHT and refused.reset_after_s == pytest.approx(0.5)
    # The day's counter expires after midnight (plus slack), whatever the real time is.
    ttl_ms = await client.pttl(f"{prefix}quota:calls:acme:20300615")
    assert 0 < ttl_ms <= (0.5 + DAILY_SLACK_S) * 1000

    clock.now = MIDNIGHT + 0.25
    fresh = await store.check_call("acme", Tier.FREE)
    assert (fresh.allowed, fresh.used, fresh.remaining) == (True, 1, 999)
    assert fresh.reset_at == MIDNIGHT + 86_400


async def test_near_limit_flag_from_eighty_percent(store: QuotaStore) -> None:
    below = await store.check_call("acme", Tier.FREE, cost=799)
    assert not below.near_limit
    assert ("ratelimit-near-limit", "1") not in ratelimit_headers(below)
    at = await store.check_call("acme", Tier.FREE)
    assert at.near_limit and at.used == 800
    assert dict(ratelimit_headers(at)) == {
        "ratelimit-limit": "1000",
        "ratelimit-remaining": "200",
        "ratelimit-reset": "43200",  # the clock fixture is at noon UTC
        "ratelimit-near-limit": "1",
    }


async def test_enterprise_is_unlimited_but_counted(store: QuotaStore) -> None:
    result = await store.check_call("megacorp", Tier.ENTERPRISE, cost=10_000_000)
    assert result.allowed and result.limit is None and result.remaining is None
    assert not result.near_limit and ratelimit_headers(result) == ()
    assert (await store.call_usage("megacorp", Tier.ENTERPRISE)).used == 10_000_000
    with pytest.raises(ValueError):
        call_quota_exhausted(result)


async def test_pro_limit_and_a_midday_upgrade_keeps_usage(store: QuotaStore) -> None:
    assert (await store.check_call("acme", Tier.FREE, cost=1_000)).allowed
    assert not (await store.check_call("acme", Tier.FREE)).allowed
    upgraded = await store.check_call("acme", Tier.PRO)
    assert (upgraded.allowed, upgraded.limit, upgraded.remaining) == (True, 50_000, 48_999)


async def test_companies_do_not_share_a_quota(store: QuotaStore) -> None:
    assert (await store.check_call("acme", Tier.FREE, cost=1_000)).allowed
    assert not (await store.check_call("acme", Tier.FREE)).allowed
    assert (await store.check_call("globex", Tier.FREE)).remaining == 999


async def test_refusal_becomes_resource_exhausted_with_reset(store: QuotaStore) -> None:
    await store.check_call("acme", Tier.FREE, cost=1_000)
    error = call_quota_exhausted(await store.check_call("acme", Tier.FREE))
    assert isinstance(error, ResourceExhausted)
    assert error.retry_after_s == pytest.approx(43_200)
    assert "resets at 2030-06-16T00:00:00Z" in error.message and "pro tier" in error.message
    assert error.trailing_metadata == (
        ("ratelimit-limit", "1000"),
        ("ratelimit-remaining", "0"),
        ("ratelimit-reset", "43200"),
    )
    status = error.to_status()
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert ("ratelimit-reset", "43200") in status.trailing_metadata
    details = _details(status)
    failure = details["QuotaFailure"]
    assert isinstance(failure, error_details_pb2.QuotaFailure)
    assert failure.violations[0].subject == "company:acme"
    retry = details["RetryInfo"]
    assert isinstance(retry, error_details_pb2.RetryInfo)
    assert retry.retry_delay.seconds == 43_200


async def test_stream_limits_per_tier(store: QuotaStore) -> None:
    first = await store.acquire_stream("acme", Tier.FREE, "s1", ttl_s=30)
    assert first.allowed and first.lease is not None and first.active == 1
    again = await store.acquire_stream("acme", Tier.FREE, "s1", ttl_s=30)
    assert again.allowed and again.active == 1  # idempotent: a retry takes no 2nd slot
    refused = await store.acquire_stream("acme", Tier.FREE, "s2", ttl_s=30)
    assert not refused.allowed and refused.lease is None and refused.limit == 1
    assert refused.retry_after_s == pytest.approx(30)
    error = streams_exhausted(refused)
    assert error.violations[0].subject == "company:acme" and "pro tier allows 5" in error.message
    assert await store.release_stream(first.lease)
    assert not await store.release_stream(first.lease)
    assert (await store.acquire_stream("acme", Tier.FREE, "s2", ttl_s=30)).allowed

    pro = [await store.acquire_stream("initech", Tier.PRO, f"p{i}", 30) for i in range(6)]
    assert [d.allowed for d in pro] == [True] * 5 + [False]
    ent = [await store.acquire_stream("megacorp", Tier.ENTERPRISE, f"e{i}", 30) for i in range(51)]
    assert sum(d.allowed for d in ent) == 50


async def test_renewed_lease_outlives_its_first_ttl(store: QuotaStore, clock) -> None:
    held = await store.acquire_stream("acme", Tier.FREE, "s1", ttl_s=10)
    assert held.lease is not None
    clock.advance(8)
    assert (await store.renew_stream(held.lease, ttl_s=10)).allowed
    clock.advance(8)  # 16 s after the acquire: alive only because it was renewed
    assert not (await store.acquire_stream("acme", Tier.FREE, "s2", ttl_s=10)).allowed


async def test_crashed_holder_slot_returns_at_lease_expiry(store: QuotaStore, clock) -> None:
    await store.acquire_stream("acme", Tier.FREE, "crashed", ttl_s=5)
    clock.advance(4.9)
    assert not (await store.acquire_stream("acme", Tier.FREE, "next", ttl_s=5)).allowed
    clock.advance(0.2)
    assert (await store.acquire_stream("acme", Tier.FREE, "next", ttl_s=5)).allowed


async def test_crashed_holder_slot_returns_in_real_time(redis_factory, prefix: str) -> None:
    store = QuotaStore(redis_factory(), prefix=prefix)  # the real clock
    ttl_s = 0.3
    started = time.monotonic()
    assert (await store.acquire_stream("acme", Tier.FREE, "crashed", ttl_s)).allowed
    # The holder never renews nor releases. Poll (bounded) until the slot comes back.
    deadline = started + 5
    while not (await store.acquire_stream("acme", Tier.FREE, "next", ttl_s)).allowed:
        assert time.monotonic() < deadline, "the crashed holder's slot never came back"
        await asyncio.sleep(0.01)
    assert time.monotonic() - started >= ttl_s


async def test_connect_without_url_is_in_process() -> None:
    store = await QuotaStore.connect(None)
    try:
        assert (await store.check_call("acme", Tier.FREE)).remaining == 999
    finally:
        await store.aclose()


async def test_in_process_store_waits_for_a_connection_past_its_pool_size() -> None:
    # 1,000 streams ending at once release 1,000 leases concurrently: every release
    # must land (fakeredis's default pool raised MaxConnectionsError past 100).
    store = await QuotaStore.connect(None)
    try:
        leases = [
            (await store.acquire_stream(f"c{n}", Tier.FREE, f"lease-{n}", 30.0)).lease
            for n in range(300)
        ]
        released = await asyncio.gather(*(store.release_stream(x) for x in leases if x))
        assert released == [True] * 300
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_connect_with_url_uses_that_redis(real_redis_url: str, prefix: str) -> None:
    store = await QuotaStore.connect(real_redis_url, prefix=prefix)
    try:
        assert (await store.check_call("acme", Tier.FREE)).remaining == 999
    finally:
        await store.aclose()


def _details(status: grpc.Status) -> dict[str, object]:
    (binary,) = [v for k, v in status.trailing_metadata if k == "grpc-status-details-bin"]
    proto = status_pb2.Status.FromString(binary)
    out: dict[str, object] = {}
    for holder in proto.details:
        for cls in (error_details_pb2.QuotaFailure, error_details_pb2.RetryInfo):
            if holder.Is(cls.DESCRIPTOR):
                message = cls()
                holder.Unpack(message)
                out[cls.__name__] = message
    return out


async def test_release_holder_gives_back_only_that_holders_leases(
    store: QuotaStore, prefix: str
) -> None:
    for lease_id, company, holder in (
        ("a1", "acme", "bridge-a"), ("a2", "globex", "bridge-a"),
        ("b1", "acme", "bridge-b"), ("n1", "globex", None),
    ):  # fmt: skip
        assert (await store.acquire_stream(company, Tier.PRO, lease_id, 30, holder=holder)).allowed
    released = await store.acquire_stream("acme", Tier.PRO, "a3", 30, holder="bridge-a")
    assert released.lease is not None
    await store.release_stream(released.lease)  # released normally: not counted again
    assert await store.release_holder("bridge-a") == 2
    assert await store.redis.zrange(f"{prefix}quota:streams:acme", 0, -1) == [b"b1"]
    assert await store.redis.zrange(f"{prefix}quota:streams:globex", 0, -1) == [b"n1"]
    assert await store.release_holder("bridge-a") == 0  # its index went with it
