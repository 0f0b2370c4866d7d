"""Bench-only server launchers for bench_fanout.py, each meant to run in its own process.

python bench/fanout_servers.py bridge --port P
    The real Bridge (servers.bridge.app.SPEC), configured from TICKMESH_* like `python -m
    servers.bridge`, except that API keys are bench keys resolved in process
    (`bench.<company>.<user>.<tier>`), and the usage meter's destination
    (Storage.RecordUsage) acknowledges at once, so no Storage is needed. Auth, quota,
    metering (spooled to disk) and stream leases are the mesh's own.

python bench/fanout_servers.py bare --port P --schedule JSON
    The baseline: a bare grpc.aio server-streaming fan-out serving the same method
    path (/tickmesh.bridge.v1.BridgeService/Subscribe), so the same client harness
    reads it. No auth, no throttle, no per-subscriber state beyond one pending slot:
    per tier, a sender builds one SubscribeResponse (with `ticks` tier-projected ticks
    stamped with the current time) and hands the same bytes to the next streams in
    round-robin order, at `rate` messages per second per stream. The schedule is what
    the Bridge delivered in the same run, so both serve the same message shape.

python bench/fanout_servers.py ingestion --port P
    The real Ingestion server, as `python -m servers.ingestion` runs it.

With BENCH_NICE set, the process first raises its niceness by that much (a lower
scheduling priority for the Bridge pools that serve no enterprise tier). With
BENCH_PROBE_FILE set, the Bridge, the bare fan-out and Ingestion keep a `Probe` in
that file: time in the garbage collector, event-loop lag, write completion times per
tier and, in the Bridge, the two parts of the Ingestion -> Bridge hop per upstream
batch. The bare carries the same instrumentation as the Bridge, so the CPU ratio
compares the servers, not the probes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh import wire
from mesh.config import load_config
from mesh.errors import Unauthenticated
from mesh.logging import configure_logging
from mesh.protoconv import tier_to_proto
from mesh.server import serve
from mesh.tenancy.context import TenantContext
from mesh.tenancy_stack import TenancyOptions
from mesh.tiers import Tier
from servers.bridge import framing
from servers.bridge import streams as bridge_streams
from servers.bridge.app import SPEC as BRIDGE
from servers.bridge.gc_tuning import tune_gc
from servers.bridge.projection import PROJECTORS
from servers.bridge.upstream import Upstream
from servers.ingestion import service as ingestion_service
from servers.ingestion.app import SPEC as INGESTION

KEY_PREFIX = "bench."
SUBSCRIBE_PATH = "/tickmesh.bridge.v1.BridgeService/Subscribe"
BINS_PER_E = 100
"""Latency histograms: bin = int(ln(microseconds) * BINS_PER_E), ~1 % wide."""


def bench_key(company: str, user: str, tier: str) -> str:
    """The API key that authenticates as this tenant on the bench Bridge."""
    return f"{KEY_PREFIX}{company}.{user}.{tier}"


async def resolve_bench_key(api_key: str) -> TenantContext:
    """The bench Bridge's key lookup (Storage.AuthenticateKey in production)."""
    if not api_key.startswith(KEY_PREFIX) or api_key.count(".") != 3:
        raise Unauthenticated("unknown bench key", reason="API_KEY_UNKNOWN")
    _, company, user, tier = api_key.split(".")
    return TenantContext(company, user, Tier.parse(tier), key_id=f"key-{user}")


async def acknowledge_usage(
    request: storage_pb2.RecordUsageRequest,
) -> storage_pb2.RecordUsageResponse:
    """The meter's destination: a Storage that stores everything at once."""
    return storage_pb2.RecordUsageResponse(accepted=len(request.events))


# -- the real Bridge ----------------------------------------------------------------


