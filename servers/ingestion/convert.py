"""Proto answers of Ingestion's unary RPCs: the symbol universe and the brokers' status."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.protoconv import tier_from_proto, tier_to_proto
from servers.ingestion.collectors import FeedHold
from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.tier_views import SourceSwitch


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
        views=[
            ingestion_pb2.ViewSources(
                tier=tier_to_proto(tier), symbol=symbol, sources=sources, target=target
            )
            for tier, symbol, sources, target in pipeline.aggregator.view_sources()
        ],
    )


def switches_response(
    pipeline: IngestionPipeline, request: ingestion_pb2.ListSourceSwitchesRequest
) -> ingestion_pb2.ListSourceSwitchesResponse:
    """The kept source switches the request selects, and the counts since start."""
    tier = tier_from_proto(request.tier) if request.tier else None
    log = pipeline.switches
    return ingestion_pb2.ListSourceSwitchesResponse(
        switches=[switch_proto(s) for s in log.query(request.since_us, tier, request.symbol)],
        failovers=log.failovers,
        recoveries=log.recoveries,
    )


def switch_proto(switch: SourceSwitch) -> ingestion_pb2.SourceSwitch:
    """One switch in the contract's terms."""
    return ingestion_pb2.SourceSwitch(
        time_us=switch.time_us,
        tier=tier_to_proto(switch.tier),
        symbol=switch.symbol,
        from_brokers=list(switch.from_brokers),
        to_brokers=list(switch.to_brokers),
        cause=switch.cause,
        degraded=switch.degraded,
        kind=ingestion_pb2.SWITCH_KIND_RECOVERY
        if switch.recovery
        else ingestion_pb2.SWITCH_KIND_FAILOVER,
    )


HOLD_BY_STATE: dict[ingestion_pb2.FeedState, FeedHold | None] = {
    ingestion_pb2.FEED_STATE_RUNNING: None,
    ingestion_pb2.FEED_STATE_DISCONNECTED: FeedHold.DISCONNECTED,
    ingestion_pb2.FEED_STATE_SILENT: FeedHold.SILENT,
}
STATE_BY_HOLD = {hold: state for state, hold in HOLD_BY_STATE.items()}
