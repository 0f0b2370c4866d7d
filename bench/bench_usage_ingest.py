"""Benchmark: usage events/s into the embedded (chDB) analytics store through record_usage.

Usage: .venv/bin/python bench/bench_usage_ingest.py [--events 300000] [--data-dir DIR]
Batches look like meter flushes (200 companies x 5 users x 3 endpoints, keys
"<component>:<instance>:<seq>:<index>"). For batch sizes 1k and 10k it reports end-to-end
events/s (one caller, then 4 concurrent callers), per-batch p50/p99, where a batch's
time goes (validation, dedupe check, insert), and the all-duplicates retry path.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tickmesh.common.v1 import tenancy_pb2

from servers.storage.analytics import AnalyticsStore, open_analytics, usage
from servers.storage.analytics.validation import period_of, unix_us, validate_usage

ENDPOINTS = (("bridge", "Subscribe"), ("bridge", "GetUsage"), ("ingestion", "ListSymbols"))
COMPANIES = [secrets.token_hex(6) for _ in range(200)]


def make_batches(count: int, size: int, instance: str) -> list[list[tenancy_pb2.UsageEvent]]:
    """`count` batches of `size` valid events, spread over the last hour."""
    now = datetime.now(UTC)
    batches = []
    for seq in range(count):
        at = unix_us(now - timedelta(seconds=3600 * seq / count + 1))
        period = period_of(at)
        batch = []
        for i in range(size):
            service, endpoint = ENDPOINTS[i % 3]
            batch.append(
                tenancy_pb2.UsageEvent(
                    idempotency_key=f"bridge:{instance}:{seq}:{i}",
                    company_id=COMPANIES[i % 200],
                    user_id=f"user-{i % 1000}",
                    tier=tenancy_pb2.TIER_PRO,
                    service=service,
                    endpoint=endpoint,
                    data_points=1 + i % 50,
                    processing_time_us=10 + i % 7,
                    event_time_us=at - i,
                    billing_period=period,
                )
            )
        batches.append(batch)
    return batches


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] if len(samples) > 1 else samples[0]


async def end_to_end(
    store: AnalyticsStore, batches: list[list[tenancy_pb2.UsageEvent]], callers: int
) -> tuple[float, list[float], int, int]:
    """events/s, per-batch ms, accepted, duplicates with `callers` concurrent callers."""
    queue = list(reversed(batches))
    latencies: list[float] = []
    accepted = duplicates = 0

    async def caller() -> None:
        nonlocal accepted, duplicates
        while queue:
            batch = queue.pop()
            t0 = time.perf_counter()
            result = await store.record_usage(batch)
            latencies.append((time.perf_counter() - t0) * 1000)
            accepted += result.accepted
            duplicates += result.duplicates

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - started
    return sum(map(len, batches)) / elapsed, latencies, accepted, duplicates


async def breakdown(store: AnalyticsStore, batches: list[list[tenancy_pb2.UsageEvent]]) -> str:
    """Mean ms per batch of validation, dedupe check and insert (fresh batches)."""
    v = c = i = 0.0
    for batch in batches:
        t0 = time.perf_counter()
        rows, _ = validate_usage(batch, datetime.now(UTC))
        t1 = time.perf_counter()
        await store._call(usage.existing_keys, store._client, rows.keys)
        t2 = time.perf_counter()
        await store._call(usage.store_new_rows, store._client, [rows])  # checks again + inserts
        t3 = time.perf_counter()
        v, c, i = v + t1 - t0, c + t2 - t1, i + (t3 - t2) - (t2 - t1)
    n = len(batches)
    return (
        f"validate {v / n * 1000:.1f} ms, dedupe check {c / n * 1000:.1f} ms,"
        f" insert {i / n * 1000:.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300_000, help="events per case")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_analytics(None, args.data_dir or Path(tmp))
        print(f"chDB analytics store, {args.events:,} events per case")
        for size in (1_000, 10_000):
            count = max(1, args.events // size)
            for callers in (1, 4):
                batches = make_batches(count, size, secrets.token_hex(6))
                rate, lat, accepted, dups = await end_to_end(store, batches, callers)
                assert (accepted, dups) == (count * size, 0), (accepted, dups)
                print(
                    f"batch {size:>6,} x{count:<4} callers {callers}: {rate:>9,.0f} events/s"
                    f"  per batch p50 {pct(lat, 50):6.1f} ms p99 {pct(lat, 99):6.1f} ms"
                )
            rate, lat, accepted, dups = await end_to_end(store, batches, 1)
            assert (accepted, dups) == (0, count * size)
            print(f"batch {size:>6,} retried (all duplicates): {rate:>9,.0f} events/s")
            fresh = make_batches(min(count, 20), size, secrets.token_hex(6))
            print(f"batch {size:>6,} breakdown: {await breakdown(store, fresh)}")
        ((rows,),) = await store.query("SELECT count() FROM usage_tracking")
        print(f"usage_tracking rows at the end: {rows:,}")
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
