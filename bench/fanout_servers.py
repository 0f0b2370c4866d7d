"""Bench-only server launchers for bench_fanout.py, each meant to run in its own process.

python bench/fanout_servers.py bridge --port P
    The real Bridge (create_bridge), configured from TICKMESH_* like `python -m
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
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import sys
import time

import grpc
from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.config import load_config
from mesh.errors import Unauthenticated
from mesh.logging import configure_logging
from mesh.protoconv import tier_to_proto
from mesh.server import serve
from mesh.tenancy.context import TenantContext
from mesh.tenancy.wiring import open_tenancy
from mesh.tiers import Tier
from servers.bridge import wire
from servers.bridge.app import create_bridge
from servers.bridge.gc_tuning import tune_gc
from servers.bridge.projection import PROJECTORS

KEY_PREFIX = "bench."
SUBSCRIBE_PATH = "/tickmesh.bridge.v1.BridgeService/Subscribe"


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


class GcClock:
    """Time spent in the cyclic garbage collector, per generation (bench instrumentation:
    gc.callbacks only observe). Written to `path` every second as JSON."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.seconds = [0.0, 0.0, 0.0]
        self.counts = [0, 0, 0]
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._start
            self.counts[info["generation"]] += 1

    def write(self) -> None:
        with open(self.path, "w") as out:
            json.dump({"seconds": self.seconds, "counts": self.counts}, out)

    async def run(self) -> None:
        while True:
            self.write()  # a few hundred bytes to the page cache
            await asyncio.sleep(0.5)


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
    clock = GcClock(os.environ["BENCH_GC_FILE"]) if os.environ.get("BENCH_GC_FILE") else None
    ticker = asyncio.create_task(clock.run()) if clock else None
    configure_logging(config.log_level, config.log_format, service="bridge")
    tenancy = await open_tenancy(
        config, "bridge", authenticate_key=resolve_bench_key, usage_sender=acknowledge_usage
    )
    try:
        server, _ = await create_bridge(config, port=port, tenancy=tenancy)
        await serve(server)
    finally:
        if ticker is not None:
            ticker.cancel()
        await tenancy.aclose()


# -- the bare baseline --------------------------------------------------------------


class _Stream:
    __slots__ = ("payload", "wake")

    def __init__(self) -> None:
        self.payload: bytes | None = None
        self.wake = asyncio.Event()


class BareFanout:
    """Per tier: streams in round-robin order and a sender at the scheduled rate."""

    def __init__(self, schedule: dict[str, dict[str, float]], step_s: float) -> None:
        self.schedule = {Tier.parse(t): s for t, s in schedule.items()}
        self.step_s = step_s
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
        return wire.batch_response(batch, skipped=0, message_seq=0)

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
        try:
            await context.write(ack.SerializeToString())
            while True:
                await stream.wake.wait()
                stream.wake.clear()
                data, stream.payload = stream.payload, None
                if data is not None:
                    await context.write(data)
                    self.written += 1
        finally:
            streams.remove(stream)


async def run_bare(port: int, schedule: dict[str, dict[str, float]], step_s: float) -> None:
    fanout = BareFanout(schedule, step_s)
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("bridge", "bare"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--schedule", default="{}", help="bare: {tier: {rate, ticks}}")
    parser.add_argument("--step-ms", type=float, default=2.0, help="bare: sender period")
    args = parser.parse_args()
    if args.kind == "bridge":
        asyncio.run(run_bridge(args.port))
    else:
        asyncio.run(run_bare(args.port, json.loads(args.schedule), args.step_ms / 1000))


if __name__ == "__main__":
    main()
