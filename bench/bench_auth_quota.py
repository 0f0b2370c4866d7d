"""Micro-benchmark: API-key authentication (cache layers) and quota checks, p50/p99.

Usage: .venv/bin/python bench/bench_auth_quota.py [--n 5000] [--redis-url URL]
Runs each case sequentially (one awaited call at a time) on real Redis and on fakeredis.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import fakeredis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mesh.tenancy.auth_cache import AuthCache
from mesh.tenancy.context import TenantContext
from mesh.tenancy.quota import QuotaStore
from mesh.tiers import Tier

TENANT = TenantContext("acme", "alice", Tier.PRO, "key-1")


class SteppingClock:
    """A monotonic clock that jumps past the local TTL on every read, forcing local misses."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 2.0
        return self.now


async def measure(n: int, op: Callable[[int], Awaitable[object]]) -> tuple[float, float, float]:
    """p50 and p99 in microseconds, and sequential ops/s, over n calls (after a warm-up)."""
    for i in range(min(200, n)):
        await op(-1 - i)
    samples = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter_ns()
        await op(i)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(samples, n=100)
    return quantiles[49], quantiles[98], n / elapsed


async def run_backend(name: str, client: aioredis.Redis, n: int) -> list[tuple[str, ...]]:
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"

    async def resolver(api_key: str) -> TenantContext:
        await client.get(f"{prefix}storage:{api_key[-8:]}")  # one real round trip
        return TENANT

    rows: list[tuple[str, Callable[[int], Awaitable[object]]]] = []
    warm = AuthCache(resolver, client, prefix=prefix)
    await warm.authenticate("tmk_warm")
    rows.append(("auth warm (local LRU)", lambda i: warm.authenticate("tmk_warm")))
    shared = AuthCache(resolver, client, prefix=prefix, clock=SteppingClock())
    rows.append(("auth shared (Redis hit)", lambda i: shared.authenticate("tmk_warm")))
    cold = AuthCache(resolver, client, prefix=prefix)
    rows.append(("auth cold (resolver+fill)", lambda i: cold.authenticate(f"tmk_{i}")))
    quota = QuotaStore(client, prefix=prefix)
    rows.append(("quota check_call", lambda i: quota.check_call("acme", Tier.PRO)))
    rows.append(("quota acquire_stream", lambda i: quota.acquire_stream("co", Tier.PRO, "s", 30)))
    table: list[tuple[str, ...]] = []
    for label, op in rows:
        p50, p99, rate = await measure(n, op)
        table.append((label, name, f"{p50:8.1f}", f"{p99:8.1f}", f"{rate:9.0f}"))
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    for start in range(0, len(keys), 1000):
        await client.delete(*keys[start : start + 1000])
    return table


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    table: list[tuple[str, ...]] = []
    real = aioredis.Redis.from_url(args.redis_url)
    try:
        await real.ping()
        table += await run_backend("redis", real, args.n)
    except (OSError, RedisError) as exc:
        print(f"real Redis at {args.redis_url} unreachable, skipped: {exc}")
    finally:
        await real.aclose()
    fake = fakeredis.FakeAsyncRedis()
    table += await run_backend("fakeredis", fake, args.n)
    await fake.aclose()
    header = ("case", "backend", "p50 us", "p99 us", "ops/s")
    widths = [max(len(r[c]) for r in [header, *table]) for c in range(len(header))]
    print(f"n={args.n} sequential calls per case")
    for row in [header, *table]:
        print(
            "  ".join(
                cell.rjust(w) if c > 1 else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
