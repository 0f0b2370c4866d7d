"""Fixtures for the tenancy tests: each Redis test runs on real Redis and on fakeredis."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import fakeredis
import pytest
import redis.asyncio as aioredis

from tests.support.backing import REDIS_URL, delete_redis_prefix, require_redis
from tests.waiting import eventually

RedisFactory = Callable[[], aioredis.Redis]


class FakeClock:
    """A clock tests move by hand (unix seconds)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    # 2030-06-15T12:00:00Z: far from midnight unless a test moves it there.
    return FakeClock(1_907_755_200.0)


@pytest.fixture
def prefix() -> str:
    """A key prefix unique to this test, so runs never see each other's keys."""
    return f"tickmesh-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis), "fakeredis"])
async def redis_factory(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[RedisFactory]:
    """Makes clients of one server; two clients stand for two processes sharing a Redis."""
    clients: list[aioredis.Redis] = []
    server = fakeredis.FakeServer() if request.param == "fakeredis" else None

    def new_client() -> aioredis.Redis:
        client: aioredis.Redis
        if server is not None:
            client = fakeredis.FakeAsyncRedis(server=server)
        else:
            client = aioredis.Redis.from_url(REDIS_URL)
        clients.append(client)
        return client

    if server is None:
        await require_redis()
    try:
        yield new_client
    finally:
        cleaner = new_client()
        keys = [k async for k in cleaner.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await cleaner.delete(*keys)
        for client in clients:
            await client.aclose()


@pytest.fixture
async def real_redis_url(prefix: str) -> AsyncIterator[str]:
    """The real Redis URL (checked reachable); keys under `prefix` are removed after."""
    await require_redis()
    yield REDIS_URL
    await delete_redis_prefix(prefix)


WaitUntil = Callable[[Callable[[], bool]], Awaitable[None]]


@pytest.fixture
def wait_until() -> WaitUntil:
    """Polls a condition with a bounded timeout (never a bare sleep-and-hope)."""

    return functools.partial(eventually, within=5.0, every=0.002)
