"""Wires the Storage service: the relational store, tenancy, servicer and server."""

from __future__ import annotations

from functools import partial

from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.config import MeshConfig
from mesh.server import MeshServer, ServiceBinding, build_server
from mesh.tenancy.wiring import open_tenancy
from servers.storage.analytics.engine import open_analytics
from servers.storage.relational import api_keys, companies
from servers.storage.relational.engine import open_store
from servers.storage.service import StorageServicer


async def create_server(config: MeshConfig, port: int | None = None) -> MeshServer:
    """Build the Storage server on `port` (default: the configured one; 0 for any)."""
    store = await open_store(
        config.postgres_url, config.data_dir / "relational", shared_schema=config.postgres_schema
    )
    analytics = await open_analytics(config.clickhouse_url, config.data_dir)

    async def record_own_usage(
        request: storage_pb2.RecordUsageRequest,
    ) -> storage_pb2.RecordUsageResponse:
        # Storage meters its own API calls straight into the analytics store.
        known = partial(companies.existing_company_ids, store)
        return (await analytics.record_usage(request.events, known)).to_proto()

    authenticate_key = partial(api_keys.tenant_for_key, store)
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
        bindings=[
            ServiceBinding.of(
                storage_pb2.DESCRIPTOR.services_by_name["StorageService"],
                storage_pb2_grpc.add_StorageServiceServicer_to_server,
                servicer,
            )
        ],
        interceptors=tenancy.server_interceptors,
        on_stop=on_stop,
    )
