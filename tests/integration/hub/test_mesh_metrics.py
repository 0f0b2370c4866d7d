"""GetMeshMetrics: every server's BusinessMetricsService, aggregated by the Hub; the status view."""

from __future__ import annotations

import dataclasses
import functools

import grpc
import pytest
from tickmesh.billing.v1 import billing_pb2
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import metrics_pb2, metrics_pb2_grpc
from tickmesh.hub.v1 import hub_pb2

from mesh.cli import MeshMetricsUnavailable, mesh_summary
from mesh.tiers import Tier

from .conftest import ENTERPRISE, FREE, PRO, WAIT, HubMesh, eventually
from .fakes import Seen, create_fake


async def test_every_server_serves_its_business_metrics_to_services_only(
    hub_mesh: HubMesh,
) -> None:
    billing = await hub_mesh.start_instance()
    tenant = await hub_mesh.tenant(PRO)
    for _ in range(3):
        await hub_mesh.billing_via_hub(tenant.api_key).GetTierCatalog(
            billing_pb2.GetTierCatalogRequest(), timeout=WAIT
        )
    as_hub = metrics_pb2_grpc.BusinessMetricsServiceStub(
        hub_mesh.service_channel(billing.address, "hub")
    )
    reply = await as_hub.GetBusinessMetrics(metrics_pb2.GetBusinessMetricsRequest(), timeout=WAIT)
    assert (reply.service, reply.instance_id) == ("billing", billing.instance_id)
    [company] = reply.companies
    assert (company.company_id, company.requests) == (tenant.company_id, 3)
    assert 0 < company.quota_used_ratio < 0.01  # 3 of 50,000

    as_tenant = metrics_pb2_grpc.BusinessMetricsServiceStub(
        hub_mesh.channel(billing.address, tenant.api_key)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await as_tenant.GetBusinessMetrics(metrics_pb2.GetBusinessMetricsRequest(), timeout=WAIT)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_mesh_metrics_attribute_revenue_and_derive_insights(hub_mesh: HubMesh) -> None:
    seen = Seen()
    await hub_mesh.start_instance()  # billing
    await hub_mesh.start_instance(functools.partial(create_fake, component="bridge", seen=seen))
    free = [await hub_mesh.tenant(FREE) for _ in range(2)]
    enterprise = await hub_mesh.tenant(ENTERPRISE)
    failing = await hub_mesh.tenant(PRO)

    for tenant in free:
        for _ in range(6):
            await hub_mesh.billing_via_hub(tenant.api_key).GetTierCatalog(
                billing_pb2.GetTierCatalogRequest(), timeout=WAIT
            )
    failing_stub = bridge_pb2_grpc.BridgeServiceStub(
        hub_mesh.channel(hub_mesh.hub.address, failing.api_key)
    )
    for _ in range(2):  # always refused: errors for this customer
        with pytest.raises(grpc.aio.AioRpcError):
            await failing_stub.GetUsage(bridge_pb2.GetUsageRequest(), timeout=WAIT)
    # An enterprise subscriber holds a stream open on the Bridge while metrics are taken.
    stub = bridge_pb2_grpc.BridgeServiceStub(
        hub_mesh.channel(hub_mesh.hub.address, enterprise.api_key)
    )
    stream = stub.Subscribe(bridge_pb2.SubscribeRequest(resume_from=0), timeout=WAIT)
    await stream.read()

    metrics = await hub_mesh.hub_stub().GetMeshMetrics(
        hub_pb2.GetMeshMetricsRequest(), timeout=WAIT
    )
    stream.cancel()
    assert {(s.service, s.instances, s.healthy) for s in metrics.services} == {
        ("billing", 1, 1),
        ("bridge", 1, 1),
    }
    assert dict(metrics.revenue_by_tier) == {"free": 0, "pro": 9_900, "enterprise": 49_900}
    assert dict(metrics.revenue_by_service) == {"billing": 0, "bridge": 59_800}
    assert metrics.active_sessions_by_tier["enterprise"] == 1
    worst = metrics.customers[0]
    assert worst.company_id == failing.company_id and worst.score < 60
    kinds = {i.kind: i for i in metrics.insights}
    assert "bridge earns 100%" in kinds["top_revenue_service"].message
    assert "free_tier_pressure" in kinds
    assert failing.company_id in kinds["at_risk_customers"].message
    assert "unhealthy_services" not in kinds


async def test_an_instance_that_does_not_answer_is_an_unhealthy_service(
    hub_mesh: HubMesh,
) -> None:
    billing = await hub_mesh.start_instance()
    await billing.health.set("", 2)  # NOT_SERVING: out of rotation, not asked
    await hub_mesh.wait_health(billing.instance_id, hub_pb2.INSTANCE_HEALTH_NOT_SERVING)
    metrics = await hub_mesh.hub_stub().GetMeshMetrics(
        hub_pb2.GetMeshMetricsRequest(), timeout=WAIT
    )
    kinds = {i.kind: i for i in metrics.insights}
    assert "billing" in kinds["unhealthy_services"].message


async def test_status_prints_the_mesh_summary(hub_mesh: HubMesh) -> None:
    await hub_mesh.start_instance()
    tenant = await hub_mesh.tenant(ENTERPRISE)
    await hub_mesh.billing_via_hub(tenant.api_key).GetTierCatalog(
        billing_pb2.GetTierCatalogRequest(), timeout=WAIT
    )
    config = dataclasses.replace(hub_mesh.config, hub_address=hub_mesh.hub.address)
    lines = await mesh_summary(config)
    text = "\n".join(lines)
    assert "billing 1/1" in text
    assert "revenue this period: $499.00" in text
    assert "insight: billing earns 100%" in text

    # With the operator key only in <data dir>/operator.key, as `tickmesh up` leaves it.
    (config.data_dir / "operator.key").write_text(hub_mesh.operator_key)
    from_file = await mesh_summary(dataclasses.replace(config, admin_key=None))
    assert from_file[:2] == lines[:2]
    # No Hub, or no key: no summary, and an error saying why (status prints it).
    await hub_mesh.hub.stop()
    with pytest.raises(MeshMetricsUnavailable, match=r"^no hub answers at .*make up"):
        await mesh_summary(config, timeout_s=0.5)
    (config.data_dir / "operator.key").unlink()
    with pytest.raises(MeshMetricsUnavailable, match="no operator key"):
        await mesh_summary(dataclasses.replace(config, admin_key=None))


async def test_resolutions_are_attributed_to_the_tenant(hub_mesh: HubMesh) -> None:
    await hub_mesh.start_instance()
    tenant = await hub_mesh.tenant(PRO)
    for _ in range(2):
        await hub_mesh.hub_stub(tenant.api_key).Resolve(hub_pb2.ResolveRequest(service="billing"))
    counts = hub_mesh.parts.resolver.attribution.counts
    assert counts[(tenant.company_id, Tier.PRO, "billing")] == 2

    async def reported() -> bool:
        snapshot = hub_mesh.hub.metrics.snapshot()
        return snapshot.gauges.get("resolutions.billing.pro") == 2.0

    await eventually(reported, "the Hub's metrics to report the resolutions")
