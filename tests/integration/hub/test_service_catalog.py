"""The service catalog through a real Hub: every service, its tenant RPCs with their
scopes, each tier's inclusions from the tier catalog, and the registry's live view."""

from __future__ import annotations

from tickmesh.common.v1 import tenancy_pb2
from tickmesh.hub.v1 import hub_pb2

from .conftest import FREE, HubMesh


async def test_a_tenant_reads_the_catalog_with_live_instances(hub_mesh: HubMesh) -> None:
    await hub_mesh.start_instance(instance_tiers=("pro", "enterprise"))
    tenant = await hub_mesh.tenant(FREE)
    reply = await hub_mesh.hub_stub(tenant.api_key).GetServiceCatalog(
        hub_pb2.GetServiceCatalogRequest()
    )
    by_name = {s.name: s for s in reply.services}
    assert list(by_name) == ["hub", "ingestion", "bridge", "storage", "billing", "workflow"]

    billing = by_name["billing"]
    assert billing.healthy_instances >= 1
    assert set(billing.served_tiers) >= {tenancy_pb2.TIER_PRO, tenancy_pb2.TIER_ENTERPRISE}
    assert by_name["bridge"].healthy_instances == 0  # none registered in this mesh
    methods = {m.method: m.scope for m in by_name["bridge"].methods}
    assert methods["/tickmesh.bridge.v1.BridgeService/Subscribe"] == "market_data"

    free, _, enterprise = by_name["bridge"].tiers
    assert free.tier == tenancy_pb2.TIER_FREE and enterprise.tier == tenancy_pb2.TIER_ENTERPRISE
    assert "live prices of 5 symbols, at most every 1000 ms per symbol" in free.includes
    assert "live prices of every symbol, at most every 10 ms per symbol" in enterprise.includes
    storage_free = by_name["storage"].tiers[0].includes
    assert "1 user" in storage_free and "community support, no response promise" in storage_free
