"""Benchmark: Ingestion's aggregator throughput, CPU at the default rate, StreamTicks fan-out.

Usage: .venv/bin/python bench/bench_ingestion.py [--seconds 4]
Bounded (about 30 s). Consumers run in a separate process so the server has its own core.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import secrets
import time
from typing import Any

import grpc
from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.config import load_config, load_settings
from servers.ingestion.app import SPEC as INGESTION
from servers.ingestion.app import ingestion_spec
from servers.ingestion.collectors import synthetic_feeds
from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.quote import RawQuote
from servers.ingestion.settings import IngestionSettings

T0 = 1_700_000_000_000_000
STEP_US = 20_000  # the collectors' step: quotes arrive in batches of this much market time


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


# Generated per run, never printed; spawned consumer processes inherit it.
OPERATOR = os.environ.setdefault("TICKMESH_BENCH_OPERATOR", "op_" + secrets.token_urlsafe(24))
BENCH_ENV = {
    "TICKMESH_DATA_DIR": "/tmp/tickmesh-bench",
    "TICKMESH_ADMIN_KEY": OPERATOR,
    "TICKMESH_MESH_SECRET": secrets.token_urlsafe(32),
    "TICKMESH_LOG_LEVEL": "WARNING",
    # Plaintext on loopback, as the figures in RESULTS.md were measured.
    "TICKMESH_TLS_INSECURE": "true",
}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def generate(rate: float, seconds: float) -> list[tuple[int, list[RawQuote]]]:
    """Batches of synthetic quotes as the three feeds deliver them, with their arrival time."""
    clock = FakeClock()
    sink = IngestionPipeline(clock=clock)
    feeds = synthetic_feeds(sink, total_rate=rate, seed=1, clock=clock)
    for feed in feeds:
        feed.connect()
    batches = []
    for _ in range(int(seconds * 1e6 / STEP_US)):
        clock.now += STEP_US
        for feed in feeds:
            quotes = feed.step(clock.now, STEP_US / 1e6)
            if quotes:
                batches.append((clock.now, quotes))
    return batches


def bench_aggregator() -> None:
    batches = generate(rate=3_000, seconds=100)
    quotes = sum(len(b) for _, b in batches)
    clock = FakeClock()
    pipeline = IngestionPipeline(clock=clock, buffer_depth=1_000_000)
    start_seq = pipeline.last_seq
    started = time.process_time()
    for i, (now, batch) in enumerate(batches):
        clock.now = now
        pipeline.submit(batch)
        if i % 3 == 2:  # about every 20 ms of market time, as the 5 ms timer would
            pipeline.flush()
    pipeline.flush()
    cpu = time.process_time() - started
    ticks = pipeline.last_seq - start_seq
    print(
        f"aggregator (validate + aggregate + batch + serialize once), one core: "
        f"{quotes / cpu:,.0f} quotes/s, {ticks / cpu:,.0f} ticks/s "
        f"({cpu / quotes * 1e6:.1f} us/quote; {quotes:,} quotes -> {ticks:,} ticks)"
    )


async def bench_default_rate(seconds: float) -> None:
    config = load_config(env={**BENCH_ENV, "TICKMESH_INGESTION_SEED": "1"})
    server = await INGESTION.create(config, port=0)
    await server.start()
    try:
        await asyncio.sleep(1.0)  # warm up
        stub = ingestion_pb2_grpc.IngestionServiceStub(
            grpc.aio.insecure_channel(server.address, interceptors=api_key_interceptors(OPERATOR))
        )
        before = await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest())
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
        after = await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest())
        quotes = sum(b.quotes for b in after.brokers) - sum(b.quotes for b in before.brokers)
        ticks = after.last_seq - before.last_seq
        rate = load_settings(IngestionSettings, config, "ingestion").quotes_per_second
        print(
            f"default config ({rate:,.0f} quotes/s, 3 synthetic "
            f"brokers, no consumer): {quotes / wall:,.0f} quotes/s, {ticks / wall:,.0f} ticks/s, "
            f"server CPU {cpu / wall:.1%} of one core"
        )
    finally:
        await server.stop()


def consumer_process(
    address: str, consumers: int, seconds: float, ready: Any, go: Any, results: Any
) -> None:
    """Runs in its own process: `consumers` StreamTicks streams counting what arrives."""

    async def one() -> tuple[int, int, int]:
        # StreamTicks is for services and operators: the bench consumes as the operator.
        channel = grpc.aio.insecure_channel(address, interceptors=api_key_interceptors(OPERATOR))
        stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
        call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest())
        await call.read()  # ReplayComplete
        ready.put(1)
        await asyncio.to_thread(go.wait, 60)
        ticks = messages = gaps = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            message = await call.read()
            messages += 1
            if message.HasField("batch"):
                ticks += len(message.batch.ticks)
            elif message.HasField("gap"):
                gaps += 1
        call.cancel()
        await channel.close()
        return ticks, messages, gaps

    async def main() -> None:
        results.put(await asyncio.gather(*(one() for _ in range(consumers))))

    asyncio.run(main())


async def bench_fanout(consumers: int, seconds: float, *, aggregate: bool) -> None:
    config = load_config(env={**BENCH_ENV, "TICKMESH_INGESTION_SYNTHETIC": "false"})
    pipeline = IngestionPipeline()
    server = await ingestion_spec(pipeline=pipeline).create(config, port=0)
    await server.start()
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    process = ctx.Process(
        target=consumer_process, args=(server.address, consumers, seconds, ready, go, results)
    )
    process.start()
    try:
        for _ in range(consumers):
            await asyncio.to_thread(ready.get, True, 30)
        stop = asyncio.Event()
        # Built before the clock starts: generating them takes seconds of CPU, which the
        # measured window would otherwise spend producing nothing.
        quotes = _replay_quotes() if aggregate else None
        produced = asyncio.create_task(_produce(pipeline, stop, quotes))
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        go.set()
        got = await asyncio.to_thread(results.get, True, seconds + 30)
        cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
        stop.set()
        made = await produced
    finally:
        process.join(10)
        await server.stop()
    delivered = sum(t for t, _, _ in got)
    messages = sum(m for _, m, _ in got)
    gaps = sum(g for _, _, g in got)
    source = "aggregator at full speed" if aggregate else "pre-built 500-tick batches"
    print(
        f"StreamTicks, {consumers} consumer(s), {source}: produced {made / wall:,.0f} ticks/s; "
        f"delivered {delivered / seconds:,.0f} ticks/s in all "
        f"({delivered / seconds / consumers:,.0f} each, {delivered / max(messages, 1):,.0f} "
        f"ticks/message, {gaps} gap notices); server CPU {cpu / wall:.0%}"
    )


def _replay_quotes() -> list[list[RawQuote]]:
    """Quotes as the feeds make them, 20 ms of a 20 k quotes/s market per batch, their
    times left unset so that Ingestion stamps them on arrival and validation takes them."""
    return [[q._replace(broker_time_us=0) for q in b] for _, b in generate(20_000, 10)]


async def _produce(
    pipeline: IngestionPipeline, stop: asyncio.Event, batches: list[list[RawQuote]] | None
) -> int:
    """Feeds the pipeline until stopped: `batches` through the aggregator (which sets the
    pace), or with none, pre-built 500-tick batches straight to the publisher."""
    if batches is not None:
        start = pipeline.last_seq
        while not stop.is_set():
            for batch in batches:
                pipeline.submit(batch)
                await asyncio.sleep(0)
                if stop.is_set():
                    break
        return pipeline.last_seq - start
    made = 0
    template = _template_ticks(500)
    while not stop.is_set():
        first = pipeline.ring.last_seq + 1
        for offset, tick in enumerate(template):
            tick.sequence = first + offset
        pipeline.publisher.add(template)
        pipeline.flush()
        made += len(template)
        await asyncio.sleep(0)
    return made


def _template_ticks(count: int) -> list[market_pb2.Tick]:
    clock = FakeClock()
    pipeline = IngestionPipeline(clock=clock)
    ticks: list[market_pb2.Tick] = []
    for now, batch in generate(rate=3_000, seconds=10):
        clock.now = now
        ticks += pipeline.aggregator.ingest(batch, now).ticks
        if len(ticks) >= count:
            break
    return ticks[:count]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    bench_aggregator()
    await bench_default_rate(args.seconds)
    for consumers in (1, 4):
        await bench_fanout(consumers, args.seconds, aggregate=False)
    for consumers in (1, 4):
        await bench_fanout(consumers, args.seconds, aggregate=True)


if __name__ == "__main__":
    asyncio.run(main())
