"""Wires the Storage service: its dependencies, servicer and server."""

from __future__ import annotations

from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.config import MeshConfig
from mesh.server import MeshServer, ServiceBinding, build_server
from servers.storage.service import StorageServicer


async def create_server(config: MeshConfig, port: int | None = None) -> MeshServer:
    """Build the Storage server on `port` (default: the configured one; 0 for any)."""
    servicer = StorageServicer()
    return await build_server(
        config,
        component="storage",
        port=config.storage_port if port is None else port,
        bindings=[
            ServiceBinding.of(
                storage_pb2.DESCRIPTOR.services_by_name["StorageService"],
                storage_pb2_grpc.add_StorageServiceServicer_to_server,
                servicer,
            )
        ],
    )
