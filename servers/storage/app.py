"""Storage as a service: the relational and analytics stores, and its contract."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from tickmesh.storage.v1 import storage_pb2

from mesh.binding import bind
from mesh.contract import method_path
from mesh.host import Assembly, Service, ServiceSpec
from mesh.lifecycle import Part
from servers.storage.analytics.engine import open_analytics
from servers.storage.analytics.market import MarketHistory, open_market_history, reader_client
from servers.storage.recorder import Recorder
from servers.storage.relational import api_keys, companies
from servers.storage.relational.engine import open_store
from servers.storage.rpc.history import PRE_SERIALIZED
from servers.storage.service import StorageServicer
from servers.storage.settings import StorageSettings
from servers.storage.signup_limits import SignupLimiter

SERVICE = storage_pb2.DESCRIPTOR.services_by_name["StorageService"]
# Sign-up is how a company without a key begins (limited per address instead).
PUBLIC_METHODS = (method_path(SERVICE, "SignUp"), method_path(SERVICE, "VerifyEmail"))


@dataclass(frozen=True, slots=True)
class StorageParts:
    """The running Storage's market-data parts, for tests and diagnostics."""

    history: MarketHistory
    recorder: Recorder | None


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
        authenticate_key=partial(api_keys.tenant_for_key, store),
        usage_sender=record_own_usage,
        public_methods=PUBLIC_METHODS,
    )
    history = await open_market_history(
        analytics,
        data_dir / "clickhouse_schemas",
        partial(reader_client, settings.clickhouse_url, data_dir),
    )
    ctx.opened("market-data reads", history.close)
    recorder = None
    if settings.record_ticks:
        ingestion = ctx.config.address_of("ingestion")
        # Signed as Storage itself: it reads Ingestion on its own account.
        recorder = Recorder(history, lambda: ctx.channels.service_channel(ingestion))
        # Added after the analytics store, so it stops (and writes its last ticks) first.
        ctx.add(Part("recorder", start=recorder.start, stop=recorder.stop))
    servicer = StorageServicer(store, analytics, tenancy, history=history)
    servicer.limit_signups(
        SignupLimiter(
            tenancy.quota.redis,
            settings.signups_per_hour,
            prefix=ctx.config.redis_prefix,
            outage=tenancy.quota.outage,
        )
    )
    binding = bind(SERVICE, servicer, pre_serialized=PRE_SERIALIZED)
    return Service([binding], handle=StorageParts(history, recorder))


SPEC = ServiceSpec("storage", build, StorageSettings)
