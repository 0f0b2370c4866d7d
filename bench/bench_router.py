"""Benchmark: what routing through the Hub adds to a call, against calling the service directly.

Usage: .venv/bin/python bench/bench_router.py [--calls 2000] [--messages 20000]
                                              [--paced 1000] [--rate 500]

Starts a Hub, a Billing server and a streaming server (a Bridge-shaped stand-in whose
Subscribe sends N messages of 20 ticks each) in this process, on loopback; both
instances register at the Hub and are health-checked by it. Then, each measured
directly and through the Hub, in one run:

- unary: sequential Billing.GetTierCatalog calls: latency p50/p99, process CPU per call;
- stream, unpaced: one Subscribe of --messages messages: messages/s, CPU per message;
- stream, paced: --paced messages at --rate/s, each stamped when sent: delivery latency
  p50/p99 (the stream is never backed up, so this is the forwarding latency).

Everything runs in one process, so CPU is the whole process's (client, Hub and
instance); the difference between the two modes is what the router costs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import market_pb2

from mesh.binding import bind
from mesh.client_interceptors import api_key_interceptors
from mesh.config import MeshConfig, load_config
from mesh.errors import Unimplemented
from mesh.host import Assembly, NoSettings, Service, ServiceSpec
from mesh.server import MeshServer
from servers.billing.app import SPEC as BILLING
from servers.hub.app import SPEC as HUB
from servers.hub.hub import Hub
from servers.hub.registry import Health

TICKS_PER_MESSAGE = 20


class StreamingBridge(bridge_pb2_grpc.BridgeServiceServicer):
    """Subscribe sends `resume_from` messages, each stamped with its send time (ns) in
    `skipped`; paced at the rate in metadata `x-bench-rate` (messages/s) when set."""

    def __init__(self) -> None:
        batch = market_pb2.TickBatch(
            ticks=[
                market_pb2.Tick(symbol="EURUSD", bid=1.1 + n * 1e-5, ask=1.1001 + n * 1e-5)
                for n in range(TICKS_PER_MESSAGE)
            ]
        )
        self._batch = batch

    async def Subscribe(
        self, request: bridge_pb2.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> None:
        rate = float(dict(context.invocation_metadata() or ()).get("x-bench-rate", 0))
        interval = 1 / rate if rate else 0.0
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        for _ in range(request.resume_from):
            if interval:
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - loop.time()))
            await context.write(
                bridge_pb2.SubscribeResponse(batch=self._batch, skipped=time.perf_counter_ns())
            )

    # Not measured; declared so that bind() sees every RPC of the contract handled.
    async def GetSessionStats(
        self, request: bridge_pb2.GetSessionStatsRequest, context: grpc.aio.ServicerContext
    ) -> bridge_pb2.GetSessionStatsResponse:
        raise Unimplemented("the benchmark's Bridge keeps no sessions")

    async def GetUsage(
        self, request: bridge_pb2.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> bridge_pb2.GetUsageResponse:
        raise Unimplemented("the benchmark's Bridge counts no usage")


async def create_streaming(config: MeshConfig, port: int = 0) -> MeshServer:
    async def build(ctx: Assembly[NoSettings]) -> Service:
        return Service(
            [bind(bridge_pb2.DESCRIPTOR.services_by_name["BridgeService"], StreamingBridge())]
        )

    return await ServiceSpec("bridge", build).create(config, port=port)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclasses.dataclass
class Run:
    name: str
    latencies_ms: list[float]
    cpu_s: float
    wall_s: float
    count: int

    @property
    def cpu_us_per(self) -> float:
        return self.cpu_s / self.count * 1e6


async def unary_run(name: str, stub: billing_pb2_grpc.BillingServiceStub, calls: int) -> Run:
    request = billing_pb2.GetTierCatalogRequest()
    for _ in range(min(200, calls)):  # warm-up: channels, caches, code paths
        await stub.GetTierCatalog(request)
    latencies = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(calls):
        started = time.perf_counter()
        await stub.GetTierCatalog(request)
        latencies.append((time.perf_counter() - started) * 1000)
    return Run(name, latencies, time.process_time() - cpu0, time.perf_counter() - wall0, calls)


async def stream_run(
    name: str, stub: bridge_pb2_grpc.BridgeServiceStub, messages: int, rate: int = 0
) -> Run:
    request = bridge_pb2.SubscribeRequest(resume_from=messages)
    # Warm-up stream.
    async for _ in stub.Subscribe(bridge_pb2.SubscribeRequest(resume_from=100)):
        pass
    latencies = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    call = stub.Subscribe(request, metadata=(("x-bench-rate", str(rate)),))
    received = 0
    while True:
        message = await call.read()
        if message is grpc.aio.EOF:
            break
        received += 1
        latencies.append((time.perf_counter_ns() - message.skipped) / 1e6)
    assert received == messages, (received, messages)
    return Run(name, latencies, time.process_time() - cpu0, time.perf_counter() - wall0, messages)


def report(direct: Run, routed: Run, unit: str) -> list[str]:
    lines = []
    for run in (direct, routed):
        lines.append(
            f"  {run.name:<9} p50 {statistics.median(run.latencies_ms):7.3f} ms"
            f"  p99 {pct(run.latencies_ms, 0.99):7.3f} ms"
            f"  {run.count / run.wall_s:9,.0f} {unit}/s  CPU {run.cpu_us_per:7.1f} us/{unit}"
        )
    p50 = (statistics.median(direct.latencies_ms), statistics.median(routed.latencies_ms))
    p99 = (pct(direct.latencies_ms, 0.99), pct(routed.latencies_ms, 0.99))
    cpu = (direct.cpu_us_per, routed.cpu_us_per)
    lines.append(
        f"  router adds: p50 +{p50[1] - p50[0]:.3f} ms ({p50[1] / p50[0]:.2f}x),"
        f" p99 +{p99[1] - p99[0]:.3f} ms ({p99[1] / p99[0]:.2f}x),"
        f" CPU +{cpu[1] - cpu[0]:.1f} us/{unit} ({cpu[1] / cpu[0]:.2f}x)"
    )
    return lines


async def wait_serving(hub: Hub, *instance_ids: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        states = [hub.registry.get(i) for i in instance_ids]
        if all(s is not None and s.health is Health.SERVING for s in states):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("instances did not become SERVING at the Hub")
        await asyncio.sleep(0.05)


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--paced", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(
            env={
                "TICKMESH_DATA_DIR": tmp,
                "TICKMESH_MESH_SECRET": secrets.token_urlsafe(32),
                "TICKMESH_ADMIN_KEY": "op_" + secrets.token_urlsafe(24),
                "TICKMESH_LOG_LEVEL": "WARNING",
                # Plaintext on loopback, as the figures in RESULTS.md were measured.
                "TICKMESH_TLS_INSECURE": "true",
                "TICKMESH_GRACE_SECONDS": "0",
            }
        )
        hub_server = await HUB.create(config, port=0)
        hub = hub_server.handle
        assert isinstance(hub, Hub)
        await hub_server.start()
        registered = dataclasses.replace(config, hub_address=hub_server.address)
        billing = await BILLING.create(
            dataclasses.replace(registered, data_dir=Path(tmp) / "billing"), port=0
        )
        bridge = await create_streaming(dataclasses.replace(registered, data_dir=Path(tmp) / "b"))
        servers = [billing, bridge, hub_server]
        channels: list[grpc.aio.Channel] = []
        try:
            await billing.start()
            await bridge.start()
            await wait_serving(hub, billing.instance_id, bridge.instance_id)

            def channel(address: str) -> grpc.aio.Channel:
                assert config.admin_key
                made = grpc.aio.insecure_channel(
                    address, interceptors=api_key_interceptors(config.admin_key)
                )
                channels.append(made)
                return made

            lines = [f"router benchmark ({sys.platform}, one process, loopback)"]
            direct = await unary_run(
                "direct", billing_pb2_grpc.BillingServiceStub(channel(billing.address)), args.calls
            )
            routed = await unary_run(
                "via Hub",
                billing_pb2_grpc.BillingServiceStub(channel(hub_server.address)),
                args.calls,
            )
            lines.append(f"unary GetTierCatalog, {args.calls} sequential calls:")
            lines += report(direct, routed, "call")

            direct_stub = bridge_pb2_grpc.BridgeServiceStub(channel(bridge.address))
            hub_stub = bridge_pb2_grpc.BridgeServiceStub(channel(hub_server.address))
            direct = await stream_run("direct", direct_stub, args.messages)
            routed = await stream_run("via Hub", hub_stub, args.messages)
            lines.append(
                f"server stream, {args.messages} messages of {TICKS_PER_MESSAGE} ticks, unpaced"
                " (latency here is queueing):"
            )
            lines += report(direct, routed, "msg")

            direct = await stream_run("direct", direct_stub, args.paced, args.rate)
            routed = await stream_run("via Hub", hub_stub, args.paced, args.rate)
            lines.append(f"server stream, {args.paced} messages paced at {args.rate}/s:")
            lines += report(direct, routed, "msg")
            print("\n".join(lines))
        finally:
            for made in channels:
                await made.close()
            for server in servers:
                await server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
