"""Billing as a service: its Storage and Bridge clients, the servicer and its contract."""

from __future__ import annotations

from collections.abc import Sequence

from tickmesh.billing.v1 import billing_pb2
from tickmesh.storage.v1 import storage_pb2_grpc

from mesh.binding import bind
from mesh.contract import method_path
from mesh.host import Assembly, Service, ServiceSpec
from servers.billing.bridge_counters import (
    BridgeCounters,
    BridgeFinder,
    fixed_bridges,
    hub_bridges,
)
from servers.billing.clock import Clock
from servers.billing.service import BillingServicer
from servers.billing.settings import BillingSettings
from servers.billing.storage_source import StorageSource

SERVICE = billing_pb2.DESCRIPTOR.services_by_name["BillingService"]
PUBLIC_METHODS = (method_path(SERVICE, "GetTierCatalog"),)  # the price list is public


def billing_spec(
    clock: Clock | None = None, bridge_addresses: Sequence[str] | None = None
) -> ServiceSpec[BillingSettings]:
    """Billing; `clock` replaces the system clock (tests close past periods with it),
    `bridge_addresses` the Bridges Reconcile asks (default: every Bridge the Hub lists,
    or the configured one when no Hub is)."""

    async def build(ctx: Assembly[BillingSettings]) -> Service:
        tenancy = await ctx.tenancy(public_methods=PUBLIC_METHODS)
        # Signed as Billing itself: the servicer authorizes its caller before any read.
        storage_channel = ctx.channels.service_channel(ctx.config.address_of("storage"))
        storage = StorageSource(storage_pb2_grpc.StorageServiceStub(storage_channel))
        counters = BridgeCounters(ctx.channels, _bridge_finder(ctx, bridge_addresses))
        servicer = BillingServicer(
            storage,
            counters,
            tenancy.quota,
            clock=clock,
            broker_costs=ctx.settings.broker_costs(),
        )
        return Service([bind(SERVICE, servicer)])

    return ServiceSpec("billing", build, BillingSettings)


def _bridge_finder(ctx: Assembly[BillingSettings], addresses: Sequence[str] | None) -> BridgeFinder:
    if addresses is not None:
        return fixed_bridges(addresses)
    if ctx.config.hub_address:
        return hub_bridges(ctx.channels, ctx.config.hub_address)
    return fixed_bridges([ctx.config.address_of("bridge")])


SPEC = billing_spec()
