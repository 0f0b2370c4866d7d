"""The sidecar against a real Hub and real instances: an app with no credentials reaches them."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import market_pb2, metrics_pb2, metrics_pb2_grpc
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.sidecar.server import ListenError, Sidecar, SidecarSettings
from mesh.tenancy.signing import METADATA_KEY
from tests.integration.hub.conftest import ENTERPRISE, FREE, PRO, WAIT, HubMesh
from tests.integration.hub.fakes import Seen, create_fake

from .conftest import StartSidecar


def app_channel(hub_mesh: HubMesh, sidecar: Sidecar) -> grpc.aio.Channel:
    """What an application opens: plaintext to the sidecar, no credentials."""
    return hub_mesh.channel(sidecar.address)


async def test_unary_call_is_the_direct_call_with_the_sidecars_key(
    hub_mesh: HubMesh, start_sidecar: StartSidecar
) -> None:
    billing = await hub_mesh.start_instance()
    tenant = await hub_mesh.tenant(FREE)
    sidecar = await start_sidecar(tenant.api_key)
    direct = billing_pb2_grpc.BillingServiceStub(hub_mesh.channel(billing.address, tenant.api_key))
    via = billing_pb2_grpc.BillingServiceStub(app_channel(hub_mesh, sidecar))
    request = billing_pb2.GetTierCatalogRequest()

    call = direct.GetTierCatalog(request, timeout=WAIT)
    expected = await call
    remaining = int(dict(await call.trailing_metadata())["ratelimit-remaining"])
    for n in (1, 2):
        call = via.GetTierCatalog(request, timeout=WAIT, metadata=(("x-request-id", f"r-{n}"),))
        assert (await call).SerializeToString() == expected.SerializeToString()
        headers = dict(await call.trailing_metadata())
        assert headers["x-request-id"] == f"r-{n}"
        # Counted against the sidecar's key: the tenant's free quota. The Hub's Resolve is
        # a call of the key too, made once: the second call reuses its answer.
        assert headers["ratelimit-limit"] == "1000"
        assert int(headers["ratelimit-remaining"]) == remaining - 1 - n


async def test_the_app_cannot_forge_credentials(
    hub_mesh: HubMesh, start_sidecar: StartSidecar
) -> None:
    seen = Seen()
    await hub_mesh.start_instance(functools.partial(create_fake, component="bridge", seen=seen))
    tenant = await hub_mesh.tenant(PRO)
    other = await hub_mesh.tenant(ENTERPRISE)
    sidecar = await start_sidecar(tenant.api_key)
    stub = bridge_pb2_grpc.BridgeServiceStub(app_channel(hub_mesh, sidecar))
    forged = (
        ("authorization", f"Bearer {other.api_key}"),
        (METADATA_KEY, b"forged"),
        ("x-custom", "kept"),
    )
    call = stub.Subscribe(bridge_pb2.SubscribeRequest(resume_from=3), timeout=WAIT, metadata=forged)
    assert [m.skipped async for m in call] == [0, 1, 2]
    [metadata] = seen.metadata
    assert metadata["authorization"] == f"Bearer {tenant.api_key}"
    assert METADATA_KEY not in metadata
    assert metadata["x-custom"] == "kept"
    assert seen.companies == [tenant.company_id]


async def test_server_stream_arrives_in_order_with_trailers(
    hub_mesh: HubMesh, start_sidecar: StartSidecar
) -> None:
    seen = Seen()
    await hub_mesh.start_instance(functools.partial(create_fake, component="bridge", seen=seen))
    tenant = await hub_mesh.tenant(ENTERPRISE)
    sidecar = await start_sidecar(tenant.api_key)
    stub = bridge_pb2_grpc.BridgeServiceStub(app_channel(hub_mesh, sidecar))
    call = stub.Subscribe(bridge_pb2.SubscribeRequest(resume_from=500), timeout=WAIT)
    assert [m.skipped async for m in call] == list(range(500))
    assert await call.code() == grpc.StatusCode.OK
    assert dict(await call.trailing_metadata())["x-fake-trailer"] == "bridge"


async def test_client_stream_is_forwarded(hub_mesh: HubMesh, start_sidecar: StartSidecar) -> None:
    seen = Seen()
    await hub_mesh.start_instance(functools.partial(create_fake, component="ingestion", seen=seen))
    sidecar = await start_sidecar(hub_mesh.operator_key)
    stub = ingestion_pb2_grpc.IngestionServiceStub(app_channel(hub_mesh, sidecar))

    async def requests() -> AsyncIterator[ingestion_pb2.PublishTicksRequest]:
        for _ in range(50):
            yield ingestion_pb2.PublishTicksRequest(quotes=[market_pb2.Quote(), market_pb2.Quote()])

    reply = await stub.PublishTicks(requests(), timeout=WAIT)
    assert (reply.accepted, seen.published) == (100, 50)


async def test_error_status_details_and_trailers_pass_through(
    hub_mesh: HubMesh, start_sidecar: StartSidecar
) -> None:
    seen = Seen()
    bridge = await hub_mesh.start_instance(
        functools.partial(create_fake, component="bridge", seen=seen)
    )
    tenant = await hub_mesh.tenant(PRO)
    sidecar = await start_sidecar(tenant.api_key)
    errors = []
    for channel in (
        hub_mesh.channel(bridge.address, tenant.api_key),
        app_channel(hub_mesh, sidecar),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await bridge_pb2_grpc.BridgeServiceStub(channel).GetUsage(
                bridge_pb2.GetUsageRequest(), timeout=WAIT
            )
        errors.append(caught.value)
    direct, via = errors
    assert via.code() == direct.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert via.details() == direct.details()
    direct_trailers, via_trailers = (dict(e.trailing_metadata() or ()) for e in errors)
    assert via_trailers["grpc-status-details-bin"] == direct_trailers["grpc-status-details-bin"]
    assert via_trailers["x-fake-hint"] == "retry in 3 s"

    # The deadline travels, and an expired one cancels the instance's call.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await bridge_pb2_grpc.BridgeServiceStub(app_channel(hub_mesh, sidecar)).GetSessionStats(
            bridge_pb2.GetSessionStatsRequest(), timeout=0.5
        )
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert 0 < (seen.time_remaining[-1] or 0) < 1  # the app's deadline, not a default
    await seen.cancelled.wait()

    # Its own metrics count the calls and their codes.
    reply = await metrics_pb2_grpc.BusinessMetricsServiceStub(
        app_channel(hub_mesh, sidecar)
    ).GetBusinessMetrics(metrics_pb2.GetBusinessMetricsRequest(), timeout=WAIT)
    assert reply.service == "sidecar"
    assert reply.gauges["sidecar.calls_forwarded"] == 2
    assert reply.gauges["sidecar.errors.RESOURCE_EXHAUSTED"] == 1
    assert reply.gauges["sidecar.errors.DEADLINE_EXCEEDED"] == 1


async def test_a_bad_key_is_refused_as_the_mesh_refuses_it(
    hub_mesh: HubMesh, start_sidecar: StartSidecar
) -> None:
    await hub_mesh.start_instance()
    sidecar = await start_sidecar("tm_nokey_nosecret")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await billing_pb2_grpc.BillingServiceStub(app_channel(hub_mesh, sidecar)).GetTierCatalog(
            billing_pb2.GetTierCatalogRequest(), timeout=WAIT
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_dead_instance_is_retried_on_another(
    hub_mesh: HubMesh, start_sidecar: StartSidecar
) -> None:
    first = await hub_mesh.start_instance()
    await hub_mesh.start_instance()
    tenant = await hub_mesh.tenant(ENTERPRISE)
    sidecar = await start_sidecar(tenant.api_key)
    stub = billing_pb2_grpc.BillingServiceStub(app_channel(hub_mesh, sidecar))
    await stub.GetTierCatalog(billing_pb2.GetTierCatalogRequest(), timeout=WAIT)
    # Killed without a goodbye: the Hub still lists it for a moment.
    await first.server.stop(None)
    for _ in range(10):
        await stub.GetTierCatalog(billing_pb2.GetTierCatalogRequest(), timeout=WAIT)


async def test_health_reflection_and_an_unreachable_hub(
    hub_mesh: HubMesh, start_sidecar: StartSidecar
) -> None:
    await hub_mesh.start_instance()
    tenant = await hub_mesh.tenant(PRO)
    sidecar = await start_sidecar(tenant.api_key)
    channel = app_channel(hub_mesh, sidecar)
    health = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(), timeout=WAIT
    )
    assert health.status == health_pb2.HealthCheckResponse.SERVING

    call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(timeout=WAIT)
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    listed = {s.name for s in (await call.read()).list_services_response.service}
    assert {
        "tickmesh.billing.v1.BillingService",
        "tickmesh.hub.v1.HubService",
        "grpc.health.v1.Health",
    } <= listed
    symbol = "tickmesh.billing.v1.BillingService"
    await call.write(reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol))
    described = (await call.read()).file_descriptor_response.file_descriptor_proto
    assert described  # the file, from the Billing instance
    await call.done_writing()

    nowhere = Sidecar(
        SidecarSettings(listen="127.0.0.1:0", hub_address="127.0.0.1:1", key=tenant.api_key)
    )
    await nowhere.start()
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await billing_pb2_grpc.BillingServiceStub(
                hub_mesh.channel(nowhere.address)
            ).GetTierCatalog(billing_pb2.GetTierCatalogRequest(), timeout=WAIT)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "127.0.0.1:1" in (caught.value.details() or "")
    finally:
        await nowhere.stop()


def test_only_loopback_unless_asked() -> None:
    settings = SidecarSettings(listen="0.0.0.0:0", hub_address="127.0.0.1:1", key="tm_x")
    with pytest.raises(ListenError, match="--allow-remote"):
        Sidecar(settings)
