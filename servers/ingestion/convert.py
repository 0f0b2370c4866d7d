"""Proto answers of Ingestion's unary RPCs: the symbol universe and the brokers' status."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from tickmesh.ingestion.v1 import ingestion_pb2

from servers.ingestion.pipeline import IngestionPipeline


def symbols_response(
    pipeline: IngestionPipeline, feed_brokers: Collection[str]
) -> ingestion_pb2.ListSymbolsResponse:
    """Every symbol with its brokers: those this server feeds first, then any seen."""
    infos = []
    for spec in pipeline.universe.values():
        fed = [b for b in spec.brokers if b in feed_brokers]
        seen = pipeline.aggregator.brokers_seen(spec.symbol)
        infos.append(
            ingestion_pb2.SymbolInfo(
                symbol=spec.symbol,
                digits=spec.digits,
                pip_size=spec.pip_size,
                major=spec.major,
                brokers=[*fed, *(b for b in seen if b not in fed)],
            )
        )
    return ingestion_pb2.ListSymbolsResponse(symbols=infos)


def broker_status_response(pipeline: IngestionPipeline) -> ingestion_pb2.GetBrokerStatusResponse:
    """Each broker's health now, and the sequence range the ring buffer holds."""
    reports = pipeline.board.reports(pipeline.clock())
    return ingestion_pb2.GetBrokerStatusResponse(
        brokers=[ingestion_pb2.BrokerStatus(**dataclasses.asdict(r)) for r in reports],
        last_seq=pipeline.last_seq,
        oldest_buffered_seq=pipeline.ring.oldest_seq,
    )
