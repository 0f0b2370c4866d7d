"""The Hub's registry over gRPC: self-registration, leases, watch events, bad input, callers."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc

from servers.billing.app import SPEC as BILLING
from servers.hub.app import SPEC as HUB
from servers.hub.hub import Hub

from .conftest import ENTERPRISE, FREE, WAIT, HubMesh, eventually

Event = hub_pb2.WatchInstancesResponse


def spec(instance_id: str = "billing-feedbeef", **fields: Any) -> hub_pb2.InstanceSpec:
    values: dict[str, Any] = {
        "instance_id": instance_id, "service": "billing", "address": "127.0.0.1:6001",
        "capacity": 10, "free_tier_allowed": True,
    }  # fmt: skip
    values.update(fields)
    return hub_pb2.InstanceSpec(**values)


def bad_request_fields(err: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(err)
    assert status is not None
    fields = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
    return fields


async def next_event(call: grpc.aio.UnaryStreamCall) -> Event:
    event = await asyncio.wait_for(call.read(), WAIT)
    assert isinstance(event, Event)
    return event


async def test_a_server_registers_itself_and_deregisters_on_stop(hub_mesh: HubMesh) -> None:
    billing = await hub_mesh.start_instance(
        instance_zone="eu-1", instance_capacity=7, instance_public_address="billing.example:443"
    )
    listed = await hub_mesh.instance(billing.instance_id)
    assert listed is not None
    assert billing.instance_id.startswith("billing-") and len(billing.instance_id) == 16
    assert (listed.spec.service, listed.spec.address) == ("billing", billing.address)
    assert (listed.spec.zone, listed.spec.capacity, listed.spec.free_tier_allowed) == (
        "eu-1", 7, True,
    )  # fmt: skip
    # Where clients outside the mesh reach it, beside where the mesh does.
    assert listed.spec.public_address == "billing.example:443"
    assert listed.lease_id == ""  # never shown
    assert listed.score > 0

    await billing.stop()
    # Deregistered before the server stopped: gone at once, not after the TTL.
    assert await hub_mesh.instance(billing.instance_id) is None


async def test_watch_sees_added_removed_on_lapse_and_added_on_restart(hub_mesh: HubMesh) -> None:
    watch = hub_mesh.hub_stub().WatchInstances(hub_pb2.WatchInstancesRequest(service="billing"))
    assert (await next_event(watch)).type == Event.EVENT_TYPE_SNAPSHOT_END

    first = await hub_mesh.start_instance()
    event = await next_event(watch)
    assert (event.type, event.instance.spec.instance_id) == (
        Event.EVENT_TYPE_ADDED, first.instance_id,
    )  # fmt: skip

    # The instance stops heartbeating as if it had died: its 2 s lease lapses.
    assert first.registrar is not None
    await first.registrar.stop(deregister=False)
    while (event := await next_event(watch)).type != Event.EVENT_TYPE_REMOVED:
        assert event.type == Event.EVENT_TYPE_UPDATED  # health changes may come first
    assert event.instance.spec.instance_id == first.instance_id
    await first.stop()

    restarted = await hub_mesh.start_instance()
    while (event := await next_event(watch)).type != Event.EVENT_TYPE_ADDED:
        pass
    assert event.instance.spec.instance_id == restarted.instance_id
    watch.cancel()


async def test_watch_starts_with_a_snapshot_of_existing_instances(hub_mesh: HubMesh) -> None:
    billing = await hub_mesh.start_instance()
    watch = hub_mesh.hub_stub().WatchInstances(hub_pb2.WatchInstancesRequest())
    existing = await next_event(watch)
    assert existing.type == Event.EVENT_TYPE_EXISTING
    assert existing.instance.spec.instance_id == billing.instance_id
    assert existing.instance.health == hub_pb2.INSTANCE_HEALTH_SERVING
    assert (await next_event(watch)).type == Event.EVENT_TYPE_SNAPSHOT_END
    watch.cancel()


async def test_watch_ends_promptly_when_the_hub_stops(hub_mesh: HubMesh) -> None:
    # A Hub with a long grace period: a watch left open would hold its stop that long.
    config = dataclasses.replace(
        hub_mesh.config, grace_seconds=3 * WAIT, data_dir=hub_mesh.config.data_dir / "hub-2"
    )
    hub = await HUB.create(config, port=0)
    await hub.start()
    watch = hub_pb2_grpc.HubServiceStub(
        hub_mesh.channel(hub.address, hub_mesh.operator_key)
    ).WatchInstances(hub_pb2.WatchInstancesRequest())
    assert (await next_event(watch)).type == Event.EVENT_TYPE_SNAPSHOT_END
    await asyncio.wait_for(hub.stop(), WAIT)  # well inside the grace period
    assert await asyncio.wait_for(watch.read(), WAIT) is grpc.aio.EOF
    assert await watch.code() == grpc.StatusCode.OK


async def test_a_restarted_hub_gets_the_instance_back(hub_mesh: HubMesh) -> None:
    """A lease the Hub no longer knows (NOT_FOUND on heartbeat) makes the instance register
    again by itself."""
    billing = await hub_mesh.start_instance()
    assert billing.registrar is not None and billing.registrar.lease_id
    hub_mesh.parts.registry.deregister(billing.registrar.lease_id)  # as if the Hub forgot it
    assert await hub_mesh.instance(billing.instance_id) is None
    await hub_mesh.wait_health(billing.instance_id, hub_pb2.INSTANCE_HEALTH_SERVING)


async def test_an_instance_keeps_retrying_while_the_hub_is_down(hub_mesh: HubMesh) -> None:
    """A server whose Hub is unreachable serves normally, and registers once the Hub is back."""
    hub_address, hub_port = hub_mesh.hub.address, hub_mesh.hub.port
    await hub_mesh.hub.stop()
    billing = await BILLING.create(
        dataclasses.replace(hub_mesh.config, hub_address=hub_address), port=0
    )
    await billing.start()
    hub_mesh.instances.append(billing)
    health = health_pb2_grpc.HealthStub(hub_mesh.channel(billing.address))
    reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=WAIT)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert billing.registrar is not None and billing.registrar.lease_id is None

    hub = await HUB.create(hub_mesh.config, port=hub_port)
    await hub.start()
    assert isinstance(hub.handle, Hub)
    hub_mesh.hub, hub_mesh.parts = hub, hub.handle
    await hub_mesh.wait_health(billing.instance_id, hub_pb2.INSTANCE_HEALTH_SERVING)


async def test_a_missed_heartbeat_is_info_until_the_lease_lapses(
    hub_mesh: HubMesh, caplog: pytest.LogCaptureFixture
) -> None:
    """The Hub gone (stopped first by `up`, or restarting): no warning while the lease runs,
    one once it has lapsed and the instance is out of the Hub's rotation."""
    caplog.set_level(logging.INFO, logger="mesh.registration")
    billing = await hub_mesh.start_instance(instance_ttl_seconds=2.0)  # heartbeats every 0.7 s
    await hub_mesh.hub.stop()

    def failures(level: int) -> list[logging.LogRecord]:
        return [r for r in caplog.records if "unreachable" in r.getMessage() and r.levelno == level]

    await eventually(lambda: bool(failures(logging.INFO)), "a missed heartbeat logged")
    assert not failures(logging.WARNING)
    await eventually(lambda: bool(failures(logging.WARNING)), "the lapsed lease warned")
    [warning] = failures(logging.WARNING)
    assert billing.instance_id in warning.getMessage()
    assert getattr(warning, "code", None) == "UNAVAILABLE"


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"address": "localhost"}, grpc.StatusCode.INVALID_ARGUMENT, "spec.address"),
        ({"address": "127.0.0.1:70000"}, grpc.StatusCode.INVALID_ARGUMENT, "spec.address"),
        ({"address": "127.0.0.1:0"}, grpc.StatusCode.INVALID_ARGUMENT, "spec.address"),
        ({"address": "bad host:1"}, grpc.StatusCode.INVALID_ARGUMENT, "spec.address"),
        (
            {"public_address": "free.example"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "spec.public_address",
        ),
        ({"service": "trading"}, grpc.StatusCode.INVALID_ARGUMENT, "spec.service"),
        ({"instance_id": ""}, grpc.StatusCode.INVALID_ARGUMENT, "spec.instance_id"),
        ({"tiers": [0]}, grpc.StatusCode.INVALID_ARGUMENT, "spec.tiers[0]"),
    ],
)
async def test_register_refuses_bad_input_naming_the_field(
    hub_mesh: HubMesh, fields: dict[str, Any], code: grpc.StatusCode, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await hub_mesh.hub_stub().Register(hub_pb2.RegisterRequest(spec=spec(**fields)))
    assert caught.value.code() == code
    assert field in (caught.value.details() or "")
    assert bad_request_fields(caught.value) == [field]


async def test_duplicate_id_unknown_lease_and_ttl_clamping(hub_mesh: HubMesh) -> None:
    stub = hub_mesh.hub_stub()
    granted = await stub.Register(hub_pb2.RegisterRequest(spec=spec(), ttl_seconds=3600))
    assert granted.ttl_seconds == 60  # clamped to the maximum
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Register(hub_pb2.RegisterRequest(spec=spec(address="127.0.0.1:6002")))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS

    for call in (
        stub.Heartbeat(hub_pb2.HeartbeatRequest(lease_id="no-such-lease")),
        stub.Deregister(hub_pb2.DeregisterRequest(lease_id="no-such-lease")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    await stub.Heartbeat(hub_pb2.HeartbeatRequest(lease_id=granted.lease_id, active_sessions=3))
    await stub.Deregister(hub_pb2.DeregisterRequest(lease_id=granted.lease_id))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Heartbeat(hub_pb2.HeartbeatRequest(lease_id=granted.lease_id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    short = await stub.Register(hub_pb2.RegisterRequest(spec=spec("b-2"), ttl_seconds=1))
    assert short.ttl_seconds == 2  # raised to the minimum
    default = await stub.Register(hub_pb2.RegisterRequest(spec=spec("b-3", address="h:1")))
    assert default.ttl_seconds == 10


async def test_who_may_call_what(hub_mesh: HubMesh) -> None:
    tenant = await hub_mesh.tenant(ENTERPRISE)
    as_tenant = hub_mesh.hub_stub(tenant.api_key)
    for call in (
        as_tenant.Register(hub_pb2.RegisterRequest(spec=spec())),
        as_tenant.ListInstances(hub_pb2.ListInstancesRequest()),
        as_tenant.GetMeshMetrics(hub_pb2.GetMeshMetricsRequest()),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    anonymous = hub_mesh.channel(hub_mesh.hub.address)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await hub_pb2_grpc.HubServiceStub(anonymous).ListInstances(hub_pb2.ListInstancesRequest())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    # A service registers its own kind only.
    as_bridge = hub_pb2_grpc.HubServiceStub(
        hub_mesh.service_channel(hub_mesh.hub.address, "bridge")
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await as_bridge.Register(hub_pb2.RegisterRequest(spec=spec()))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    await as_bridge.Register(
        hub_pb2.RegisterRequest(spec=spec("bridge-1", service="bridge", address="h:2"))
    )

    # Resolve is for any authenticated caller; a free tenant may use a free-tier instance.
    free = await hub_mesh.tenant(FREE)
    await hub_mesh.start_instance()
    resolved = await hub_mesh.hub_stub(free.api_key).Resolve(
        hub_pb2.ResolveRequest(service="billing")
    )
    assert resolved.instance.spec.service == "billing"
    assert resolved.reason.startswith("free:")
    # Excluding the one instance there is (a caller just failed to reach it): none left.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await hub_mesh.hub_stub(free.api_key).Resolve(
            hub_pb2.ResolveRequest(
                service="billing", exclude_instance_ids=[resolved.instance.spec.instance_id]
            )
        )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_hub_health_list_names_every_instance(hub_mesh: HubMesh) -> None:
    billing = await hub_mesh.start_instance()
    health = health_pb2_grpc.HealthStub(hub_mesh.channel(hub_mesh.hub.address))

    async def listed() -> dict[str, int]:
        reply = await health.List(health_pb2.HealthListRequest(), timeout=WAIT)
        return {name: status.status for name, status in reply.statuses.items()}

    statuses = await listed()
    assert statuses[f"billing/{billing.instance_id}"] == health_pb2.HealthCheckResponse.SERVING
    assert statuses["billing"] == health_pb2.HealthCheckResponse.SERVING
    assert statuses[""] == health_pb2.HealthCheckResponse.SERVING  # the Hub itself

    await billing.health.enter_graceful_shutdown()  # NOT_SERVING, still registered

    async def not_serving() -> bool:
        return (await listed()).get("billing") == health_pb2.HealthCheckResponse.NOT_SERVING

    await eventually(not_serving, "the Hub to list billing NOT_SERVING")
