"""Wires the Hub service: tenancy, servicer and server."""

from __future__ import annotations

from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc

from mesh.config import MeshConfig
from mesh.server import MeshServer, ServiceBinding, build_server
from mesh.tenancy.wiring import open_tenancy
from servers.hub.service import HubServicer

SERVICE = hub_pb2.DESCRIPTOR.services_by_name["HubService"]


async def create_server(config: MeshConfig, port: int | None = None) -> MeshServer:
    """Build the Hub server on `port` (default: the configured one; 0 for any)."""
    tenancy = await open_tenancy(config, "hub")
    return await build_server(
        config,
        component="hub",
        port=config.hub_port if port is None else port,
        bindings=[
            ServiceBinding.of(SERVICE, hub_pb2_grpc.add_HubServiceServicer_to_server, HubServicer())
        ],
        interceptors=tenancy.server_interceptors,
        on_stop=tenancy.aclose,
    )
