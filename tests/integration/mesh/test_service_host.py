"""The service host builds a service defined only in the tests with everything the mesh adds:
settings from its own section, health, reflection, auth, metering, ordered parts."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.client_interceptors import api_key_interceptors
from mesh.config import load_config
from mesh.errors import Unauthenticated
from mesh.host import Assembly, Service, ServiceSpec
from mesh.lifecycle import Part
from mesh.server import MeshServer
from mesh.tenancy.context import TenantContext
from mesh.tenancy_stack import TenancyOptions
from mesh.tiers import Tier
from tests.integration.mesh.echo_service import SAY, SERVICE, SayRequest, SayResponse, echo_spec
from tests.waiting import WAIT, eventually

KEY = "echo-key-" + secrets.token_hex(8)


async def resolve_key(api_key: str) -> TenantContext:
    if api_key != KEY:
        raise Unauthenticated("unknown key", reason="API_KEY_UNKNOWN")
    return TenantContext("acme", "u1", Tier.PRO, "k1")


class Recorded:
    """Stands in for Storage.RecordUsage."""

    def __init__(self) -> None:
        self.requests: list[storage_pb2.RecordUsageRequest] = []

    async def record(
        self, request: storage_pb2.RecordUsageRequest
    ) -> storage_pb2.RecordUsageResponse:
        self.requests.append(request)
        return storage_pb2.RecordUsageResponse(accepted=len(request.events))

    def calls(self, company: str) -> int:
        return sum(
            e.data_points
            for r in self.requests
            for e in r.events
            if (e.company_id, e.service, e.endpoint) == (company, "echo", "Say")
        )


@pytest.fixture
async def echo(tmp_path: Path) -> AsyncIterator[tuple[MeshServer, Recorded, list[str]]]:
    config = load_config(
        {
            "TICKMESH_DATA_DIR": str(tmp_path),
            "TICKMESH_TLS_INSECURE": "true",
            "TICKMESH_ECHO_GREETING": "good morning",
            "TICKMESH_METERING_FLUSH_SECONDS": "0.05",
            "TICKMESH_GRACE_SECONDS": "0",
        }
    )
    recorded, events = Recorded(), []
    tenancy = TenancyOptions(authenticate_key=resolve_key, usage_sender=recorded.record)
    server = await echo_spec(events).create(config, port=0, tenancy=tenancy)
    await asyncio.wait_for(server.start(), WAIT)
    yield server, recorded, events
    await server.stop()


Channel = Callable[[str], grpc.aio.Channel]


async def test_a_test_only_service_runs_with_everything_the_mesh_adds(
    echo: tuple[MeshServer, Recorded, list[str]], aio_channel: Channel
) -> None:
    server, recorded, events = echo
    channel = aio_channel(server.address)
    assert events == ["warmed up"]

    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE.full_name))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING

    reflection = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo()
    await reflection.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    listed = await asyncio.wait_for(reflection.read(), WAIT)
    assert SERVICE.full_name in {s.name for s in listed.list_services_response.service}
    await reflection.write(
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE.full_name)
    )
    described = await asyncio.wait_for(reflection.read(), WAIT)
    assert described.file_descriptor_response.file_descriptor_proto
    await reflection.done_writing()

    say = channel.unary_unary(SAY, SayRequest.SerializeToString, SayResponse.FromString)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await say(SayRequest(text="anyone"), timeout=WAIT)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    keyed = grpc.aio.insecure_channel(server.address, interceptors=api_key_interceptors(KEY))
    async with keyed:
        answer = await keyed.unary_unary(SAY, SayRequest.SerializeToString, SayResponse.FromString)(
            SayRequest(text="world"), timeout=WAIT
        )
    # Its own setting (TICKMESH_ECHO_GREETING), and the tenant from the verified key.
    assert (answer.text, answer.company_id) == ("good morning, world", "acme")
    await eventually(lambda: recorded.calls("acme") == 1, "the call to be metered")


async def test_stop_closes_the_parts_in_reverse(tmp_path: Path) -> None:
    events: list[str] = []
    config = load_config(
        {
            "TICKMESH_DATA_DIR": str(tmp_path),
            "TICKMESH_TLS_INSECURE": "true",
            "TICKMESH_GRACE_SECONDS": "0",
        }
    )
    server = await echo_spec(events).create(
        config, port=0, tenancy=TenancyOptions(authenticate_key=resolve_key)
    )
    await server.start()
    await server.stop()
    assert events == ["warmed up", "store closed"]


async def test_a_build_that_fails_closes_what_it_had_opened(tmp_path: Path) -> None:
    closed: list[str] = []

    async def build(ctx: Assembly[object]) -> Service:
        ctx.opened("store", lambda: closed.append("store"))
        raise RuntimeError("the schema is newer than this code")

    config = load_config({"TICKMESH_DATA_DIR": str(tmp_path), "TICKMESH_TLS_INSECURE": "true"})
    with pytest.raises(RuntimeError, match="schema is newer"):
        await ServiceSpec("broken", build).create(config, port=0)  # type: ignore[arg-type]
    assert closed == ["store"]


async def test_a_part_that_fails_to_start_never_reports_serving(tmp_path: Path) -> None:
    closed: list[str] = []

    async def refuse() -> None:
        raise ConnectionError("upstream refused")

    async def build(ctx: Assembly[object]) -> Service:
        await ctx.tenancy(authenticate_key=resolve_key)
        ctx.opened("store", lambda: closed.append("store"))
        ctx.add(Part("upstream", start=refuse, stop=lambda: closed.append("upstream")))
        return Service([])

    config = load_config(
        {
            "TICKMESH_DATA_DIR": str(tmp_path),
            "TICKMESH_TLS_INSECURE": "true",
            "TICKMESH_GRACE_SECONDS": "0",
        }
    )
    server = await ServiceSpec("fragile", build).create(config, port=0)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        await server.start()
    assert closed == ["store"]  # the part that never started is not stopped
    async with grpc.aio.insecure_channel(server.address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=WAIT
        )
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    await server.stop()
