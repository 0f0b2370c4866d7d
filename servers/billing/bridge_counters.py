"""Delivered ticks as the Bridges count them live, for Reconcile (Bridge.GetUsage).

Bridge.GetUsage answers only for the calling tenant (current_tenant(); GetUsageRequest
has no company_id), so Billing can ask it only while serving that tenant's own call,
relaying the tenant's verified context. There is no operator-wide counter RPC: see
OPERATOR_GAP. Each Bridge counts in memory what it delivered since it started, so a
restarted Bridge under-reports, and the counts are per instance: every address is asked
and the answers are summed.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc

from mesh.errors import Unavailable
from mesh.tenancy.wiring import Tenancy
from servers.billing.periods import BillingPeriod

TIMEOUT_S = 5.0
OPERATOR_GAP = (
    "an operator-wide reconcile needs every company's delivered count, but Bridge.GetUsage "
    "reports only the calling tenant's (GetUsageRequest has no company_id and the Bridge "
    "refuses callers without a tenant); reconcile as the tenant, or add a service/operator "
    "usage RPC to the Bridge contract"
)


class BridgeCounters:
    """The configured Bridges' live delivered-tick counters."""

    def __init__(self, tenancy: Tenancy, addresses: Sequence[str]) -> None:
        # Relaying channels: the tenant being served is who asks each Bridge.
        self._stubs = [bridge_pb2_grpc.BridgeServiceStub(tenancy.channel(a)) for a in addresses]

    async def delivered_to_caller(self, period: BillingPeriod) -> int:
        """Ticks every Bridge delivered to the calling tenant's company in `period`."""
        delivered = 0
        for stub in self._stubs:
            try:
                reply = await stub.GetUsage(
                    bridge_pb2.GetUsageRequest(billing_period=str(period)), timeout=TIMEOUT_S
                )
            except grpc.aio.AioRpcError as err:
                # Without every Bridge's count there is nothing honest to compare.
                raise Unavailable(
                    f"a Bridge did not report its delivered count: {err.code().name}",
                    retry_after_s=1.0,
                ) from None
            delivered += reply.ticks_delivered
        return delivered
