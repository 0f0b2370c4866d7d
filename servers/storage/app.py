"""Storage as a service: the relational and analytics stores, and its contract."""

from __future__ import annotations

from functools import partial

from tickmesh.storage.v1 import storage_pb2

from mesh.binding import bind
from mesh.host import Assembly, Service, ServiceSpec
from servers.storage.analytics.engine import open_analytics
from servers.storage.relational import api_keys, companies
from servers.storage.relational.engine import open_store
from servers.storage.service import StorageServicer
from servers.storage.settings import StorageSettings

SERVICE = storage_pb2.DESCRIPTOR.services_by_name["StorageService"]


async def build(ctx: Assembly[StorageSettings]) -> Service:
    """Open the stores; Storage resolves keys and records its own usage from them."""
    settings, data_dir = ctx.settings, ctx.config.data_dir
    store = await open_store(
        settings.postgres_url, data_dir / "relational", shared_schema=settings.postgres_schema
    )
    ctx.opened("relational store", store.close)
    analytics = await open_analytics(settings.clickhouse_url, data_dir)
    ctx.opened("analytics store", analytics.close)
    known = partial(companies.existing_company_ids, store)

    async def record_own_usage(
        request: storage_pb2.RecordUsageRequest,
    ) -> storage_pb2.RecordUsageResponse:
        # Storage meters its own API calls straight into the analytics store.
        return (await analytics.record_usage(request.events, known)).to_proto()

    tenancy = await ctx.tenancy(
        authenticate_key=partial(api_keys.tenant_for_key, store), usage_sender=record_own_usage
    )
    servicer = StorageServicer(store, analytics, tenancy)
    return Service([bind(SERVICE, servicer)])


SPEC = ServiceSpec("storage", build, StorageSettings)
