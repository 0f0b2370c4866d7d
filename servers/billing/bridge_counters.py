"""Delivered ticks as the Bridges count them live, for Reconcile (Bridge.GetUsage).

Billing asks every configured Bridge, signed as the Billing service, for the company's
count in the period, and sums the answers (each Bridge counts its own deliveries).
The counts live in each Bridge's memory since it started: a restarted Bridge
under-reports what it delivered before the restart (the durable record is the usage
it metered, which is what is billed), so a difference after a Bridge restart is
expected and shown, never hidden.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc

from mesh.channels import MeshChannels
from mesh.errors import Unavailable
from servers.billing.periods import BillingPeriod

TIMEOUT_S = 5.0


class BridgeCounters:
    """The configured Bridges' live delivered-tick counters."""

    def __init__(self, channels: MeshChannels, addresses: Sequence[str]) -> None:
        # Signed as Billing itself: Billing authorized its own caller already.
        self._stubs = [
            bridge_pb2_grpc.BridgeServiceStub(channels.service_channel(a)) for a in addresses
        ]

    async def delivered(self, company_id: str, period: BillingPeriod) -> int:
        """Ticks every Bridge delivered to `company_id` in `period`."""
        delivered = 0
        request = bridge_pb2.GetUsageRequest(billing_period=str(period), company_id=company_id)
        for stub in self._stubs:
            try:
                reply = await stub.GetUsage(request, timeout=TIMEOUT_S)
            except grpc.aio.AioRpcError as err:
                # Without every Bridge's count there is nothing honest to compare.
                raise Unavailable(
                    f"a Bridge did not report its delivered count: {err.code().name}",
                    retry_after_s=1.0,
                ) from None
            delivered += reply.ticks_delivered
        return delivered
