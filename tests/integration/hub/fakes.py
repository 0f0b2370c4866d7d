"""Test-only servers speaking real mesh contracts: a Bridge whose Subscribe streams numbered
messages (or forever), whose GetSessionStats never answers and whose GetUsage is always
refused (with rich details), and an Ingestion whose
PublishTicks counts a client stream (its other RPCs answer UNIMPLEMENTED)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.binding import bind
from mesh.config import MeshConfig
from mesh.errors import QuotaViolation, ResourceExhausted, Unimplemented
from mesh.host import Assembly, NoSettings, Service, ServiceSpec
from mesh.server import MeshServer
from mesh.tenancy.current import optional_principal


@dataclass
class Seen:
    """What the fake servers observed of the calls that reached them."""

    metadata: list[dict[str, str | bytes]] = field(default_factory=list)
    time_remaining: list[float | None] = field(default_factory=list)
    companies: list[str | None] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    published: int = 0

    def record(self, context: grpc.aio.ServicerContext) -> None:
        self.metadata.append(dict(context.invocation_metadata() or ()))
        self.time_remaining.append(context.time_remaining())
        principal = optional_principal()
        self.companies.append(
            principal.tenant.company_id if principal and principal.tenant else None
        )
        self.started.set()


class FakeBridge(bridge_pb2_grpc.BridgeServiceServicer):
    """Subscribe sends `resume_from` messages numbered in `skipped` (0: until cancelled)."""

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def Subscribe(
        self, request: bridge_pb2.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bridge_pb2.SubscribeResponse]:
        self.seen.record(context)
        context.set_trailing_metadata((("x-fake-trailer", "bridge"),))
        try:
            n = 0
            while request.resume_from == 0 or n < request.resume_from:
                yield bridge_pb2.SubscribeResponse(skipped=n)
                n += 1
                if request.resume_from == 0:
                    await asyncio.sleep(0.01)
        except (asyncio.CancelledError, GeneratorExit):
            # Cancelled in the sleep, or closed at a yield when the call ended there
            # (its deadline passed between two messages): either way it ended with the call.
            self.seen.cancelled.set()
            raise

    async def GetSessionStats(
        self, request: bridge_pb2.GetSessionStatsRequest, context: grpc.aio.ServicerContext
    ) -> bridge_pb2.GetSessionStatsResponse:
        """Never answers: waits until the call is cancelled (or its deadline passes)."""
        self.seen.record(context)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.seen.cancelled.set()
            raise
        raise AssertionError("unreachable")

    async def GetUsage(
        self, request: bridge_pb2.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> bridge_pb2.GetUsageResponse:
        """Always refused, with rich details and trailing metadata, to check they travel."""
        self.seen.record(context)
        raise ResourceExhausted(
            "fake usage quota used up",
            violations=[QuotaViolation("company:fake", "3 usage reads per day")],
            retry_after_s=3.0,
            trailing_metadata=[("x-fake-hint", "retry in 3 s")],
        )


class FakeIngestion(ingestion_pb2_grpc.IngestionServiceServicer):
    """PublishTicks accepts every quote of every request."""

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def PublishTicks(
        self,
        request_iterator: AsyncIterator[ingestion_pb2.PublishTicksRequest],
        context: grpc.aio.ServicerContext,
    ) -> ingestion_pb2.PublishTicksResponse:
        self.seen.record(context)
        accepted = 0
        async for request in request_iterator:
            accepted += len(request.quotes)
            self.seen.published += 1
        return ingestion_pb2.PublishTicksResponse(accepted=accepted)

    # Not faked; declared so that bind() sees every RPC of the contract handled.
    async def StreamTicks(
        self, request: ingestion_pb2.StreamTicksRequest, context: grpc.aio.ServicerContext
    ) -> None:
        raise Unimplemented("the fake Ingestion does not stream ticks")

    async def ListSymbols(
        self, request: ingestion_pb2.ListSymbolsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.ListSymbolsResponse:
        raise Unimplemented("the fake Ingestion lists no symbols")

    async def GetBrokerStatus(
        self, request: ingestion_pb2.GetBrokerStatusRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.GetBrokerStatusResponse:
        raise Unimplemented("the fake Ingestion has no brokers")

    async def ListSourceSwitches(
        self, request: ingestion_pb2.ListSourceSwitchesRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.ListSourceSwitchesResponse:
        raise Unimplemented("the fake Ingestion has no tier views")

    async def SetBrokerFeed(
        self, request: ingestion_pb2.SetBrokerFeedRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.SetBrokerFeedResponse:
        raise Unimplemented("the fake Ingestion has no feeds")


async def create_fake(config: MeshConfig, component: str, seen: Seen, port: int = 0) -> MeshServer:
    """A fake `bridge` or `ingestion` server with the mesh's real tenancy and interceptors."""
    if component == "bridge":
        binding = bind(bridge_pb2.DESCRIPTOR.services_by_name["BridgeService"], FakeBridge(seen))
    else:
        binding = bind(
            ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"], FakeIngestion(seen)
        )

    async def build(ctx: Assembly[NoSettings]) -> Service:
        return Service([binding])

    return await ServiceSpec(component, build).create(config, port=port)
