"""Real Storage + Billing pairs on both backends (the storage_service fixture), plus a Billing
on a controllable clock and a Bridge, both pointed at the same Storage."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import grpc
from tickmesh.billing.v1 import billing_pb2_grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.client_interceptors import api_key_interceptors
from mesh.config import MeshConfig
from mesh.server import MeshServer
from servers.billing.app import billing_spec
from servers.billing.clock import Clock
from servers.bridge.app import SPEC as BRIDGE
from servers.bridge.parts import BridgeParts
from servers.bridge.usage_counter import UsageCounter, UsageKey
from servers.storage.app import SPEC as STORAGE
from tests.integration.bridge.fake_ingestion import start_fake_ingestion
from tests.integration.storage_service.conftest import (  # noqa: F401 - the fixture, reused
    ENTERPRISE,
    FREE,
    PRO,
    StorageMesh,
    Tenant,
    storage_mesh,
)

__all__ = ["ENTERPRISE", "FREE", "PRO", "StorageMesh", "Tenant"]

WAIT = 10.0


def half_up(value: Fraction) -> int:
    """Round to a whole cent, ties away from zero, as an accountant does by hand."""
    sign = -1 if value < 0 else 1
    return sign * int(abs(value) + Fraction(1, 2))


def this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


async def restart_storage(mesh: StorageMesh) -> None:
    """Stop the mesh's Storage and start it again on the same port and data."""
    port = mesh.storage.port
    await mesh.storage.stop()
    mesh.storage = await start_storage(mesh.config, port)


async def start_storage(config: MeshConfig, port: int) -> MeshServer:
    """A Storage on `port` (the mesh's, after a stop) over `config`'s data."""
    server = await STORAGE.create(config, port=port)
    await asyncio.wait_for(server.start(), WAIT)
    return server


async def created_at(mesh: StorageMesh, tenant: Tenant) -> datetime:
    """When Storage created the tenant's company (its subscription starts then)."""
    reply = await mesh.operator.GetCompany(
        storage_pb2.GetCompanyRequest(company_id=tenant.company_id)
    )
    return reply.company.created_at.ToDatetime(tzinfo=UTC)


class BillingClients:
    """Stubs to one Billing server, by credential."""

    def __init__(self, server: MeshServer, mesh: StorageMesh) -> None:
        self._server = server
        self.address = server.address
        self._mesh = mesh
        self._channels: list[grpc.aio.Channel] = []

    def stub(self, key: str | None = None) -> billing_pb2_grpc.BillingServiceStub:
        interceptors = api_key_interceptors(key) if key else []
        channel = grpc.aio.insecure_channel(self._server.address, interceptors=interceptors)
        self._channels.append(channel)
        return billing_pb2_grpc.BillingServiceStub(channel)

    @property
    def operator(self) -> billing_pb2_grpc.BillingServiceStub:
        assert self._mesh.config.admin_key
        return self.stub(self._mesh.config.admin_key)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


@asynccontextmanager
async def billing_server(
    mesh: StorageMesh,
    *,
    clock: Clock | None = None,
    bridges: list[str] | None = None,
    **settings: Any,
) -> AsyncIterator[BillingClients]:
    """A second Billing on the mesh's Storage, with its own clock and Bridge list (None:
    the Hub's, with `hub_address` among `settings`, which override config fields)."""
    # Its own data dir: each process owns its usage spool.
    config = dataclasses.replace(
        mesh.config, data_dir=mesh.config.data_dir / uuid.uuid4().hex, **settings
    )
    server = await billing_spec(clock, bridges).create(config, port=0)
    await server.start()
    clients = BillingClients(server, mesh)
    try:
        yield clients
    finally:
        await clients.close()
        await server.stop()


@asynccontextmanager
async def bridge_server(
    mesh: StorageMesh, *, data_dir: Path | None = None, **settings: Any
) -> AsyncIterator[tuple[MeshServer, BridgeParts]]:
    """A real Bridge (fed by a fake Ingestion) that meters into the mesh's Storage; a
    Bridge started again on the `data_dir` of an earlier one is that Bridge restarted.
    `settings` override config fields (hub_address)."""
    upstream, _, port = await start_fake_ingestion(("EURUSD", "GBPUSD"))
    config = dataclasses.replace(
        mesh.config,
        data_dir=data_dir or mesh.config.data_dir / f"bridge-{uuid.uuid4().hex[:6]}",
        ingestion_address=f"127.0.0.1:{port}",
        metering_flush_seconds=0.05,
        redis_prefix=f"{mesh.config.redis_prefix}bridge-{uuid.uuid4().hex[:6]}:",
        **settings,
    )
    server = await BRIDGE.create(config, port=0)
    parts = server.handle
    assert isinstance(parts, BridgeParts)
    await asyncio.wait_for(server.start(), WAIT)
    try:
        yield server, parts
    finally:
        await server.stop()
        await upstream.stop(None)


def deliver(usage: UsageCounter, key: UsageKey, ticks: int) -> None:
    """What a session does for one delivered message: bill the ticks (the meter's tally)
    and count them for reporting."""
    usage.tick_counter(key)(ticks)
    usage.add(key, ticks=ticks, messages=1)
