"""Usage, SLA and broker analytics: recorded by services; usage read by tenant or staff,
SLA and broker figures by staff."""

from __future__ import annotations

from functools import partial

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.tenancy.current import company_in_reach
from servers.storage import convert
from servers.storage.relational import companies
from servers.storage.rpc._base import OPERATOR, SERVICE, StorageRpcs, require


class AnalyticsRpcs(StorageRpcs):
    async def RecordUsage(
        self, request: storage_pb2.RecordUsageRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.RecordUsageResponse:
        require(SERVICE)
        # Usage for a company that does not exist is refused, event by event.
        known = partial(companies.existing_company_ids, self._store)
        result = await self._analytics.record_usage(request.events, known)
        return result.to_proto()

    async def QueryUsage(
        self, request: storage_pb2.QueryUsageRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.QueryUsageResponse:
        company_id = company_in_reach(request.company_id)
        rows = await self._analytics.query_usage(
            company_id, request.billing_period, request.group_by
        )
        return storage_pb2.QueryUsageResponse(
            company_id=company_id,
            billing_period=request.billing_period,
            rows=[convert.usage_row(r) for r in rows],
        )

    async def RecordSla(
        self, request: storage_pb2.RecordSlaRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.RecordSlaResponse:
        require(SERVICE)
        accepted, minutes = await self._analytics.record_sla(request.samples, request.minutes)
        return storage_pb2.RecordSlaResponse(accepted=accepted, minutes_accepted=minutes)

    async def QuerySla(
        self, request: storage_pb2.QuerySlaRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.QuerySlaResponse:
        require(SERVICE, OPERATOR)
        figures = await self._analytics.query_sla(
            request.billing_period, request.company_id or None
        )
        return storage_pb2.QuerySlaResponse(figures=[convert.sla_figures(f) for f in figures])

    async def RecordBrokerSamples(
        self, request: storage_pb2.RecordBrokerSamplesRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.RecordBrokerSamplesResponse:
        require(SERVICE)
        accepted = await self._analytics.record_broker_samples(request.samples)
        return storage_pb2.RecordBrokerSamplesResponse(accepted=accepted)

    async def QueryBrokerFigures(
        self, request: storage_pb2.QueryBrokerFiguresRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.QueryBrokerFiguresResponse:
        require(SERVICE, OPERATOR)
        figures, served = await self._analytics.broker_figures(request.billing_period)
        return convert.broker_figures_response(figures, served)
