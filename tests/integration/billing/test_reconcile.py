"""Reconcile: what a real Bridge counted as delivered against what Storage bills."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest
from tickmesh.billing.v1 import billing_pb2
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.cli import _cmd_reconcile, format_reconciliation
from mesh.config import MeshConfig
from mesh.tiers import Tier
from servers.bridge.usage_counter import UsageKey
from tests.integration.billing.conftest import (
    PRO,
    StorageMesh,
    billing_server,
    bridge_server,
    deliver,
    this_month,
)
from tests.waiting import eventually


async def _billed(mesh: StorageMesh, company: str) -> int:
    rows = await mesh.service_stub().QueryUsage(
        storage_pb2.QueryUsageRequest(
            company_id=company, billing_period=this_month(), group_by="endpoint"
        )
    )
    return sum(r.data_points for r in rows.rows if r.key == "bridge/ticks")


async def test_a_tenant_reconciles_the_bridge_count_with_billed_usage(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    async with bridge_server(storage_mesh) as (bridge, parts):
        # What a session's deliveries do: billed through the meter's tally, and counted.
        deliver(parts.usage, UsageKey(tenant.company_id, tenant.user_id, Tier.PRO), 500)

        async def stored() -> bool:
            return await _billed(storage_mesh, tenant.company_id) == 500

        await eventually(stored)
        async with billing_server(storage_mesh, bridges=[bridge.address]) as billing:
            as_tenant = billing.stub(tenant.api_key)
            reply = await as_tenant.Reconcile(billing_pb2.ReconcileRequest())
            assert reply.balanced and reply.billing_period == this_month()
            assert [(e.company_id, e.delivered, e.billed, e.difference) for e in reply.entries] == [
                (tenant.company_id, 500, 500, 0)
            ]
            # Usage billed that no Bridge delivered shows up as a positive difference.
            await storage_mesh.service_stub("bridge").RecordUsage(
                storage_pb2.RecordUsageRequest(
                    events=[_ticks(tenant.company_id, tenant.user_id, 7)]
                )
            )
            off = await as_tenant.Reconcile(billing_pb2.ReconcileRequest())
            assert not off.balanced and off.entries[0].difference == 7
            assert format_reconciliation(off)[-1] == "NOT balanced: 1 of 1 differ"


async def test_an_operator_reconciles_every_company_through_the_cli(
    storage_mesh: StorageMesh, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = await storage_mesh.tenant(PRO), await storage_mesh.tenant(PRO, name="Beta Capital")
    async with bridge_server(storage_mesh) as (bridge, parts):
        deliver(parts.usage, UsageKey(a.company_id, a.user_id, Tier.PRO), 300)
        deliver(parts.usage, UsageKey(b.company_id, b.user_id, Tier.PRO), 40)

        async def stored() -> bool:
            return (await _billed(storage_mesh, a.company_id), await _billed(
                storage_mesh, b.company_id)) == (300, 40)  # fmt: skip

        await eventually(stored)
        async with billing_server(storage_mesh, bridges=[bridge.address]) as billing:
            operator = billing.stub(storage_mesh.config.admin_key)
            reply = await operator.Reconcile(
                billing_pb2.ReconcileRequest(billing_period=this_month())
            )
            rows = {e.company_id: (e.delivered, e.billed) for e in reply.entries}
            assert rows[a.company_id] == (300, 300) and rows[b.company_id] == (40, 40)
            assert reply.balanced
            config = dataclasses.replace(storage_mesh.config, billing_address=billing.address)
            assert await _in_thread(config, this_month()) == 0
            assert capsys.readouterr().out.strip().endswith("balanced")


async def _in_thread(config: MeshConfig, period: str) -> int:
    # The command runs its own event loop (asyncio.run), so not on this one.
    return await asyncio.to_thread(_cmd_reconcile, config, argparse.Namespace(period=period))


def test_the_cli_prints_one_line_per_company_and_the_verdict() -> None:
    reply = billing_pb2.ReconcileResponse(
        billing_period="2025-11",
        entries=[
            billing_pb2.ReconcileEntry(company_id="aaa", delivered=10, billed=10, difference=0),
            billing_pb2.ReconcileEntry(
                company_id="bbb", delivered=1200, billed=1195, difference=-5
            ),
        ],
        balanced=False,
        bridges_counted=2,
    )
    assert format_reconciliation(reply) == [
        "aaa  delivered 10  billed 10  ok",
        "bbb  delivered 1,200  billed 1,195  difference -5",
        "bridges counted: 2",
        "NOT balanced: 1 of 2 differ",
    ]
    balanced = billing_pb2.ReconcileResponse(entries=[reply.entries[0]], balanced=True)
    assert format_reconciliation(balanced)[-1] == "balanced"


def _ticks(company: str, user: str, points: int) -> tenancy_pb2.UsageEvent:
    return tenancy_pb2.UsageEvent(
        idempotency_key=f"extra-{company}", company_id=company, user_id=user, tier=PRO,
        service="bridge", endpoint="ticks", data_points=points, processing_time_us=1,
        event_time_us=int(datetime.now(UTC).timestamp() * 1e6), billing_period=this_month(),
    )  # fmt: skip
