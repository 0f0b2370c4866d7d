"""The API-key cache: layers, single-flight, negative caching and cross-process revocation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from mesh.errors import Unauthenticated
from mesh.tenancy.auth_cache import MAX_LOCAL_TTL_S, AuthCache, broadcast_invalidation, hash_key
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier

KEY = "tmk_live_2f9c1e0b7a4d4c1f8e3a6b5d"
ALICE = TenantContext("acme", "alice", Tier.PRO, "key-1")


class FakeStorage:
    """Stands in for Storage.AuthenticateKey: a key table, with call counting."""

    def __init__(self) -> None:
        self.keys: dict[str, TenantContext] = {KEY: ALICE}
        self.calls = 0
        self.gate: asyncio.Event | None = None  # when set, lookups wait for it
        self.fail_next = False

    async def resolve(self, api_key: str) -> TenantContext | None:
        self.calls += 1
        tenant = self.keys.get(api_key)  # read "the database" before any wait
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("storage unavailable")
        return tenant


@pytest.fixture
def storage() -> FakeStorage:
    return FakeStorage()


@pytest.fixture
async def caches(
    redis_factory, prefix: str, storage: FakeStorage
) -> AsyncIterator[tuple[AuthCache, AuthCache]]:
    """Two caches on separate connections to one Redis: two processes, in effect."""
    first = AuthCache(storage.resolve, redis_factory(), prefix=prefix)
    second = AuthCache(storage.resolve, redis_factory(), prefix=prefix)
    async with first, second:
        yield first, second


async def test_miss_then_local_hit(caches, storage: FakeStorage) -> None:
    cache, _ = caches
    assert await cache.authenticate(KEY) == ALICE
    assert await cache.authenticate(KEY) == ALICE
    assert storage.calls == 1 and cache.stats.local_hits == 1


async def test_second_process_hits_the_shared_layer(caches, storage: FakeStorage) -> None:
    first, second = caches
    await first.authenticate(KEY)
    assert await second.authenticate(KEY) == ALICE
    assert storage.calls == 1 and second.stats.shared_hits == 1


async def test_unknown_key_is_refused_and_cached_briefly(caches, storage: FakeStorage) -> None:
    first, second = caches
    for cache in (first, first, second):
        with pytest.raises(Unauthenticated, match="unknown or revoked"):
            await cache.authenticate("tmk_guess_000")
    assert storage.calls == 1  # a guessing flood costs Storage one lookup per key
    with pytest.raises(Unauthenticated, match="missing"):
        await first.authenticate("")


async def test_concurrent_misses_share_one_resolution(caches, storage: FakeStorage) -> None:
    cache, _ = caches
    storage.gate = asyncio.Event()
    lookups = [asyncio.ensure_future(cache.authenticate(KEY)) for _ in range(50)]
    await asyncio.sleep(0)  # let them all reach the in-flight lookup
    storage.gate.set()
    assert await asyncio.gather(*lookups) == [ALICE] * 50
    assert storage.calls == 1


async def test_a_cancelled_waiter_does_not_cancel_the_others(caches, storage: FakeStorage) -> None:
    cache, _ = caches
    storage.gate = asyncio.Event()
    quitter = asyncio.ensure_future(cache.lookup(KEY))
    stayer = asyncio.ensure_future(cache.lookup(KEY))
    await asyncio.sleep(0)
    quitter.cancel()
    storage.gate.set()
    assert await stayer == ALICE
    with pytest.raises(asyncio.CancelledError):
        await quitter


async def test_resolver_errors_reach_every_waiter_and_are_not_cached(
    caches, storage: FakeStorage
) -> None:
    cache, _ = caches
    storage.gate, storage.fail_next = asyncio.Event(), True
    lookups = [asyncio.ensure_future(cache.lookup(KEY)) for _ in range(3)]
    await asyncio.sleep(0)
    storage.gate.set()
    results = await asyncio.gather(*lookups, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await cache.lookup(KEY) == ALICE and storage.calls == 2


async def test_revocation_reaches_another_process(caches, storage: FakeStorage, wait_until) -> None:
    first, second = caches
    assert await first.authenticate(KEY) == ALICE
    assert await second.authenticate(KEY) == ALICE  # now cached in both processes
    del storage.keys[KEY]  # Storage revokes the key ...
    await first.invalidate_company("acme")  # ... and announces it
    await wait_until(lambda: second.stats.invalidations_seen >= 1)
    with pytest.raises(Unauthenticated):
        await second.authenticate(KEY)  # the very next lookup refuses
    with pytest.raises(Unauthenticated):
        await first.authenticate(KEY)


async def test_tier_change_reaches_another_process(
    caches, storage: FakeStorage, wait_until
) -> None:
    first, second = caches
    await second.authenticate(KEY)
    upgraded = TenantContext("acme", "alice", Tier.ENTERPRISE, "key-1")
    storage.keys[KEY] = upgraded
    # Storage itself needs no cache to announce a change: one function call on Redis.
    assert await broadcast_invalidation(second._redis, "acme", prefix=first._prefix) == 1
    await wait_until(lambda: second.stats.invalidations_seen >= 1)
    assert (await second.authenticate(KEY)).tier is Tier.ENTERPRISE


async def test_listeners_hear_each_company_invalidated_in_any_process(caches, wait_until) -> None:
    first, second = caches
    heard: list[str | None] = []
    second.add_listener(heard.append)
    second.add_listener(lambda company: 1 / 0)  # a broken listener stops no one
    await first.invalidate_company("acme")
    await wait_until(lambda: heard == ["acme"])
    await second.invalidate_company("globex")  # its own invalidations too
    assert heard[-1] == "globex"


async def test_invalidation_spares_other_companies(
    caches, storage: FakeStorage, wait_until
) -> None:
    first, second = caches
    other = TenantContext("globex", "bob", Tier.FREE, "key-2")
    storage.keys["tmk_other"] = other
    await second.authenticate("tmk_other")
    await first.invalidate_company("acme")
    await wait_until(lambda: second.stats.invalidations_seen >= 1)
    assert await second.authenticate("tmk_other") == other and storage.calls == 1


async def test_fill_racing_an_invalidation_is_not_kept(
    caches, storage: FakeStorage, wait_until
) -> None:
    first, second = caches
    storage.gate = asyncio.Event()
    stale = asyncio.ensure_future(first.lookup(KEY))  # reads ALICE, then stalls
    await wait_until(lambda: storage.calls == 1)
    del storage.keys[KEY]
    await second.invalidate_company("acme")
    await wait_until(lambda: first.stats.invalidations_seen >= 1)
    storage.gate.set()
    assert await stale == ALICE  # that answer was already on its way ...
    assert await first.lookup(KEY) is None  # ... but neither layer kept it
    assert await second.lookup(KEY) is None


async def test_local_ttl_bounds_staleness_without_redis(clock, storage: FakeStorage) -> None:
    cache = AuthCache(storage.resolve, clock=clock)  # no Redis: in-process only
    async with cache:
        assert await cache.authenticate(KEY) == ALICE
        del storage.keys[KEY]  # revoked, and nobody tells this process
        assert cache.local_ttl_s <= MAX_LOCAL_TTL_S <= 1.0
        clock.advance(cache.local_ttl_s)
        with pytest.raises(Unauthenticated):
            await cache.authenticate(KEY)


async def test_an_expiring_key_is_cached_no_longer_than_it_lives(
    redis_factory, prefix: str, storage: FakeStorage
) -> None:
    wall = [1_000_000_000]
    expiring = TenantContext(
        "acme", "alice", Tier.PRO, "key-1", key_expires_at_us=wall[0] + 60_000_000
    )
    storage.keys[KEY] = expiring
    shared = redis_factory()

    def cache() -> AuthCache:
        return AuthCache(storage.resolve, shared, prefix=prefix, wall_us=lambda: wall[0])

    async with cache() as first, cache() as second:
        assert await first.authenticate(KEY) == expiring
        ttl_ms = await shared.pttl(f"{prefix}auth:key:{hash_key(KEY)}")
        assert 0 < ttl_ms <= 60_000  # the shared entry lapses with the key, not in 300 s
        assert await second.authenticate(KEY) == expiring and storage.calls == 1

        # The key's time is up (the shared entry is still in Redis for real time): neither
        # layer answers for it any more; Storage, asked again, refuses it.
        wall[0] += 60_000_000
        del storage.keys[KEY]
        for process in (first, second):
            with pytest.raises(Unauthenticated):
                await process.authenticate(KEY)


def test_local_ttl_above_one_second_is_refused(storage: FakeStorage) -> None:
    with pytest.raises(ValueError, match="revocation"):
        AuthCache(storage.resolve, local_ttl_s=1.5)
    with pytest.raises(ValueError, match="revocation"):
        AuthCache(storage.resolve, negative_local_ttl_s=2)


async def test_lru_is_bounded(storage: FakeStorage) -> None:
    cache = AuthCache(storage.resolve, max_entries=3)
    for i in range(5):
        await cache.lookup(f"tmk_{i}")
    await cache.lookup("tmk_4")
    assert len(cache._local) == 3 and storage.calls == 5


async def test_plaintext_keys_are_never_stored(
    caches, redis_factory, prefix: str, storage: FakeStorage
) -> None:
    first, _ = caches
    await first.lookup(KEY)
    await first.lookup("tmk_unknown_123")
    client: aioredis.Redis = redis_factory()
    stored = [k async for k in client.scan_iter(match=f"{prefix}*")]
    assert stored
    for name in stored:
        value = await client.dump(name)
        assert b"tmk_" not in name and (value is None or b"tmk_" not in value)
    assert f"{prefix}auth:key:{hash_key(KEY)}".encode() in stored
    assert all("tmk_" not in h for h in first._local)


async def test_unreachable_redis_degrades_to_the_resolver(storage: FakeStorage) -> None:
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        cache = AuthCache(storage.resolve, dead)
        assert await cache.authenticate(KEY) == ALICE
        assert await cache.authenticate(KEY) == ALICE  # still cached locally
        assert storage.calls == 1
    finally:
        await dead.aclose()


@pytest.mark.redis
async def test_listener_resubscribes_after_losing_its_connection(
    real_redis_url: str, prefix: str, storage: FakeStorage, wait_until
) -> None:
    name = f"authcache-{prefix.split(':')[1]}"
    listener_client = aioredis.Redis.from_url(real_redis_url, client_name=name)
    admin = aioredis.Redis.from_url(real_redis_url)
    try:
        async with AuthCache(storage.resolve, listener_client, prefix=prefix) as cache:
            await cache.authenticate(KEY)
            ours = [c for c in await admin.client_list() if c.get("name") == name]
            for conn in ours:  # drop only this test's connections
                await admin.client_kill_filter(_id=conn["id"])
            await wait_until(lambda: cache.stats.resubscriptions >= 1)
            del storage.keys[KEY]
            await broadcast_invalidation(admin, "acme", prefix=prefix)
            await wait_until(lambda: cache.stats.invalidations_seen >= 1)
            assert await cache.lookup(KEY) is None
    finally:
        await listener_client.aclose()
        await admin.aclose()


async def test_strict_mode_refuses_a_revoked_key_on_the_very_next_call(
    redis_factory, prefix: str, storage: FakeStorage
) -> None:
    """Strict: a local hit is checked against the shared generation, no waiting for pub/sub."""
    first = AuthCache(storage.resolve, redis_factory(), prefix=prefix, strict=True)
    second = AuthCache(storage.resolve, redis_factory(), prefix=prefix, strict=True)
    async with first, second:
        assert await second.authenticate(KEY) == ALICE  # warm second's local layer
        del storage.keys[KEY]
        await first.invalidate_company(ALICE.company_id)  # "process one" revokes
        with pytest.raises(Unauthenticated):
            await second.authenticate(KEY)  # next call, no wait for the broadcast


async def test_strict_lookup_survives_an_eviction_during_its_check(
    redis_factory, prefix: str, storage: FakeStorage
) -> None:
    """Regression: the entry may vanish while the generation check awaits Redis."""
    cache = AuthCache(storage.resolve, redis_factory(), prefix=prefix, strict=True)
    async with cache:
        await cache.authenticate(KEY)
        lookups = [asyncio.ensure_future(cache.authenticate(KEY)) for _ in range(20)]
        await asyncio.sleep(0)  # let every lookup reach its awaited generation check
        cache._drop_all()  # an invalidation lands meanwhile
        assert await asyncio.gather(*lookups) == [ALICE] * 20
