"""Benchmark: what authentication + quota add to a call, and how fast tenants are provisioned.

Usage: .venv/bin/python bench/bench_tenancy.py [--calls 2000] [--tenants 1000]
                                               [--backend real|embedded]

Starts a real Storage server and a Billing server that authenticates through it (both
in this process, on loopback), then times one RPC (Billing.GetTierCatalog) three ways,
sequentially: anonymous (the baseline: no auth, no quota), with a warm key (cache hit
+ quota check) and with a cold key (never seen: resolved through Storage). Then it
creates N tenants, each with its own schema at head. Needs PostgreSQL and Redis for
the real backend (see README).
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
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.config import MeshConfig, load_config, load_settings
from servers.billing.app import SPEC as BILLING
from servers.storage.app import SPEC as STORAGE
from servers.storage.relational.engine import open_store
from servers.storage.relational.provision import destroy_store, provision_tenants
from servers.storage.settings import StorageSettings

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


def config_for(backend: str, data_dir: Path, tag: str) -> MeshConfig:
    env = {
        "TICKMESH_DATA_DIR": str(data_dir),
        "TICKMESH_MESH_SECRET": secrets.token_urlsafe(32),
        "TICKMESH_ADMIN_KEY": secrets.token_urlsafe(32),
        "TICKMESH_LOG_LEVEL": "WARNING",
        # Plaintext on loopback, as the figures in RESULTS.md were measured.
        "TICKMESH_TLS_INSECURE": "true",
    }
    if backend == "real":
        env |= {
            "TICKMESH_POSTGRES_URL": POSTGRES,
            "TICKMESH_POSTGRES_SCHEMA": f"tmbench_{tag}",
            "TICKMESH_REDIS_URL": REDIS,
            "TICKMESH_REDIS_PREFIX": f"tmbench:{tag}:",
        }
    return load_config(env=env)


async def timed(n: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    """Latencies in microseconds of n sequential calls."""
    out = []
    for i in range(n):
        start = time.perf_counter()
        await call(i)
        out.append((time.perf_counter() - start) * 1e6)
    return out


def summary(name: str, samples: list[float], baseline: list[float] | None) -> str:
    p50, p99 = statistics.median(samples), statistics.quantiles(samples, n=100)[98]
    line = f"{name:<28} p50 {p50:8.0f} us   p99 {p99:8.0f} us"
    if baseline is not None:
        b50, b99 = statistics.median(baseline), statistics.quantiles(baseline, n=100)[98]
        line += f"   added p50 {p50 - b50:6.0f} us  p99 {p99 - b99:6.0f} us  ({p50 / b50:.2f}x)"
    return line


async def bench_calls(config: MeshConfig, calls: int, cold_keys: int) -> list[str]:
    storage = await STORAGE.create(config, port=0)
    await storage.start()
    config = dataclasses.replace(config, storage_port=storage.port)
    billing = await BILLING.create(config, port=0)
    await billing.start()
    channels: list[grpc.aio.Channel] = []

    def channel(address: str, key: str | None) -> grpc.aio.Channel:
        ch = grpc.aio.insecure_channel(
            address, interceptors=api_key_interceptors(key) if key else []
        )
        channels.append(ch)
        return ch

    try:
        operator = storage_pb2_grpc.StorageServiceStub(channel(storage.address, config.admin_key))
        created = await operator.CreateCompany(
            storage_pb2.CreateCompanyRequest(
                name="Bench", tier=tenancy_pb2.TIER_ENTERPRISE,  # unlimited: no quota refusals
                owner_email="bench@example.com", owner_name="Bench",
            )
        )  # fmt: skip
        company, owner = created.company.company_id, created.owner.user_id
        keys = [
            (await operator.IssueApiKey(
                storage_pb2.IssueApiKeyRequest(company_id=company, user_id=owner)
            )).api_key
            for _ in range(cold_keys)
        ]  # fmt: skip
        request = billing_pb2.GetTierCatalogRequest()
        anonymous = billing_pb2_grpc.BillingServiceStub(channel(billing.address, None))
        warm = billing_pb2_grpc.BillingServiceStub(
            channel(billing.address, created.owner_key.api_key)
        )
        for _ in range(200):  # warm up channels, caches and the JIT-less interpreter
            await anonymous.GetTierCatalog(request)
            await warm.GetTierCatalog(request)
        base = await timed(calls, lambda i: anonymous.GetTierCatalog(request))
        hot = await timed(calls, lambda i: warm.GetTierCatalog(request))
        cold_stubs = [
            billing_pb2_grpc.BillingServiceStub(channel(billing.address, k)) for k in keys
        ]
        for ch in channels[-len(keys) :]:  # connect first, so only authentication is cold
            await ch.channel_ready()
        cold = await timed(len(keys), lambda i: cold_stubs[i].GetTierCatalog(request))
        return [
            summary("anonymous (baseline)", base, None),
            summary("warm key: auth + quota", hot, base),
            summary("cold key: via Storage", cold, base),
        ]
    finally:
        for ch in channels:
            await ch.close()
        await billing.stop()
        await storage.stop()


async def bench_tenants(backend: str, count: int, data_dir: Path, tag: str) -> str:
    url = POSTGRES if backend == "real" else None
    store = await open_store(url, data_dir / "tenants", shared_schema=f"tmbench_t_{tag}")
    try:
        start = time.perf_counter()
        await provision_tenants(store, count)
        elapsed = time.perf_counter() - start
    finally:
        await destroy_store(store)
    each_ms = elapsed / count * 1e3
    return f"{count} tenant schemas created and migrated: {elapsed:.1f} s ({each_ms:.1f} ms each)"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--cold-keys", type=int, default=300)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--backend", choices=["real", "embedded"], default="real")
    args = parser.parse_args()
    tag = secrets.token_hex(4)
    with tempfile.TemporaryDirectory() as tmp:
        config = config_for(args.backend, Path(tmp), tag)
        print(f"backend: {args.backend}; {args.calls} sequential calls per case")
        for line in await bench_calls(config, args.calls, args.cold_keys):
            print(line)
        if args.backend == "real":
            await _drop_bench_schema(config)
        print(await bench_tenants(args.backend, args.tenants, Path(tmp), tag))
    return 0


async def _drop_bench_schema(config: MeshConfig) -> None:
    stores = load_settings(StorageSettings, config, "storage")
    store = await open_store(
        stores.postgres_url,
        config.data_dir,
        shared_schema=stores.postgres_schema,
        run_migrations=False,
    )
    await destroy_store(store)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
