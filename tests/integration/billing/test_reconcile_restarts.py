"""Usage figures across outages and restarts: GetUsage's recorded count follows Storage's
acknowledgements, delivered counts survive a Bridge restart, and Reconcile stays balanced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
from tickmesh.billing.v1 import billing_pb2
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.client_interceptors import api_key_interceptors
from mesh.server import MeshServer
from mesh.tiers import Tier
from servers.bridge.usage_counter import UsageKey
from servers.hub.app import SPEC as HUB
from tests.integration.billing.conftest import (
    PRO,
    StorageMesh,
    Tenant,
    billing_server,
    bridge_server,
    deliver,
    restart_storage,
    start_storage,
    this_month,
)
from tests.waiting import eventually

CATCH_UP_S = 5.0
"""A Storage that is back gets the backlog within this (the old resend timer reached 30 s)."""


class Figures:
    """Bridge.GetUsage for one company, asked as the operator (no Storage round trip)."""

    def __init__(self, mesh: StorageMesh, address: str, company_id: str) -> None:
        assert mesh.config.admin_key
        self._channel = grpc.aio.insecure_channel(
            address, interceptors=api_key_interceptors(mesh.config.admin_key)
        )
        self._stub = bridge_pb2_grpc.BridgeServiceStub(self._channel)
        self._company_id = company_id

    async def __call__(self) -> tuple[int, int]:
        """(ticks delivered, ticks recorded) on that Bridge this month."""
        reply = await self._stub.GetUsage(
            bridge_pb2.GetUsageRequest(company_id=self._company_id), timeout=5
        )
        return reply.ticks_delivered, reply.ticks_recorded

    async def close(self) -> None:
        await self._channel.close()


async def _billed(mesh: StorageMesh, company: str) -> int:
    rows = await mesh.service_stub().QueryUsage(
        storage_pb2.QueryUsageRequest(
            company_id=company, billing_period=this_month(), group_by="endpoint"
        )
    )
    return sum(r.data_points for r in rows.rows if r.key == "bridge/ticks")


async def _reconcile(mesh: StorageMesh, tenant: Tenant, **billing: object) -> tuple[int, ...]:
    """(delivered, billed, bridges counted) as the tenant reconciles through a fresh Billing."""
    async with billing_server(mesh, **billing) as server:  # type: ignore[arg-type]
        reply = await server.stub(tenant.api_key).Reconcile(billing_pb2.ReconcileRequest())
    (entry,) = reply.entries
    assert reply.balanced == (entry.difference == 0)
    return entry.delivered, entry.billed, reply.bridges_counted


async def _settled(figures: Figures, ticks: int) -> None:
    """Wait until the Bridge reports `ticks` delivered, all of them acknowledged."""

    async def done() -> bool:
        return await figures() == (ticks, ticks)

    await eventually(done, f"{ticks} ticks delivered and recorded")


@pytest.mark.parametrize("storage_mesh", ["embedded"], indirect=True)
async def test_recorded_lags_while_storage_is_down_and_catches_up_when_it_is_back(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    key = UsageKey(tenant.company_id, tenant.user_id, Tier.PRO)
    async with bridge_server(storage_mesh) as (bridge, parts):
        figures = Figures(storage_mesh, bridge.address, tenant.company_id)
        deliver(parts.usage, key, 100)
        await _settled(figures, 100)

        port = storage_mesh.storage.port
        await storage_mesh.storage.stop()
        deliver(parts.usage, key, 250)
        # Long enough down that the backoff has grown: several sends failed.
        await eventually(lambda: parts.meter.stats.send_failures >= 4, "sends to fail")
        assert await figures() == (350, 100)  # delivered, but Storage holds only 100

        storage_mesh.storage = await start_storage(storage_mesh.config, port)

        async def caught_up() -> bool:
            return await figures() == (350, 350)

        await eventually(caught_up, "the backlog acknowledged", within=CATCH_UP_S)
        assert await _billed(storage_mesh, tenant.company_id) == 350
        await figures.close()


async def test_reconcile_is_balanced_after_the_bridge_restarts(
    storage_mesh: StorageMesh, tmp_path: Path
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    key = UsageKey(tenant.company_id, tenant.user_id, Tier.PRO)
    data_dir = tmp_path / "bridge-a"
    async with bridge_server(storage_mesh, data_dir=data_dir) as (bridge, parts):
        figures = Figures(storage_mesh, bridge.address, tenant.company_id)
        deliver(parts.usage, key, 500)
        await _settled(figures, 500)
        await figures.close()
    async with bridge_server(storage_mesh, data_dir=data_dir) as (bridge, parts):
        figures = Figures(storage_mesh, bridge.address, tenant.company_id)
        # Before it delivers anything, the restarted Bridge reports what it delivered before.
        assert await figures() == (500, 500)
        deliver(parts.usage, key, 20)
        await _settled(figures, 520)
        await figures.close()
        assert await _reconcile(storage_mesh, tenant, bridges=[bridge.address]) == (520, 520, 1)


@pytest.mark.parametrize("storage_mesh", ["embedded"], indirect=True)
async def test_reconcile_is_balanced_after_every_server_restarts(
    storage_mesh: StorageMesh, tmp_path: Path
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    key = UsageKey(tenant.company_id, tenant.user_id, Tier.PRO)
    data_dir = tmp_path / "bridge-a"
    async with bridge_server(storage_mesh, data_dir=data_dir) as (bridge, parts):
        figures = Figures(storage_mesh, bridge.address, tenant.company_id)
        deliver(parts.usage, key, 300)
        await _settled(figures, 300)
        await figures.close()
        assert await _reconcile(storage_mesh, tenant, bridges=[bridge.address]) == (300, 300, 1)
    await restart_storage(storage_mesh)
    async with bridge_server(storage_mesh, data_dir=data_dir) as (bridge, parts):
        figures = Figures(storage_mesh, bridge.address, tenant.company_id)
        assert await figures() == (300, 300)
        deliver(parts.usage, key, 45)
        await _settled(figures, 345)
        await figures.close()
        assert await _reconcile(storage_mesh, tenant, bridges=[bridge.address]) == (345, 345, 1)


@asynccontextmanager
async def _hub(mesh: StorageMesh) -> AsyncIterator[MeshServer]:
    hub = await HUB.create(mesh.config, port=0)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


async def _settle(mesh: StorageMesh, address: str, company_id: str, ticks: int) -> None:
    figures = Figures(mesh, address, company_id)
    await _settled(figures, ticks)
    await figures.close()


@pytest.mark.parametrize("storage_mesh", ["embedded"], indirect=True)
async def test_reconcile_sums_every_bridge_the_hub_knows_one_restarted_mid_period(
    storage_mesh: StorageMesh, tmp_path: Path
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    key = UsageKey(tenant.company_id, tenant.user_id, Tier.PRO)
    company = tenant.company_id
    async with _hub(storage_mesh) as hub:
        on_hub = {"hub_address": hub.address}
        async with bridge_server(storage_mesh, data_dir=tmp_path / "b", **on_hub) as (b, b_parts):
            async with bridge_server(storage_mesh, data_dir=tmp_path / "a", **on_hub) as (a, parts):
                deliver(parts.usage, key, 200)
                deliver(b_parts.usage, key, 70)
                await _settle(storage_mesh, a.address, company, 200)
                await _settle(storage_mesh, b.address, company, 70)
            # Bridge a stops (deregistering) and comes back on its data, elsewhere.
            async with bridge_server(storage_mesh, data_dir=tmp_path / "a", **on_hub) as (a, parts):
                deliver(parts.usage, key, 30)
                deliver(b_parts.usage, key, 5)
                await _settle(storage_mesh, a.address, company, 230)
                await _settle(storage_mesh, b.address, company, 75)

                async def both_counted() -> bool:
                    return await _reconcile(storage_mesh, tenant, **on_hub) == (305, 305, 2)

                # Until the restarted Bridge has registered, the Hub lists b alone.
                await eventually(both_counted, "reconcile over both Bridges")
                assert await _billed(storage_mesh, company) == 305


@pytest.mark.parametrize("storage_mesh", ["embedded"], indirect=True)
async def test_a_listed_bridge_that_does_not_answer_makes_reconcile_unavailable(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    async with (
        _hub(storage_mesh) as hub,
        billing_server(storage_mesh, hub_address=hub.address) as billing,
    ):
        as_tenant = billing.stub(tenant.api_key)
        with pytest.raises(grpc.aio.AioRpcError) as none_listed:
            await as_tenant.Reconcile(billing_pb2.ReconcileRequest())
        assert none_listed.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "lists no Bridge" in (none_listed.value.details() or "")

        assert storage_mesh.config.admin_key
        gone = "127.0.0.1:1"  # nothing listens there
        spec = hub_pb2.InstanceSpec(instance_id="bridge-gone", service="bridge", address=gone)
        async with grpc.aio.insecure_channel(
            hub.address, interceptors=api_key_interceptors(storage_mesh.config.admin_key)
        ) as channel:
            operator = hub_pb2_grpc.HubServiceStub(channel)
            await operator.Register(hub_pb2.RegisterRequest(spec=spec, ttl_seconds=60))
        with pytest.raises(grpc.aio.AioRpcError) as silent:
            await as_tenant.Reconcile(billing_pb2.ReconcileRequest())
        assert silent.value.code() == grpc.StatusCode.UNAVAILABLE
        assert gone in (silent.value.details() or "")
