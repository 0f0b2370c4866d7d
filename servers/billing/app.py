"""Wires the Billing service: tenancy, its Storage and Bridge clients, servicer and server."""

from __future__ import annotations

from collections.abc import Sequence

from tickmesh.billing.v1 import billing_pb2
from tickmesh.storage.v1 import storage_pb2_grpc

from mesh.binding import bind
from mesh.config import MeshConfig
from mesh.contract import method_path
from mesh.server import MeshServer, build_server
from mesh.tenancy.wiring import open_tenancy
from servers.billing.bridge_counters import BridgeCounters
from servers.billing.clock import Clock
from servers.billing.service import BillingServicer
from servers.billing.storage_source import StorageSource

SERVICE = billing_pb2.DESCRIPTOR.services_by_name["BillingService"]
PUBLIC_METHODS = (method_path(SERVICE, "GetTierCatalog"),)  # the price list is public


async def create_server(
    config: MeshConfig,
    port: int | None = None,
    *,
    clock: Clock | None = None,
    bridge_addresses: Sequence[str] | None = None,
) -> MeshServer:
    """Build the Billing server on `port` (default: the configured one; 0 for any).

    `clock` replaces the system clock (tests close past periods with it);
    `bridge_addresses` are the Bridges Reconcile asks (default: the configured one).
    """
    tenancy = await open_tenancy(config, "billing", public_methods=PUBLIC_METHODS)
    # Signed as Billing itself: the servicer authorizes its caller before any read.
    storage = StorageSource(
        storage_pb2_grpc.StorageServiceStub(tenancy.service_channel(config.address_of("storage")))
    )
    addresses = bridge_addresses if bridge_addresses is not None else [config.address_of("bridge")]
    servicer = BillingServicer(
        storage, BridgeCounters(tenancy, addresses), tenancy.quota, clock=clock
    )
    return await build_server(
        config,
        component="billing",
        port=config.billing_port if port is None else port,
        bindings=[bind(SERVICE, servicer)],
        interceptors=tenancy.server_interceptors,
        on_stop=tenancy.aclose,
    )
