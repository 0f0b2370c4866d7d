"""Wires the Storage service: the relational store, tenancy, servicer and server."""

from __future__ import annotations

from tickmesh.storage.v1 import storage_pb2

from mesh.binding import bind
from mesh.config import MeshConfig
from mesh.server import MeshServer, build_server
from mesh.tenancy.context import TenantContext
from mesh.tenancy.wiring import open_tenancy
from servers.storage.analytics.engine import open_analytics
from servers.storage.relational.engine import open_store
from servers.storage.service import StorageServicer


async def create_server(config: MeshConfig, port: int | None = None) -> MeshServer:
    """Build the Storage server on `port` (default: the configured one; 0 for any)."""
    store = await open_store(
        config.postgres_url, config.data_dir / "relational", shared_schema=config.postgres_schema
    )
    analytics = await open_analytics(config.clickhouse_url, config.data_dir)
    servicer: StorageServicer | None = None

    async def authenticate_key(api_key: str) -> TenantContext:
        assert servicer is not None
        return await servicer.authenticate_key(api_key)

    async def record_own_usage(
        request: storage_pb2.RecordUsageRequest,
    ) -> storage_pb2.RecordUsageResponse:
        # Storage meters its own API calls straight into the analytics store.
        assert servicer is not None
        return (await analytics.record_usage(request.events, servicer.known_companies)).to_proto()

    tenancy = await open_tenancy(
        config, "storage", authenticate_key=authenticate_key, usage_sender=record_own_usage
    )
    servicer = StorageServicer(store, analytics, tenancy)

    async def on_stop() -> None:
        await tenancy.aclose()
        await analytics.close()
        await store.close()

    return await build_server(
        config,
        component="storage",
        port=config.storage_port if port is None else port,
        bindings=[bind(storage_pb2.DESCRIPTOR.services_by_name["StorageService"], servicer)],
        interceptors=tenancy.server_interceptors,
        on_stop=on_stop,
    )
