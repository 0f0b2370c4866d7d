"""IngestionService servicer: a thin adapter from the contract to the ingestion pipeline."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Collection

import grpc
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.errors import FieldViolation, InvalidArgument
from mesh.tenancy.current import PrincipalKind, current_principal
from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.quote import RawQuote
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
MAX_QUOTES_PER_MESSAGE = 10_000
MAX_LISTED_REJECTIONS = 1_000


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
    ) -> None:
        self._pipeline = pipeline
        self._heartbeat_s = heartbeat_s
        self._feed_brokers = frozenset(feed_brokers)
        """Brokers this server runs a synthetic feed for."""

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
        accepted = rejected = index = last_seq = 0
        rejections: list[ingestion_pb2.QuoteRejection] = []
        try:
            async for message in request_iterator:
                count = len(message.quotes)
                if count > MAX_QUOTES_PER_MESSAGE:
                    raise InvalidArgument(
                        f"a PublishTicks message carries {count} quotes, more than"
                        f" {MAX_QUOTES_PER_MESSAGE}; the {accepted} quotes accepted earlier in"
                        " this stream are kept",
                        reason="TOO_MANY_QUOTES",
                        violations=[
                            FieldViolation(
                                "quotes",
                                f"at most {MAX_QUOTES_PER_MESSAGE} quotes per message, got {count}",
                            )
                        ],
                        metadata={
                            "max_quotes_per_message": str(MAX_QUOTES_PER_MESSAGE),
                            "quotes_in_message": str(count),
                            "first_index": str(index),
                            "accepted_before": str(accepted),
                            "rejected_before": str(rejected),
                        },
                    )
                quotes = [RawQuote.from_proto(quote) for quote in message.quotes]
                result = self._pipeline.submit(quotes)
                for position, reason in result.rejections:
                    if len(rejections) < MAX_LISTED_REJECTIONS:
                        rejections.append(
                            ingestion_pb2.QuoteRejection(
                                index=index + position,
                                symbol=quotes[position].symbol[:64],
                                reason=reason,
                            )
                        )
                accepted += result.accepted
                rejected += len(result.rejections)
                last_seq = result.last_seq or last_seq
                index += count
        finally:
            # Publish now rather than at the next interval: the caller may resume a stream
            # from last_seq at once.
            self._pipeline.flush()
        return ingestion_pb2.PublishTicksResponse(
            accepted=accepted, rejected=rejected, rejections=rejections, last_seq=last_seq
        )

    async def ListSymbols(
        self, request: ingestion_pb2.ListSymbolsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.ListSymbolsResponse:
        pipeline = self._pipeline
        infos = []
        for spec in pipeline.universe.values():
            fed = [b for b in spec.brokers if b in self._feed_brokers]
            seen = pipeline.aggregator.brokers_seen(spec.symbol)
            brokers = [*fed, *(b for b in seen if b not in fed)]
            infos.append(
                ingestion_pb2.SymbolInfo(
                    symbol=spec.symbol,
                    digits=spec.digits,
                    pip_size=spec.pip_size,
                    major=spec.major,
                    brokers=brokers,
                )
            )
        return ingestion_pb2.ListSymbolsResponse(symbols=infos)

    async def GetBrokerStatus(
        self, request: ingestion_pb2.GetBrokerStatusRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.GetBrokerStatusResponse:
        pipeline = self._pipeline
        reports = pipeline.board.reports(pipeline.clock())
        return ingestion_pb2.GetBrokerStatusResponse(
            brokers=[ingestion_pb2.BrokerStatus(**dataclasses.asdict(r)) for r in reports],
            last_seq=pipeline.last_seq,
            oldest_buffered_seq=pipeline.ring.oldest_seq,
        )


SERVICE_CALLER, OPERATOR = PrincipalKind.SERVICE, PrincipalKind.OPERATOR
