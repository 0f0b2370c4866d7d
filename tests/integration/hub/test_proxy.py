"""The Hub's proxy: clients that know only the Hub's address call registered services through it."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import market_pb2
from tickmesh.hub.v1 import hub_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.tiers import Tier
from servers.hub.registry import Health, InstanceSpec

from .conftest import ENTERPRISE, FREE, PRO, WAIT, HubMesh, eventually
from .fakes import Seen, create_fake


def trailing(err: grpc.aio.AioRpcError) -> dict[str, str | bytes]:
    return dict(err.trailing_metadata() or ())


def error_reason(err: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(err)
    assert status is not None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    raise AssertionError("no ErrorInfo")


async def test_unary_call_through_the_hub_is_the_direct_call(hub_mesh: HubMesh) -> None:
    billing = await hub_mesh.start_instance()
    tenant = await hub_mesh.tenant(FREE)
    direct = billing_pb2_grpc.BillingServiceStub(hub_mesh.channel(billing.address, tenant.api_key))
    via_hub = hub_mesh.billing_via_hub(tenant.api_key)
    request = billing_pb2.GetTierCatalogRequest()

    call = direct.GetTierCatalog(request, timeout=WAIT)
    expected = await call
    remaining = int(dict(await call.trailing_metadata())["ratelimit-remaining"])
    for n in (1, 2):
        call = via_hub.GetTierCatalog(
            request, timeout=WAIT, metadata=(("x-request-id", f"req-{n}"),)
        )
        reply = await call
        assert reply.SerializeToString() == expected.SerializeToString()
        headers = dict(await call.trailing_metadata())
        assert headers["x-request-id"] == f"req-{n}"  # the same id end to end
        assert headers["ratelimit-limit"] == "1000"
        # Counted once, by Billing: the Hub's quota check skips routed calls.
        assert int(headers["ratelimit-remaining"]) == remaining - n

    # A public method needs no credential, through the Hub too.
    anonymous = await hub_mesh.billing_via_hub().GetTierCatalog(request, timeout=WAIT)
    assert anonymous == expected


async def test_error_status_details_and_trailers_pass_through(hub_mesh: HubMesh) -> None:
    seen = Seen()
    bridge = await hub_mesh.start_instance(
        functools.partial(create_fake, component="bridge", seen=seen)
    )
    tenant = await hub_mesh.tenant(PRO)
    errors = []
    for address in (bridge.address, hub_mesh.hub.address):
        stub = bridge_pb2_grpc.BridgeServiceStub(hub_mesh.channel(address, tenant.api_key))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetUsage(
                bridge_pb2.GetUsageRequest(), timeout=WAIT, metadata=(("x-request-id", "r-1"),)
            )
        errors.append(caught.value)
    direct, routed = errors
    assert routed.code() == direct.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert routed.details() == direct.details() == "fake usage quota used up"
    assert error_reason(routed) == "QUOTA_EXCEEDED"
    for err in errors:
        headers = trailing(err)
        assert headers["x-request-id"] == "r-1"
        assert headers["x-fake-hint"] == "retry in 3 s"
        assert headers["ratelimit-limit"] == "50000"  # the Bridge's own quota check
    assert (
        trailing(routed)["grpc-status-details-bin"] == trailing(direct)["grpc-status-details-bin"]
    )
    # Counted by the Bridge only: one call each, 2 in all.
    assert trailing(routed)["ratelimit-remaining"] == str(50_000 - 2)

    # A bad credential is refused by the Hub itself, as any server would.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await hub_mesh.billing_via_hub("tm_nokey_nosecret").GetTierCatalog(
            billing_pb2.GetTierCatalogRequest(), timeout=WAIT
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_server_stream_arrives_in_order_with_metadata(hub_mesh: HubMesh) -> None:
    seen = Seen()
    await hub_mesh.start_instance(functools.partial(create_fake, component="bridge", seen=seen))
    tenant = await hub_mesh.tenant(ENTERPRISE)
    stub = bridge_pb2_grpc.BridgeServiceStub(hub_mesh.channel(hub_mesh.hub.address, tenant.api_key))
    call = stub.Subscribe(
        bridge_pb2.SubscribeRequest(resume_from=500),
        timeout=WAIT,
        metadata=(("x-request-id", "stream-1"), ("x-custom", "kept")),
    )
    numbers = [message.skipped async for message in call]
    assert numbers == list(range(500))
    assert await call.code() == grpc.StatusCode.OK
    headers = dict(await call.trailing_metadata())
    assert headers["x-fake-trailer"] == "bridge"
    assert headers["x-request-id"] == "stream-1"

    [metadata] = seen.metadata
    assert metadata["x-custom"] == "kept"
    assert metadata["authorization"] == f"Bearer {tenant.api_key}"
    assert seen.companies == [tenant.company_id]  # the Bridge authenticated the tenant itself


async def test_client_stream_is_forwarded(hub_mesh: HubMesh) -> None:
    seen = Seen()
    await hub_mesh.start_instance(functools.partial(create_fake, component="ingestion", seen=seen))
    stub = ingestion_pb2_grpc.IngestionServiceStub(
        hub_mesh.channel(hub_mesh.hub.address, hub_mesh.operator_key)
    )

    async def requests() -> AsyncIterator[ingestion_pb2.PublishTicksRequest]:
        for _ in range(50):
            yield ingestion_pb2.PublishTicksRequest(quotes=[market_pb2.Quote(), market_pb2.Quote()])

    reply = await stub.PublishTicks(requests(), timeout=WAIT)
    assert (reply.accepted, seen.published) == (100, 50)


async def test_deadline_travels_to_the_instance(hub_mesh: HubMesh) -> None:
    seen = Seen()
    await hub_mesh.start_instance(functools.partial(create_fake, component="bridge", seen=seen))
    tenant = await hub_mesh.tenant(ENTERPRISE)
    stub = bridge_pb2_grpc.BridgeServiceStub(hub_mesh.channel(hub_mesh.hub.address, tenant.api_key))
    call = stub.Subscribe(bridge_pb2.SubscribeRequest(resume_from=0), timeout=2.0)
    assert (await asyncio.wait_for(call.read(), WAIT)).skipped == 0
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in call:
            pass
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    [remaining] = seen.time_remaining
    # What was left of the client's deadline (grpc-timeout rounds up a little on the wire).
    assert remaining is not None and 0 < remaining <= 2.1
    # The instance's handler ends too (its own deadline or the Hub's cancellation).
    await asyncio.wait_for(seen.cancelled.wait(), WAIT)


async def test_a_tiny_deadline_is_deadline_exceeded(hub_mesh: HubMesh) -> None:
    seen = Seen()
    await hub_mesh.start_instance(functools.partial(create_fake, component="bridge", seen=seen))
    stub = bridge_pb2_grpc.BridgeServiceStub(
        hub_mesh.channel(hub_mesh.hub.address, hub_mesh.operator_key)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetSessionStats(bridge_pb2.GetSessionStatsRequest(), timeout=0.2)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # On a busy machine the call may expire before it reaches the instance; when it did
    # reach it, the instance had only what was left and was cancelled with it.
    if seen.started.is_set():
        await asyncio.wait_for(seen.cancelled.wait(), WAIT)
        [remaining] = seen.time_remaining
        assert remaining is not None and remaining <= 0.3


async def test_cancelling_the_client_cancels_the_instance_call(hub_mesh: HubMesh) -> None:
    seen = Seen()
    await hub_mesh.start_instance(functools.partial(create_fake, component="bridge", seen=seen))
    stub = bridge_pb2_grpc.BridgeServiceStub(
        hub_mesh.channel(hub_mesh.hub.address, hub_mesh.operator_key)
    )
    call = stub.Subscribe(bridge_pb2.SubscribeRequest(resume_from=0))  # no deadline
    assert (await asyncio.wait_for(call.read(), WAIT)).skipped == 0
    call.cancel()
    await asyncio.wait_for(seen.cancelled.wait(), WAIT)


async def test_a_stream_whose_instance_dies_ends_unavailable(hub_mesh: HubMesh) -> None:
    seen = Seen()
    bridge = await hub_mesh.start_instance(
        functools.partial(create_fake, component="bridge", seen=seen)
    )
    stub = bridge_pb2_grpc.BridgeServiceStub(
        hub_mesh.channel(hub_mesh.hub.address, hub_mesh.operator_key)
    )
    call = stub.Subscribe(bridge_pb2.SubscribeRequest(resume_from=0), timeout=WAIT)
    assert (await asyncio.wait_for(call.read(), WAIT)).skipped == 0
    # Gone without a word: no deregistration, connections cut (as close to SIGKILL as one
    # process gets).
    assert bridge.registrar is not None
    await bridge.registrar.stop(deregister=False)
    await bridge.server.stop(None)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        while True:
            await asyncio.wait_for(call.read(), WAIT)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    await hub_mesh.wait_health(bridge.instance_id, hub_pb2.INSTANCE_HEALTH_UNREACHABLE)


async def test_routing_by_tier(hub_mesh: HubMesh) -> None:
    shared = await hub_mesh.start_instance(instance_cost_micros=100)
    dedicated = await hub_mesh.start_instance(
        instance_free_tier=False, instance_tiers=("enterprise",), instance_cost_micros=100
    )
    free, pro, enterprise = [await hub_mesh.tenant(t) for t in (FREE, PRO, ENTERPRISE)]

    async def resolved(key: str) -> str:
        reply = await hub_mesh.hub_stub(key).Resolve(hub_pb2.ResolveRequest(service="billing"))
        return reply.instance.spec.instance_id

    for _ in range(5):
        assert await resolved(free.api_key) == shared.instance_id  # never the no-free one
        assert await resolved(enterprise.api_key) == dedicated.instance_id  # the best
        assert await resolved(pro.api_key) == shared.instance_id  # shared fits pro better

    # Routed calls follow the same rules.
    for tenant in (free, enterprise):
        for _ in range(3):
            await hub_mesh.billing_via_hub(tenant.api_key).GetTierCatalog(
                billing_pb2.GetTierCatalogRequest(), timeout=WAIT
            )
    served = {
        server.instance_id: {c.company_id for c in server.metrics.snapshot().companies}
        for server in (shared, dedicated)
    }
    assert served[shared.instance_id] == {free.company_id}
    assert served[dedicated.instance_id] == {enterprise.company_id}

    # Without a free-tier instance a free tenant is refused, clearly.
    await shared.stop()
    for attempt in (
        hub_mesh.hub_stub(free.api_key).Resolve(hub_pb2.ResolveRequest(service="billing")),
        hub_mesh.billing_via_hub(free.api_key).GetTierCatalog(
            billing_pb2.GetTierCatalogRequest(), timeout=WAIT
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await attempt
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "free-tier" in (caught.value.details() or "")
        assert error_reason(caught.value) == "FREE_TIER_NOT_SERVED"
    assert await resolved(enterprise.api_key) == dedicated.instance_id


async def test_not_serving_leaves_rotation_and_comes_back(hub_mesh: HubMesh) -> None:
    first = await hub_mesh.start_instance(instance_tiers=("enterprise",))
    second = await hub_mesh.start_instance()
    enterprise = await hub_mesh.tenant(ENTERPRISE)
    stub = hub_mesh.hub_stub(enterprise.api_key)

    async def picks() -> str:
        reply = await stub.Resolve(hub_pb2.ResolveRequest(service="billing"), timeout=WAIT)
        return reply.instance.spec.instance_id

    assert await picks() == first.instance_id
    await first.health.set("", 2)  # NOT_SERVING, registered still

    async def moved() -> bool:
        return await picks() == second.instance_id

    await eventually(moved, "Resolve to stop picking the NOT_SERVING instance", within=2.0)
    await first.health.set("", 1)  # SERVING again

    async def back() -> bool:
        return await picks() == first.instance_id

    await eventually(back, "the instance to return to rotation")


async def test_unreachable_leaves_rotation_within_two_seconds(hub_mesh: HubMesh) -> None:
    first = await hub_mesh.start_instance(instance_tiers=("enterprise",))
    second = await hub_mesh.start_instance()
    assert first.registrar is not None
    await first.registrar.stop(deregister=False)
    await first.server.stop(None)
    parts = hub_mesh.parts

    def out_of_rotation() -> bool:
        instance = parts.registry.get(first.instance_id)
        return instance is not None and not parts.resolver.healthy(instance)

    await eventually(out_of_rotation, "the dead instance to leave rotation", within=2.0)
    choice = parts.resolver.resolve("billing", Tier.ENTERPRISE)
    assert choice.instance.instance_id == second.instance_id


async def test_a_failed_unary_call_is_retried_once_elsewhere_and_ejects(hub_mesh: HubMesh) -> None:
    """An instance that cannot be reached although the checks last said SERVING: each call is
    retried on the other instance, and consecutive failures eject the dead one."""
    parts = hub_mesh.parts
    await parts.health.stop()  # the checks would notice the dead instance at once
    live = await hub_mesh.start_instance(register=False)
    # The dead one is meant for enterprise, so an enterprise tenant is sent there first.
    dead = parts.registry.register(
        InstanceSpec(
            "billing-dead0001", "billing", "127.0.0.1:1", tiers=frozenset({Tier.ENTERPRISE})
        )
    )
    parts.registry.register(
        InstanceSpec("billing-live0001", "billing", live.address, free_tier_allowed=True)
    )
    for instance_id in ("billing-dead0001", "billing-live0001"):
        parts.registry.set_health(instance_id, Health.SERVING)
    enterprise = await hub_mesh.tenant(ENTERPRISE)
    stub = hub_mesh.billing_via_hub(enterprise.api_key)
    for _ in range(3):
        await stub.GetTierCatalog(billing_pb2.GetTierCatalogRequest(), timeout=WAIT)
    assert parts.outliers.is_ejected(dead.instance_id)
    listed = await hub_mesh.instance(dead.instance_id)
    assert listed is not None and listed.health == hub_pb2.INSTANCE_HEALTH_EJECTED
    # Ejected: the next calls go straight to the live instance.
    await stub.GetTierCatalog(billing_pb2.GetTierCatalogRequest(), timeout=WAIT)


async def test_a_stopping_hub_ends_routed_streams_unavailable(hub_mesh: HubMesh) -> None:
    seen = Seen()
    await hub_mesh.start_instance(functools.partial(create_fake, component="bridge", seen=seen))
    stub = bridge_pb2_grpc.BridgeServiceStub(
        hub_mesh.channel(hub_mesh.hub.address, hub_mesh.operator_key)
    )
    call = stub.Subscribe(bridge_pb2.SubscribeRequest(resume_from=0), timeout=3 * WAIT)
    assert (await asyncio.wait_for(call.read(), WAIT)).skipped == 0
    stopping = asyncio.create_task(hub_mesh.hub.stop())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        while True:
            await asyncio.wait_for(call.read(), WAIT)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "reconnect" in (caught.value.details() or "")
    await asyncio.wait_for(stopping, WAIT)
    await asyncio.wait_for(seen.cancelled.wait(), WAIT)  # the upstream call ended too
