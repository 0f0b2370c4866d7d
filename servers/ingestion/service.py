"""IngestionService servicer: a thin adapter from the contract to the ingestion pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping

import grpc
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.errors import FieldViolation, InvalidArgument, NotFound
from mesh.tenancy.current import PrincipalKind, current_principal
from servers.ingestion import convert
from servers.ingestion.collectors import SyntheticFeed
from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.publish import PublishTally
from servers.ingestion.stream import (
    DEFAULT_BATCH_TICKS,
    MAX_BATCH_TICKS,
    StreamRequest,
    stream_ticks,
)

SERVICE = ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"]
PRE_SERIALIZED = ("StreamTicks",)
"""Methods whose handlers yield framed bytes (a batch is serialized once for every consumer):
bind them with `bind(SERVICE, servicer, pre_serialized=PRE_SERIALIZED)`."""


class IngestionServicer(ingestion_pb2_grpc.IngestionServiceServicer):
    """Every RPC of the contract, over one IngestionPipeline.

    StreamTicks yields already-serialized StreamTicksResponse bytes (see PRE_SERIALIZED).
    """

    def __init__(
        self,
        pipeline: IngestionPipeline,
        *,
        heartbeat_s: float = 1.0,
        feed_brokers: Collection[str] = (),
        feeds: Mapping[str, SyntheticFeed] | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._heartbeat_s = heartbeat_s
        self._feed_brokers = frozenset(feed_brokers)
        """Brokers this server runs a synthetic feed for."""
        self._feeds = feeds or {}

    async def StreamTicks(
        self, request: ingestion_pb2.StreamTicksRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        current_principal().require(SERVICE_CALLER, OPERATOR)  # the Bridge, or an operator
        pipeline = self._pipeline
        unknown = sorted(set(request.symbols) - set(pipeline.universe))
        if unknown:
            shown = [s[:20] for s in unknown[:10]]
            raise InvalidArgument(
                f"unknown symbol(s) {', '.join(shown)}; ListSymbols lists the known ones",
                reason="UNKNOWN_SYMBOL",
                violations=[FieldViolation("symbols", f"unknown symbol {s!r}") for s in shown],
            )
        max_ticks = request.max_batch_ticks or DEFAULT_BATCH_TICKS
        stream_request = StreamRequest(
            from_seq=request.from_seq,
            symbols=frozenset(request.symbols),
            max_batch_ticks=min(max_ticks, MAX_BATCH_TICKS),
        )
        async for frame in stream_ticks(
            stream_request,
            ring=pipeline.ring,
            fanout=pipeline.fanout,
            newest_seq=lambda: pipeline.last_seq,
            clock=pipeline.clock,
            heartbeat_s=self._heartbeat_s,
        ):
            yield frame

    async def PublishTicks(
        self,
        request_iterator: AsyncIterator[ingestion_pb2.PublishTicksRequest],
        context: grpc.aio.ServicerContext,
    ) -> ingestion_pb2.PublishTicksResponse:
        current_principal().require(SERVICE_CALLER, OPERATOR)  # feeds are services or operators
        tally = PublishTally(self._pipeline)
        try:
            async for message in request_iterator:
                tally.add(message.quotes)
        finally:
            # Publish now rather than at the next interval: the caller may resume a stream
            # from last_seq at once.
            self._pipeline.flush()
        return tally.response()

    async def ListSymbols(
        self, request: ingestion_pb2.ListSymbolsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.ListSymbolsResponse:
        return convert.symbols_response(self._pipeline, self._feed_brokers)

    async def GetBrokerStatus(
        self, request: ingestion_pb2.GetBrokerStatusRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.GetBrokerStatusResponse:
        return convert.broker_status_response(self._pipeline)

    async def ListSourceSwitches(
        self,
        request: ingestion_pb2.ListSourceSwitchesRequest,
        context: grpc.aio.ServicerContext,
    ) -> ingestion_pb2.ListSourceSwitchesResponse:
        current_principal().require(SERVICE_CALLER, OPERATOR)
        return convert.switches_response(self._pipeline, request)

    async def SetBrokerFeed(
        self, request: ingestion_pb2.SetBrokerFeedRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.SetBrokerFeedResponse:
        current_principal().require(OPERATOR)
        if request.state not in convert.HOLD_BY_STATE:
            raise InvalidArgument(
                "state: must be RUNNING, DISCONNECTED or SILENT",
                violations=[FieldViolation("state", "unset or unknown")],
            )
        feed = self._feeds.get(request.broker)
        if feed is None:
            known = ", ".join(sorted(self._feeds)) or "none (synthetic feeds are off)"
            raise NotFound(
                f"no synthetic feed for broker {request.broker[:40]!r}; feeds: {known}",
                reason="UNKNOWN_BROKER_FEED",
            )
        feed.hold(convert.HOLD_BY_STATE[request.state])
        state = convert.STATE_BY_HOLD[feed.held]
        return ingestion_pb2.SetBrokerFeedResponse(broker=feed.name, state=state)


SERVICE_CALLER, OPERATOR = PrincipalKind.SERVICE, PrincipalKind.OPERATOR
