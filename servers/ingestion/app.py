"""Wires the Ingestion service: its dependencies, servicer and server."""

from __future__ import annotations

from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.config import MeshConfig
from mesh.server import MeshServer, ServiceBinding, build_server
from servers.ingestion.service import IngestionServicer


async def create_server(config: MeshConfig, port: int | None = None) -> MeshServer:
    """Build the Ingestion server on `port` (default: the configured one; 0 for any)."""
    servicer = IngestionServicer()
    return await build_server(
        config,
        component="ingestion",
        port=config.ingestion_port if port is None else port,
        bindings=[
            ServiceBinding.of(
                ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"],
                ingestion_pb2_grpc.add_IngestionServiceServicer_to_server,
                servicer,
            )
        ],
    )
