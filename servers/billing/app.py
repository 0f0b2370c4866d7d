"""Wires the Billing service: tenancy, servicer and server."""

from __future__ import annotations

from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc

from mesh.config import MeshConfig
from mesh.contract import method_path
from mesh.server import MeshServer, ServiceBinding, build_server
from mesh.tenancy.wiring import open_tenancy
from servers.billing.service import BillingServicer

SERVICE = billing_pb2.DESCRIPTOR.services_by_name["BillingService"]
PUBLIC_METHODS = (method_path(SERVICE, "GetTierCatalog"),)  # the price list is public


async def create_server(config: MeshConfig, port: int | None = None) -> MeshServer:
    """Build the Billing server on `port` (default: the configured one; 0 for any)."""
    tenancy = await open_tenancy(config, "billing", public_methods=PUBLIC_METHODS)
    return await build_server(
        config,
        component="billing",
        port=config.billing_port if port is None else port,
        bindings=[
            ServiceBinding.of(
                SERVICE, billing_pb2_grpc.add_BillingServiceServicer_to_server, BillingServicer()
            )
        ],
        interceptors=tenancy.server_interceptors,
        on_stop=tenancy.aclose,
    )
