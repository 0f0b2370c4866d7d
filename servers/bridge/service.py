"""BridgeService servicer: a thin adapter from the contract to the bridge modules."""

from __future__ import annotations

import re

import grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc

from mesh.errors import FieldViolation, InvalidArgument, NotFound, Unavailable
from mesh.tenancy.current import company_in_reach, current_tenant
from mesh.tenancy.quota import QuotaStore
from servers.bridge import convert
from servers.bridge.entitlements import resolve
from servers.bridge.fanout import Fanout
from servers.bridge.leases import LeaseKeeper
from servers.bridge.revalidation import StreamRevalidator
from servers.bridge.streams import Streams
from servers.bridge.usage_counter import UsageCounter

SERVICE = bridge_pb2.DESCRIPTOR.services_by_name["BridgeService"]
PRE_SERIALIZED = ("Subscribe",)
"""Methods whose handlers write framed bytes (from cached tick encodings): bind them with
`bind(SERVICE, servicer, pre_serialized=PRE_SERIALIZED)`."""
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


class BridgeServicer(bridge_pb2_grpc.BridgeServiceServicer):
    """Subscribe, GetSessionStats, GetUsage; the caller is always current_tenant()."""

    def __init__(
        self,
        fanout: Fanout,
        quota: QuotaStore,
        usage: UsageCounter,
        leases: LeaseKeeper,
        revalidator: StreamRevalidator | None = None,
    ) -> None:
        self._fanout = fanout
        self._usage = usage
        self._streams = Streams(fanout, quota, leases, revalidator)

    async def Subscribe(
        self, request: bridge_pb2.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """Writes already serialized SubscribeResponse bytes (see PRE_SERIALIZED)."""
        tenant = current_tenant()
        universe = self._fanout.universe
        if universe is None:
            raise Unavailable("the bridge has not reached Ingestion yet", retry_after_s=1.0)
        grant = resolve(
            list(request.symbols), tenant.tier, universe, best_effort=request.options.best_effort
        )
        await self._streams.run(context, tenant, grant, request)

    async def GetSessionStats(
        self, request: bridge_pb2.GetSessionStatsRequest, context: grpc.aio.ServicerContext
    ) -> bridge_pb2.GetSessionStatsResponse:
        """The caller's company's open sessions on this Bridge."""
        tenant = current_tenant()
        sessions = self._fanout.sessions_of(tenant.company_id)
        if request.session_id:
            sessions = [s for s in sessions if s.session_id == request.session_id]
            if not sessions:
                raise NotFound(f"no open session {request.session_id!r} of your company here")
        return bridge_pb2.GetSessionStatsResponse(
            sessions=[convert.session_stats_proto(s) for s in sessions]
        )

    async def GetUsage(
        self, request: bridge_pb2.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> bridge_pb2.GetUsageResponse:
        """Ticks this Bridge delivered to a company in a billing period: a tenant's own,
        or for operator and service callers (Billing reconciling) the one named."""
        company_id = company_in_reach(request.company_id)
        period = request.billing_period or self._usage.current_period()
        if not _PERIOD.fullmatch(period):
            raise InvalidArgument(
                f"billing_period: expected YYYY-MM, got {period!r}",
                violations=[FieldViolation("billing_period", "expected YYYY-MM")],
            )
        delivered, recorded = self._usage.company_usage(company_id, period)
        return bridge_pb2.GetUsageResponse(
            company_id=company_id,
            billing_period=period,
            ticks_delivered=delivered,
            ticks_recorded=recorded,
            open_streams=len(self._fanout.sessions_of(company_id)),
            streams_refused=self._streams.refused[company_id],
        )
