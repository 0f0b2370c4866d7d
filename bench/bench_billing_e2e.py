"""Benchmark: usage ingestion end to end (gRPC RecordUsage into ClickHouse), and invoices
for 1,000 companies through Billing and Storage.

Usage: .venv/bin/python bench/bench_billing_e2e.py [--batches 30] [--batch 10000] [--companies 1000]

Starts Storage and Billing in this process on the embedded defaults (SQLite, chDB) on
loopback, sends RecordUsage batches signed as a service (as a Bridge's meter does),
then previews every company's invoice through Billing (each preview reads the
company's subscription history, usage and SLA from Storage).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors, metadata_interceptors
from mesh.config import load_config
from mesh.metering.vocabulary import TICK_ENDPOINT, TICK_SERVICE
from mesh.tenancy.authenticator import relayed_caller
from mesh.tenancy.signing import METADATA_KEY, ContextSigner
from servers.billing.app import SPEC as BILLING
from servers.storage.app import SPEC as STORAGE


def events(company: str, user: str, batch: int, size: int) -> list[tenancy_pb2.UsageEvent]:
    now_us = time.time_ns() // 1000
    period = datetime.now(UTC).strftime("%Y-%m")
    return [
        tenancy_pb2.UsageEvent(
            idempotency_key=f"bench:{batch}:{i}", company_id=company, user_id=user,
            tier=tenancy_pb2.TIER_PRO, service=TICK_SERVICE, endpoint=TICK_ENDPOINT,
            data_points=100, processing_time_us=50, event_time_us=now_us, billing_period=period,
        )
        for i in range(size)
    ]  # fmt: skip


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(env={
            "TICKMESH_DATA_DIR": str(Path(tmp)), "TICKMESH_LOG_LEVEL": "WARNING",
            # Plaintext on loopback, as the figures in RESULTS.md were measured.
            "TICKMESH_TLS_INSECURE": "true",
            "TICKMESH_MESH_SECRET": secrets.token_urlsafe(32),
            "TICKMESH_ADMIN_KEY": secrets.token_urlsafe(32),
        })  # fmt: skip
        storage = await STORAGE.create(config, port=0)
        await storage.start()
        config = dataclasses.replace(config, storage_port=storage.port)
        billing = await BILLING.create(config, port=0)
        await billing.start()
        assert config.mesh_secret and config.admin_key
        signed = ((METADATA_KEY, ContextSigner(config.mesh_secret.encode()).sign(
            relayed_caller("bridge", None))),)  # fmt: skip
        as_service = grpc.aio.insecure_channel(
            storage.address, interceptors=metadata_interceptors(lambda: signed),
            options=[("grpc.max_send_message_length", 64 << 20)],
        )  # fmt: skip
        operator = grpc.aio.insecure_channel(
            storage.address, interceptors=api_key_interceptors(config.admin_key)
        )
        billing_channel = grpc.aio.insecure_channel(
            billing.address, interceptors=api_key_interceptors(config.admin_key)
        )
        try:
            admin = storage_pb2_grpc.StorageServiceStub(operator)
            start = time.perf_counter()
            companies = []
            for i in range(args.companies):
                created = await admin.CreateCompany(storage_pb2.CreateCompanyRequest(
                    name=f"Bench {i}", tier=tenancy_pb2.TIER_PRO,
                    owner_email=f"o{i}@bench.example.com", owner_name="Owner",
                ))  # fmt: skip
                companies.append((created.company.company_id, created.owner.user_id))
            created_s = time.perf_counter() - start
            stub = storage_pb2_grpc.StorageServiceStub(as_service)
            requests = [
                storage_pb2.RecordUsageRequest(
                    events=events(*companies[b % len(companies)], b, args.batch)
                )
                for b in range(args.batches)
            ]
            start = time.perf_counter()
            for request in requests:
                reply = await stub.RecordUsage(request)
                assert reply.accepted == args.batch, reply
            ingest_s = time.perf_counter() - start
            total = args.batches * args.batch
            print(
                f"RecordUsage over gRPC into chDB: {total:,} events in {ingest_s:.2f} s = "
                f"{total / ingest_s:,.0f} events/s ({args.batch:,} per request, one caller)"
            )
            invoices = billing_pb2_grpc.BillingServiceStub(billing_channel)
            start = time.perf_counter()
            for company, _ in companies:
                reply = await invoices.PreviewInvoice(
                    billing_pb2.PreviewInvoiceRequest(company_id=company)
                )
                assert reply.invoice.total.minor_units > 0
            preview_s = time.perf_counter() - start
            print(
                f"{len(companies):,} companies created in {created_s:.1f} s; their invoices "
                f"previewed through Billing in {preview_s:.1f} s "
                f"({preview_s / len(companies) * 1e3:.1f} ms each, sequential)"
            )
        finally:
            for channel in (as_service, operator, billing_channel):
                await channel.close()
            await billing.stop()
            await storage.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
