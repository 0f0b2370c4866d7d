"""MeshHealthServicer over a real server: Check, Watch and List, graceful shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mesh.health import MeshHealthServicer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
WAIT = 5.0  # upper bound for every wait on a condition


class Served:
    def __init__(self, health: MeshHealthServicer, channel: grpc.aio.Channel) -> None:
        self.health = health
        self.stub = health_pb2_grpc.HealthStub(channel)

    async def check(self, service: str) -> int:
        request = health_pb2.HealthCheckRequest(service=service)
        return int((await self.stub.Check(request, timeout=WAIT)).status)

    def watch(self, service: str) -> grpc.aio.UnaryStreamCall:
        return self.stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=WAIT)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    health = MeshHealthServicer()
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Served(health, channel)
    finally:
        await channel.close()
        await server.stop(None)


async def next_status(watch: grpc.aio.UnaryStreamCall) -> int:
    return int((await asyncio.wait_for(watch.read(), WAIT)).status)


async def test_check_knows_only_what_was_set(served: Served) -> None:
    assert await served.check("") == SERVING  # the overall status, as grpc's servicer
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await served.check("tickmesh.test.v1.Probe")
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    await served.health.set("tickmesh.test.v1.Probe", NOT_SERVING)
    assert await served.check("tickmesh.test.v1.Probe") == NOT_SERVING


async def test_watch_streams_each_change_from_service_unknown(served: Served) -> None:
    watch = served.watch("tickmesh.test.v1.Probe")
    assert await next_status(watch) == UNKNOWN
    await served.health.set("tickmesh.test.v1.Probe", SERVING)
    assert await next_status(watch) == SERVING
    await served.health.set("tickmesh.test.v1.Probe", SERVING)  # no change, no message
    await served.health.set("tickmesh.test.v1.Probe", NOT_SERVING)
    assert await next_status(watch) == NOT_SERVING
    watch.cancel()


async def test_graceful_shutdown_then_close_ends_every_watch_after_not_serving(
    served: Served,
) -> None:
    await served.health.set("tickmesh.test.v1.Probe", SERVING)
    known, unknown = served.watch("tickmesh.test.v1.Probe"), served.watch("nobody")
    assert await next_status(known) == SERVING
    assert await next_status(unknown) == UNKNOWN

    await served.health.enter_graceful_shutdown()
    assert await next_status(known) == NOT_SERVING
    assert await served.check("") == NOT_SERVING
    await served.health.set("tickmesh.test.v1.Probe", SERVING)  # ignored from now on
    assert await served.check("tickmesh.test.v1.Probe") == NOT_SERVING

    await served.health.close_watches()
    for watch in (known, unknown):
        assert await asyncio.wait_for(watch.read(), WAIT) == grpc.aio.EOF
        assert await watch.code() == grpc.StatusCode.OK
    # A watch opened after the close gets the status, then ends too.
    late = served.watch("tickmesh.test.v1.Probe")
    assert await next_status(late) == NOT_SERVING
    assert await asyncio.wait_for(late.read(), WAIT) == grpc.aio.EOF


async def test_list_adds_what_list_sources_name_without_overriding_own(
    served: Served,
) -> None:
    await served.health.set("tickmesh.test.v1.Probe", NOT_SERVING)
    served.health.add_list_source(
        lambda: {"bridge/bridge-1": SERVING, "tickmesh.test.v1.Probe": SERVING}
    )
    reply = await served.stub.List(health_pb2.HealthListRequest(), timeout=WAIT)
    assert {name: s.status for name, s in reply.statuses.items()} == {
        "": SERVING,
        "tickmesh.test.v1.Probe": NOT_SERVING,
        "bridge/bridge-1": SERVING,
    }


async def test_list_refuses_more_than_a_thousand_names(served: Served) -> None:
    served.health.add_list_source(lambda: {f"s{i}": SERVING for i in range(1000)})
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await served.stub.List(health_pb2.HealthListRequest(), timeout=WAIT)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
