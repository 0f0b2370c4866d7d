"""Wires the Billing service: its dependencies, servicer and server."""

from __future__ import annotations

from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc

from mesh.config import MeshConfig
from mesh.server import MeshServer, ServiceBinding, build_server
from servers.billing.service import BillingServicer


async def create_server(config: MeshConfig, port: int | None = None) -> MeshServer:
    """Build the Billing server on `port` (default: the configured one; 0 for any)."""
    servicer = BillingServicer()
    return await build_server(
        config,
        component="billing",
        port=config.billing_port if port is None else port,
        bindings=[
            ServiceBinding.of(
                billing_pb2.DESCRIPTOR.services_by_name["BillingService"],
                billing_pb2_grpc.add_BillingServiceServicer_to_server,
                servicer,
            )
        ],
    )
