"""Benchmark: what tracing costs. Unary calls/s with telemetry off vs on, in one process.

Usage: .venv/bin/python bench/bench_telemetry.py [--seconds 3] [--rounds 5] [--concurrency 32]

A mesh server (build_server: the mesh's interceptors, no tenancy) answers an empty unary
echo, so the ratio is the worst case: real handlers do more work per call (auth, quota,
stores) and tracing is a smaller share of it.
"On" traces both ends (a client span and a server span per call) and exports every span
through a BatchSpanProcessor into an exporter that discards them. Rounds alternate off and
on, so drift on a shared machine hits both alike. It also times the Bridge's per-message
metrics hook (TierMetrics.delivered) off and on.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import timeit
from collections.abc import Sequence
from pathlib import Path

import grpc
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from tickmesh.common.v1 import market_pb2

from mesh.binding import ServiceBinding
from mesh.client_interceptors import metadata_interceptors
from mesh.config import MeshConfig
from mesh.server import MeshServer, build_server
from mesh.telemetry import install_pipeline, metrics, shutdown_telemetry, tracer_for
from mesh.telemetry.client import tracing_interceptors
from mesh.telemetry.metrics import NOOP, tier_metrics


class DiscardExporter(SpanExporter):
    """Counts spans and drops them: the export path without a collector."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


ECHO = "/bench.Echo/Ping"


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


class _EchoHandler(grpc.GenericRpcHandler):
    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        return grpc.unary_unary_rpc_method_handler(_echo) if details.method == ECHO else None


ECHO_BINDING = ServiceBinding(
    "bench.Echo", lambda server: server.add_generic_rpc_handlers((_EchoHandler(),))
)


async def _server(config: MeshConfig, component: str) -> tuple[MeshServer, grpc.aio.Channel]:
    server = await build_server(config, component=component, port=0, bindings=[ECHO_BINDING])
    await server.start()
    # Every mesh and SDK channel already has metadata interceptors (key, signed caller),
    # so both ends have them here: the difference is tracing alone.
    interceptors = [
        *tracing_interceptors(tracer_for("bench-client")),
        *metadata_interceptors(lambda: (("x-bench", "1"),)),
    ]
    channel = grpc.aio.insecure_channel(server.address, interceptors=interceptors)
    return server, channel


async def _rate(channel: grpc.aio.Channel, seconds: float, concurrency: int) -> float:
    """Unary calls/s with `concurrency` callers, each one call at a time, for `seconds`."""
    ping = channel.unary_unary(ECHO)
    request = b"ping"
    for _ in range(200):  # warm-up: connection, caches
        await ping(request)
    done = 0
    deadline = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await ping(request)
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


def _hook_ns(hooks: object, last_tick: bytes, n: int = 200_000) -> float:
    """ns per TierMetrics.delivered call (one per Subscribe message)."""
    delivered = hooks.delivered  # type: ignore[attr-defined]
    return timeit.timeit(lambda: delivered(100, last_tick), number=n) / n * 1e9


async def main(seconds: float, rounds: int, concurrency: int) -> None:
    # Plaintext on loopback, as the figures in RESULTS.md were measured.
    config = MeshConfig(
        data_dir=Path(tempfile.mkdtemp(prefix="bench-telemetry-")), tls_insecure=True
    )
    off_server, off_channel = await _server(config, "bench")  # built while telemetry is off
    exporter = DiscardExporter()
    # Per phase: (off, on) calls/s of each round, measured back to back.
    phases: dict[str, list[tuple[float, float]]] = {}
    opened = [(off_server, off_channel)]
    for label, ratio in (("ratio 1", 1.0), ("ratio 0.01", 0.01)):
        # A new pipeline, and a server built under it (interceptors are fixed at creation).
        install_pipeline(BatchSpanProcessor(exporter), InMemoryMetricReader(), sample_ratio=ratio)
        on_server, on_channel = await _server(config, "bench")
        opened.append((on_server, on_channel))
        phases[label] = [
            (
                await _rate(off_channel, seconds, concurrency),
                await _rate(on_channel, seconds, concurrency),
            )
            for _ in range(rounds)
        ]
    tick = market_pb2.Tick(symbol="EURUSD", bid=1.1, ask=1.2, ingest_time_us=time.time_ns() // 1000)
    last_tick = market_pb2.TickBatch(ticks=[tick]).SerializeToString()
    hook_on = _hook_ns(tier_metrics("pro"), last_tick)
    metrics.LATENCY_SAMPLE_S = 0.0  # every call a latency sample...
    await asyncio.sleep(0.02)  # ...once the window of the last one has passed
    hook_sampled = _hook_ns(tier_metrics("pro"), last_tick, n=20_000)
    hook_off = _hook_ns(NOOP, last_tick)
    for server, channel in opened:
        await channel.close()
        await server.stop()
    shutdown_telemetry()

    for label, pairs in phases.items():
        # The median of per-round ratios: each pair shares the machine's state of the moment.
        ratio_on = statistics.median(on / off for off, on in pairs)
        off_rate = statistics.median(off for off, _ in pairs)
        on_rate = statistics.median(on for _, on in pairs)
        print(
            f"telemetry on, {label:>10}: {ratio_on:.2f} of the calls/s with it off"
            f"  (median {on_rate:.0f} vs {off_rate:.0f} calls/s;"
            f" rounds off/on: {', '.join(f'{a:.0f}/{b:.0f}' for a, b in pairs)})"
        )
    print(f"spans exported: {exporter.spans}")
    print(
        f"Bridge hook per message: off {hook_off:.0f} ns, on {hook_on:.0f} ns"
        f" ({hook_sampled:.0f} ns when it takes a latency sample, at most 100/s per tier)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds, args.concurrency))