class Probe:
    """Bench instrumentation of one server process (gc.callbacks and a timer only
    observe). Written to `path` every half second as JSON, cumulative, so the benchmark
    takes differences over its window:

    - time in the cyclic garbage collector, per generation;
    - event-loop lag: how late a 5 ms sleep wakes up (a loop turn that ran long, or the
      process waiting for a core or for the GIL), and over each wake-up 5 ms or more
      late the loop thread's own CPU time, which tells the two apart;
    - any histogram a caller records with `record` (log bins of microseconds, the
      benchmark's latency encoding).
    """

    LAG_PERIOD_S = 0.005
    STALL_S = 0.005

    def __init__(self, path: str) -> None:
        self.path = path
        self.seconds = [0.0, 0.0, 0.0]
        self.counts = [0, 0, 0]
        self.hist: dict[str, collections.Counter[int]] = collections.defaultdict(
            collections.Counter
        )
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._start
            self.counts[info["generation"]] += 1

    def record(self, name: str, micros: float) -> None:
        self.hist[name][int(math.log(max(micros, 1.0)) * BINS_PER_E)] += 1

    def write(self) -> None:
        data = {"seconds": self.seconds, "counts": self.counts, "hist": self.hist}
        with open(f"{self.path}.new", "w") as out:
            json.dump(data, out)
        os.replace(f"{self.path}.new", self.path)  # the reader never sees half a file

    async def run(self) -> None:
        period, clock, written = self.LAG_PERIOD_S, time.perf_counter, 0.0
        while True:
            start, cpu = clock(), time.thread_time()
            await asyncio.sleep(period)
            now = clock()
            lag = now - start - period
            self.record("loop_lag", lag * 1e6)
            if lag >= self.STALL_S:
                # The loop thread's own CPU over a stall: about the stall when a long turn
                # caused it, far less when the thread waited for a core or the GIL.
                self.record("stall_cpu", (time.thread_time() - cpu) * 1e6)
            if now - written >= 0.5:
                self.write()  # a few kilobytes to the page cache
                written = now

    def start(self) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(self.run(), name="bench-probe")


def probe_from_env() -> Probe | None:
    path = os.environ.get("BENCH_PROBE_FILE")
    return Probe(path) if path else None


def time_the_upstream(probe: Probe) -> None:
    """Record, per upstream batch the Bridge reads, the two parts of the Ingestion ->
    Bridge hop: ingest -> Ingestion's publish stamp (its batching), and that stamp ->
    the Bridge's read (Ingestion's write, the wire, the Bridge's read of its stream)."""
    handle = Upstream._handle

    def timed(upstream: Upstream, response: ingestion_pb2.StreamTicksResponse) -> None:
        if response.HasField("batch"):
            now = time.time_ns() // 1000
            batch = response.batch
            if batch.ticks:
                oldest = batch.ticks[0].ingest_time_us
                probe.record("ingest_to_publish", batch.send_time_us - oldest)
                probe.record("publish_to_read", now - batch.send_time_us)
        handle(upstream, response)

    Upstream._handle = timed  # type: ignore[method-assign]


def time_the_writes(probe: Probe) -> None:
    """Record how long each Subscribe write takes to complete, per tier (a write completes
    when grpc has taken the message: a slow one is a full connection or a late completion)."""
    write_all = bridge_streams.write_all

    class TimedContext:
        def __init__(self, context: Any, name: str) -> None:
            self.context, self.name = context, name

        async def write(self, payload: bytes) -> None:
            start = time.perf_counter()
            await self.context.write(payload)
            probe.record(self.name, (time.perf_counter() - start) * 1e6)

    async def timed(context: Any, session: Any, *args: Any) -> None:
        await write_all(TimedContext(context, f"write {session.tier.value}"), session, *args)

    bridge_streams.write_all = timed


