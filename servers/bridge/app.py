"""Wires the Bridge service: its dependencies, servicer and server."""

from __future__ import annotations

from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc

from mesh.config import MeshConfig
from mesh.server import MeshServer, ServiceBinding, build_server
from servers.bridge.service import BridgeServicer


async def create_server(config: MeshConfig, port: int | None = None) -> MeshServer:
    """Build the Bridge server on `port` (default: the configured one; 0 for any)."""
    servicer = BridgeServicer()
    return await build_server(
        config,
        component="bridge",
        port=config.bridge_port if port is None else port,
        bindings=[
            ServiceBinding.of(
                bridge_pb2.DESCRIPTOR.services_by_name["BridgeService"],
                bridge_pb2_grpc.add_BridgeServiceServicer_to_server,
                servicer,
            )
        ],
    )
