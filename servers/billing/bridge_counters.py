"""Delivered ticks as every Bridge counts them, for Reconcile (Bridge.GetUsage).

Billing asks every Bridge instance the Hub lists (Hub.ListInstances for service
"bridge"; without a Hub, the configured Bridge address), signed as the Billing service,
for each company's count in the period, and sums the answers: each Bridge counts its
own deliveries, over its restarts (its count is kept in its usage spool). A Bridge
behind a load balancer would be counted once per answer it happens to give, so the
instances are asked one by one at the addresses they registered, each address once (a
restarted Bridge may still be listed beside its successor at the same address).

A listed Bridge that does not answer fails the whole count with UNAVAILABLE: a sum
without it would be a silent undercount.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc

from mesh.channels import MeshChannels
from mesh.errors import Unavailable
from servers.billing.periods import BillingPeriod

TIMEOUT_S = 5.0
CONCURRENCY = 16  # GetUsage calls in flight at once, over all Bridges

BridgeFinder = Callable[[], Awaitable[list[str]]]
"""Lists the addresses of the Bridges to ask."""


@dataclass(frozen=True, slots=True)
class DeliveredCounts:
    """Ticks delivered per company, summed over `bridges` Bridge instances."""

    per_company: dict[str, int]
    bridges: int


def fixed_bridges(addresses: Sequence[str]) -> BridgeFinder:
    """Always the same Bridges (no Hub configured, or tests)."""

    async def find() -> list[str]:
        return list(dict.fromkeys(addresses))

    return find


def hub_bridges(channels: MeshChannels, hub_address: str) -> BridgeFinder:
    """Every Bridge instance the Hub lists, healthy or not: one that cannot answer must
    make the count fail, not vanish from it."""
    # Signed as Billing itself: ListInstances is for services and operators.
    stub = hub_pb2_grpc.HubServiceStub(channels.service_channel(hub_address))

    async def find() -> list[str]:
        try:
            reply = await stub.ListInstances(
                hub_pb2.ListInstancesRequest(service="bridge"), timeout=TIMEOUT_S
            )
        except grpc.aio.AioRpcError as err:
            raise Unavailable(
                f"cannot list the Bridges: the Hub answered {err.code().name}", retry_after_s=1.0
            ) from None
        addresses = list(dict.fromkeys(i.spec.address for i in reply.instances))
        if not addresses:
            raise Unavailable(
                "the Hub lists no Bridge instance to count deliveries", retry_after_s=1.0
            )
        return addresses

    return find


class BridgeCounters:
    """The Bridges' delivered-tick counters."""

    def __init__(self, channels: MeshChannels, find: BridgeFinder) -> None:
        self._channels = channels
        self._find = find
        # One channel per Bridge address, kept: the set of Bridges changes, their
        # addresses mostly do not.
        self._stubs: dict[str, bridge_pb2_grpc.BridgeServiceStub] = {}

    def _stub(self, address: str) -> bridge_pb2_grpc.BridgeServiceStub:
        stub = self._stubs.get(address)
        if stub is None:
            # Signed as Billing itself: Billing authorized its own caller already.
            channel = self._channels.service_channel(address)
            stub = self._stubs[address] = bridge_pb2_grpc.BridgeServiceStub(channel)
        return stub

    async def delivered(self, companies: Sequence[str], period: BillingPeriod) -> DeliveredCounts:
        """Ticks every Bridge delivered to each of `companies` in `period`."""
        addresses = await self._find()
        limit = asyncio.Semaphore(CONCURRENCY)

        async def ask(address: str, company_id: str) -> tuple[str, int]:
            request = bridge_pb2.GetUsageRequest(billing_period=str(period), company_id=company_id)
            async with limit:
                try:
                    reply = await self._stub(address).GetUsage(request, timeout=TIMEOUT_S)
                except grpc.aio.AioRpcError as err:
                    # Without every Bridge's count there is nothing honest to compare.
                    raise Unavailable(
                        f"the Bridge at {address} did not report its delivered count: "
                        f"{err.code().name}",
                        retry_after_s=1.0,
                    ) from None
            return company_id, reply.ticks_delivered

        per_company = dict.fromkeys(companies, 0)
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(ask(a, c)) for a in addresses for c in companies]
        except* Unavailable as failed:
            raise failed.exceptions[0] from None  # the first is reason enough
        for task in tasks:
            company_id, ticks = task.result()
            per_company[company_id] += ticks
        return DeliveredCounts(per_company, len(addresses))