async def run_bridge(port: int) -> None:
    config = load_config()
    tune_gc()  # as `python -m servers.bridge` does
    if os.environ.get("BENCH_GC_THRESHOLD"):
        # Experiment only (--bridge-gc-threshold): other thresholds than the Bridge's.
        gc.set_threshold(*map(int, os.environ["BENCH_GC_THRESHOLD"].split(",")))
    if os.environ.get("BENCH_SWITCH_INTERVAL"):
        # Experiment only (--bridge-switch-interval): how long the grpc poller thread may
        # wait for the GIL while the event loop runs (CPython's default is 5 ms).
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))
    probe = probe_from_env()
    ticker = probe.start() if probe else None
    if probe:
        time_the_upstream(probe)
        time_the_writes(probe)
    configure_logging(config.log_level, config.log_format, service="bridge")
    # The instance (its spools, its lease holder) named by the port it serves, as
    # `python -m servers.bridge` names it by its configured port: several Bridges in one
    # data directory (--bridges) then each have their own.
    tenancy = TenancyOptions(
        authenticate_key=resolve_bench_key, usage_sender=acknowledge_usage,
        instance=f"bridge-{port}",
    )  # fmt: skip
    try:
        await serve(await BRIDGE.create(config, port=port, tenancy=tenancy))
    finally:
        if ticker is not None:
            ticker.cancel()


# -- Ingestion, as `python -m servers.ingestion`, with the probe -----------------------


async def run_ingestion(port: int) -> None:
    config = load_config()
    configure_logging(config.log_level, config.log_format, service="ingestion")
    probe = probe_from_env()
    if probe:
        probe.start()  # ends with the process
        time_the_stream(probe)
    await serve(await INGESTION.create(config, port=port))


