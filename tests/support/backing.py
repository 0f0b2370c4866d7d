"""The real backing servers tests use, and the checks that fail (never skip) when one is down."""

from __future__ import annotations

import os

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tickmesh_cli.backing_hints import postgres_fix, redis_fix

POSTGRES_URL = os.environ.get(
    "TICKMESH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TICKMESH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def sqlalchemy_postgres_url() -> str:
    """POSTGRES_URL for SQLAlchemy's asyncpg driver."""
    return POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://", 1)


async def require_postgres() -> None:
    """Fail the test, saying how to start it, when PostgreSQL is unreachable."""
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is unusable ({exc}); {postgres_fix(POSTGRES_URL, exc)}",
            pytrace=False,
        )
    await conn.close()


async def require_redis() -> None:
    """Fail the test, saying how to start it, when Redis is unreachable."""
    probe = aioredis.Redis.from_url(REDIS_URL)
    problem = None
    try:
        await probe.ping()
    except (RedisError, OSError) as exc:
        problem = str(exc)
    finally:
        await probe.aclose()
    if problem is not None:
        pytest.fail(
            f"Redis is unreachable at {REDIS_URL} ({problem}); {redis_fix(REDIS_URL)}",
            pytrace=False,
        )


async def delete_redis_prefix(prefix: str) -> None:
    """Remove every key under `prefix` (test runs use a unique one)."""
    cleaner = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in cleaner.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await cleaner.delete(*keys)
    finally:
        await cleaner.aclose()
