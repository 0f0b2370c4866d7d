"""A tenant's calls crossing 80 % and 100 % of the daily quota become one event each for
its webhooks, reported by whichever service counted the crossing call (here Billing)."""

from __future__ import annotations

import time

import pytest
from tickmesh.billing.v1 import billing_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.tenancy.quota import QuotaStore
from tests.integration.storage_service.conftest import StorageMesh
from tests.support.backing import REDIS_URL
from tests.waiting import eventually


async def _events(mesh: StorageMesh, company_id: str) -> list[storage_pb2.Event]:
    listed = await mesh.operator.ListEvents(storage_pb2.ListEventsRequest(company_id=company_id))
    return [e for e in listed.events if e.type.startswith("quota.")]


# The counter is set through the shared Redis: the embedded variant has none to reach.
@pytest.mark.parametrize("storage_mesh", ["real"], indirect=True)
async def test_crossing_80_and_100_percent_emits_each_event_once(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant()  # free: 1,000 calls a day
    counters = await QuotaStore.connect(REDIS_URL, prefix=storage_mesh.config.redis_prefix)
    key = counters.calls_key(tenant.company_id, time.time())
    billing = storage_mesh.billing_stub(tenant.api_key)
    try:
        for used_before, kind in ((799, "quota.warning"), (999, "quota.exhausted")):
            await counters.redis.set(key, used_before, ex=3600)
            await billing.GetTierCatalog(billing_pb2.GetTierCatalogRequest())
            await eventually(
                lambda kind=kind: _has(storage_mesh, tenant.company_id, kind),
                f"a {kind} event", within=15,
            )  # fmt: skip
    finally:
        await counters.aclose()
    events = await _events(storage_mesh, tenant.company_id)
    assert [e.type for e in events] == ["quota.warning", "quota.exhausted"]
    assert '"used": 800' in events[0].data_json and '"limit": 1000' in events[0].data_json


async def _has(mesh: StorageMesh, company_id: str, kind: str) -> bool:
    return kind in {e.type for e in await _events(mesh, company_id)}