def time_the_stream(probe: Probe) -> None:
    """Record, per StreamTicks batch Ingestion sends, its publish stamp -> the moment the
    stream yields it to grpc, and how long grpc takes to ask for the next one (the write)."""
    stream = ingestion_service.stream_ticks

    async def timed(*args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        parse = ingestion_pb2.StreamTicksResponse.FromString
        async for frame in stream(*args, **kwargs):
            response = parse(frame)
            batched = response.HasField("batch")
            if batched:
                probe.record(
                    "publish_to_yield", time.time_ns() // 1000 - response.batch.send_time_us
                )
            start = time.perf_counter()
            yield frame
            if batched:
                probe.record("write", (time.perf_counter() - start) * 1e6)

    ingestion_service.stream_ticks = timed  # type: ignore[assignment]


# -- the bare baseline --------------------------------------------------------------


class _Stream:
    __slots__ = ("payload", "wake")

    def __init__(self) -> None:
        self.payload: bytes | None = None
        self.wake = asyncio.Event()


class BareFanout:
    """Per tier: streams in round-robin order and a sender at the scheduled rate."""

    def __init__(
        self, schedule: dict[str, dict[str, float]], step_s: float, probe: Probe | None = None
    ) -> None:
        self.schedule = {Tier.parse(t): s for t, s in schedule.items()}
        self.step_s = step_s
        self.probe = probe  # the Bridge's instrumentation, so both pay for the same
        self.streams: dict[Tier, list[_Stream]] = {tier: [] for tier in Tier}
        self.overwritten = 0  # a payload replaced before its stream wrote it
        self.sent = 0  # payloads handed to streams
        self.written = 0  # payloads whose write completed
        self._seq = 1
        self._template = market_pb2.Tick(
            symbol="EURUSD", bid=1.08491, ask=1.08493, broker="ic_markets",
            broker_time_us=0, ingest_time_us=0, sequence=0, spread_pips=0.2,
            quality_score=0.8731, liquidity_score=0.4667,
            broker_quotes=[market_pb2.Quote(
                symbol="EURUSD", bid=1.08491, ask=1.08493, broker="ic_markets",
                broker_time_us=0, bid_size=1_000_000.0, ask_size=1_000_000.0,
            )],
        )  # fmt: skip

    def payload(self, tier: Tier, ticks: int) -> bytes:
        """One SubscribeResponse with `ticks` ticks of `tier`, stamped now."""
        now = time.time_ns() // 1000
        tick = self._template
        tick.ingest_time_us = tick.broker_time_us = now
        quote = tick.broker_quotes[0]
        quote.broker_time_us = now
        parts = []
        first = self._seq
        for _ in range(ticks):
            tick.sequence = self._seq
            self._seq += 1
            parts.append(PROJECTORS[tier].encode(tick))
        batch = wire.tick_batch(b"".join(parts), first, self._seq - 1, now)
        return framing.batch_response(batch, skipped=0, message_seq=0)

    async def send(self, tier: Tier) -> None:
        plan = self.schedule.get(tier)
        if not plan or plan["rate"] <= 0:
            return
        rate, ticks = plan["rate"], max(1.0, plan["ticks"])
        loop = asyncio.get_running_loop()
        credit, cursor, last, tick_credit = 0.0, 0, loop.time(), 0.0
        while True:
            await asyncio.sleep(self.step_s)
            now = loop.time()
            streams = self.streams[tier]
            credit += len(streams) * rate * (now - last)
            last = now
            count = min(int(credit), len(streams))
            credit -= int(credit)
            if not count:
                continue
            tick_credit += ticks  # a fractional mean: alternate floor and ceil
            data = self.payload(tier, int(tick_credit))  # serialized once for this step
            tick_credit -= int(tick_credit)
            self.sent += count
            for _ in range(count):
                cursor = (cursor + 1) % len(streams)
                stream = streams[cursor]
                if stream.payload is not None:
                    self.overwritten += 1
                stream.payload = data
                stream.wake.set()

    async def Subscribe(self, request: bytes, context: grpc.aio.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata() or ())
        tier = Tier.parse(str(metadata.get("authorization", "")).rsplit(".", 1)[-1])
        stream = _Stream()
        streams = self.streams[tier]
        ack = bridge_pb2.SubscribeResponse(
            ack=bridge_pb2.SubscriptionAck(tier=tier_to_proto(tier)), message_seq=1
        )
        streams.append(stream)
        probe, name = self.probe, f"write {tier.value}"
        try:
            await context.write(ack.SerializeToString())
            while True:
                await stream.wake.wait()
                stream.wake.clear()
                data, stream.payload = stream.payload, None
                if data is not None:
                    start = time.perf_counter()
                    await context.write(data)
                    if probe is not None:
                        probe.record(name, (time.perf_counter() - start) * 1e6)
                    self.written += 1
        finally:
            streams.remove(stream)


async def run_bare(port: int, schedule: dict[str, dict[str, float]], step_s: float) -> None:
    probe = probe_from_env()
    if probe:
        probe.start()  # ends with the process
    fanout = BareFanout(schedule, step_s, probe)
    server = grpc.aio.server()
    handler = grpc.unary_stream_rpc_method_handler(
        fanout.Subscribe, request_deserializer=None, response_serializer=None
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("tickmesh.bridge.v1.BridgeService",
                                              {"Subscribe": handler}),)
    )  # fmt: skip
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    senders = [asyncio.create_task(fanout.send(tier)) for tier in Tier]
    if os.environ.get("BENCH_COUNT_FILE"):
        counts = _write_counts(fanout, os.environ["BENCH_COUNT_FILE"])
        senders.append(asyncio.create_task(counts))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for task in senders:
        task.cancel()
    logging.getLogger("bare").warning("overwritten payloads: %d", fanout.overwritten)
    await server.stop(0.5)


async def _write_counts(fanout: BareFanout, path: str) -> None:
    while True:
        with open(path, "w") as out:  # noqa: ASYNC230 - a few bytes to the page cache
            json.dump({"sent": fanout.sent, "written": fanout.written}, out)
        await asyncio.sleep(0.5)


def main() -> None:
    if os.environ.get("BENCH_NICE"):
        # bench_fanout --bridge-nice: before any thread exists, so all of them inherit it.
        os.nice(int(os.environ["BENCH_NICE"]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("bridge", "bare", "ingestion"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--schedule", default="{}", help="bare: {tier: {rate, ticks}}")
    parser.add_argument("--step-ms", type=float, default=2.0, help="bare: sender period")
    args = parser.parse_args()
    if args.kind == "bridge":
        asyncio.run(run_bridge(args.port))
    elif args.kind == "ingestion":
        asyncio.run(run_ingestion(args.port))
    else:
        asyncio.run(run_bare(args.port, json.loads(args.schedule), args.step_ms / 1000))


if __name__ == "__main__":
    main()
