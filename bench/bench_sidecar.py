"""Benchmark: what `tickmesh sidecar` adds to a call and a stream, against a direct connection.

Usage: .venv/bin/python bench/bench_sidecar.py [--calls 2000] [--messages 20000]
                                               [--paced 2000] [--rate 500]

This process runs a Hub, a Billing server and a streaming server (the Bridge-shaped
stand-in of bench_router.py: Subscribe sends N messages of 20 ticks, each stamped with
its send time), on loopback. The sidecar runs as its own process (`tickmesh sidecar`,
presenting the operator key), so its CPU is measured alone (psutil, user + system).
Each measured directly (the client presents the key) and through the sidecar (the
client presents nothing):

- unary: sequential Billing.GetTierCatalog calls: latency p50/p99;
- stream, paced: --paced messages at --rate/s: delivery latency p50/p99 (never backed
  up, so this is the forwarding latency) and the sidecar's CPU per message;
- stream, unpaced: --messages messages as fast as they go: messages/s and the sidecar's
  CPU per message.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tickmesh.billing.v1 import billing_pb2_grpc
from tickmesh.bridge.v1 import bridge_pb2_grpc
from tickmesh.common.v1 import metrics_pb2, metrics_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_router import (
    TICKS_PER_MESSAGE,
    Run,
    create_streaming,
    pct,
    stream_run,
    unary_run,
    wait_serving,
)
from mesh.client_interceptors import api_key_interceptors
from mesh.config import load_config
from servers.billing.app import SPEC as BILLING
from servers.hub.app import SPEC as HUB
from servers.hub.hub import Hub
from tests.e2e.conftest import free_ports


@dataclasses.dataclass
class Measured:
    run: Run
    sidecar_cpu_s: float = 0.0


def line(direct: Run, via: Measured, unit: str) -> list[str]:
    d50, v50 = pct(direct.latencies_ms, 0.5), pct(via.run.latencies_ms, 0.5)
    d99, v99 = pct(direct.latencies_ms, 0.99), pct(via.run.latencies_ms, 0.99)
    out = []
    for name, run in (("direct", direct), ("sidecar", via.run)):
        out.append(
            f"  {name:<8} p50 {pct(run.latencies_ms, 0.5):7.3f} ms  p99 "
            f"{pct(run.latencies_ms, 0.99):7.3f} ms  {run.count / run.wall_s:9,.0f} {unit}/s"
        )
    out.append(
        f"  sidecar adds: p50 +{v50 - d50:.3f} ms, p99 +{v99 - d99:.3f} ms; sidecar process "
        f"CPU {via.sidecar_cpu_s / via.run.count * 1e6:.1f} us/{unit}"
    )
    return out


async def measured(process: psutil.Process, run: object) -> Measured:
    before = process.cpu_times()
    result = await run  # type: ignore[misc]
    after = process.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return Measured(result, cpu)


def start_sidecar(address: str, key_file: Path, hub: str) -> subprocess.Popen[bytes]:
    """`tickmesh sidecar` as its own process, so its CPU is its own."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "tickmesh"), "sidecar", "--listen", address,
         "--key-file", str(key_file), "--hub", hub],
        env={**os.environ, "TICKMESH_LOG_LEVEL": "WARNING", "TICKMESH_TLS_INSECURE": "true"},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


async def wait_sidecar(address: str) -> None:
    deadline = time.monotonic() + 30
    async with grpc.aio.insecure_channel(address) as channel:
        while True:
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the sidecar never became SERVING")
            await asyncio.sleep(0.1)


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--paced", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        admin_key = "op_" + secrets.token_urlsafe(24)
        config = load_config(
            env={
                "TICKMESH_DATA_DIR": tmp,
                "TICKMESH_MESH_SECRET": secrets.token_urlsafe(32),
                "TICKMESH_ADMIN_KEY": admin_key,
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
        key_file = Path(tmp) / "api.key"
        key_file.write_text(admin_key)
        key_file.chmod(0o600)
        sidecar_address = f"127.0.0.1:{free_ports(1)[0]}"
        sidecar = start_sidecar(sidecar_address, key_file, hub_server.address)
        servers = [billing, bridge, hub_server]
        channels: list[grpc.aio.Channel] = []
        try:
            await billing.start()
            await bridge.start()
            await wait_serving(hub, billing.instance_id, bridge.instance_id)
            await wait_sidecar(sidecar_address)
            process = psutil.Process(sidecar.pid)

            def channel(address: str, key: str | None) -> grpc.aio.Channel:
                interceptors = api_key_interceptors(key) if key else None
                made = grpc.aio.insecure_channel(address, interceptors=interceptors)
                channels.append(made)
                return made

            direct_ch, via_ch = channel(bridge.address, admin_key), channel(sidecar_address, None)
            lines = [
                f"sidecar benchmark ({platform.node()}, {os.cpu_count()} cores, "
                f"{platform.python_version()}, loopback; sidecar in its own process)"
            ]
            billing_direct = billing_pb2_grpc.BillingServiceStub(
                channel(billing.address, admin_key)
            )
            direct = await unary_run("direct", billing_direct, args.calls)
            via = await measured(
                process,
                unary_run("sidecar", billing_pb2_grpc.BillingServiceStub(via_ch), args.calls),
            )
            lines.append(f"unary GetTierCatalog, {args.calls} sequential calls:")
            lines += line(direct, via, "call")

            direct_stub = bridge_pb2_grpc.BridgeServiceStub(direct_ch)
            via_stub = bridge_pb2_grpc.BridgeServiceStub(via_ch)
            direct = await stream_run("direct", direct_stub, args.paced, args.rate)
            via = await measured(process, stream_run("sidecar", via_stub, args.paced, args.rate))
            lines.append(
                f"server stream, {args.paced} messages of {TICKS_PER_MESSAGE} ticks paced at"
                f" {args.rate}/s:"
            )
            lines += line(direct, via, "msg")

            direct = await stream_run("direct", direct_stub, args.messages)
            via = await measured(process, stream_run("sidecar", via_stub, args.messages))
            lines.append(
                f"server stream, {args.messages} messages, unpaced (latency here is queueing):"
            )
            lines += line(direct, via, "msg")

            own = await metrics_pb2_grpc.BusinessMetricsServiceStub(via_ch).GetBusinessMetrics(
                metrics_pb2.GetBusinessMetricsRequest()
            )
            gauges = dict(own.gauges)
            lines.append(
                "the sidecar's own metrics: "
                f"{gauges['sidecar.calls_forwarded']:.0f} calls, "
                f"{gauges['sidecar.messages_relayed']:.0f} messages, time in the sidecar per call"
                f" p50 {gauges['sidecar.added_ms.p50']:.3f} ms p99"
                f" {gauges['sidecar.added_ms.p99']:.3f} ms"
            )
            print("\n".join(lines))
        finally:
            sidecar.terminate()
            sidecar.wait(timeout=30)
            for made in channels:
                await made.close()
            for server in servers:
                await server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
