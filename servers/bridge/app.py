"""The Bridge as a service: the fan-out, its upstream, usage, leases and its contract."""

from __future__ import annotations

from tickmesh.ingestion.v1.ingestion_pb2 import GetBrokerStatusRequest
from tickmesh.ingestion.v1.ingestion_pb2_grpc import IngestionServiceStub
from tickmesh.storage.v1.storage_pb2_grpc import StorageServiceStub

from mesh.binding import bind
from mesh.host import Assembly, Service, ServiceSpec
from mesh.lifecycle import Part, background
from mesh.metering.spool import Spool, spool_dir
from mesh.metering.tally import TallyCounter
from mesh.metering.vocabulary import TICK_ENDPOINT, TICK_SERVICE
from servers.bridge.fanout import Fanout
from servers.bridge.history_service import PRE_SERIALIZED as HISTORY_PRE_SERIALIZED
from servers.bridge.history_service import SERVICE as HISTORY
from servers.bridge.history_service import HistoryServicer
from servers.bridge.leases import LeaseKeeper, holder_identity
from servers.bridge.parts import BridgeParts
from servers.bridge.revalidation import StreamRevalidator
from servers.bridge.service import PRE_SERIALIZED, SERVICE, BridgeServicer
from servers.bridge.settings import BridgeSettings, BridgeTuning
from servers.bridge.sla_sampler import SlaSampler, sla_sender
from servers.bridge.source_watch import SourceWatch
from servers.bridge.stream_minutes import StreamMinutes
from servers.bridge.upstream import Upstream
from servers.bridge.usage_counter import UsageCounter, UsageKey


def bridge_spec(tuning: BridgeTuning | None = None) -> ServiceSpec[BridgeSettings]:
    """The Bridge; `tuning` replaces the one its settings give (tests shorten timeouts)."""

    async def build(ctx: Assembly[BridgeSettings]) -> Service:
        knobs = tuning or BridgeTuning.from_settings(ctx.settings)
        tenancy = await ctx.tenancy()
        meter = tenancy.meter

        def tick_counter(key: UsageKey) -> TallyCounter:
            return meter.counter(key.company_id, key.user_id, key.tier, TICK_SERVICE, TICK_ENDPOINT)

        # Counts from what earlier runs metered, so GetUsage spans restarts; sessions bill
        # ticks straight into the meter's tally, which outlives a SIGKILL.
        usage = UsageCounter(ledger=meter.ledger, tick_counters=tick_counter)
        sla = SlaSampler()
        fanout = Fanout(usage, bounds=knobs.session, sla=sla, on_close=lambda s: minutes.closed(s))
        ingestion_channel = ctx.channels.service_channel(ctx.config.address_of("ingestion"))
        ingestion = IngestionServiceStub(ingestion_channel)
        sources = SourceWatch(
            lambda: ingestion.GetBrokerStatus(GetBrokerStatusRequest(), timeout=5)
        )
        upstream = Upstream(
            ctx.config.address_of("ingestion"),
            fanout,
            # The Bridge reads Ingestion on its own account, signed as a service.
            channel_factory=ctx.channels.blocking_service_channel,
            backoff=knobs.backoff,
            idle_timeout_s=knobs.upstream_idle_timeout_s,
        )
        minutes = StreamMinutes(fanout.sessions, lambda: upstream.connected, sources.sources)
        storage = StorageServiceStub(ctx.channels.service_channel(ctx.config.address_of("storage")))
        sla_spool = Spool(spool_dir(ctx.config.data_dir, "bridge"), f"{tenancy.instance}-sla")
        sla_delivery = sla_sender(
            sla, sla_spool, lambda r: storage.RecordSla(r, timeout=10), minutes=minutes.take
        )
        holder = holder_identity(ctx.config.data_dir, tenancy.instance)
        leases = LeaseKeeper(tenancy.quota, knobs.stream_lease_s, holder)
        # Here, not in a part: parts start once the server listens, and a stream admitted
        # before this would be released with the previous run's leases.
        await leases.reclaim()

        # Long-lived streams end as soon as a stop begins, not after the grace period.
        ctx.add(Part("fanout", drain=fanout.close_all, stop=fanout.close_all))
        ctx.add(background("heartbeats", fanout.run_heartbeats))
        ctx.add(background("leases", leases.run))
        ctx.add(background("sla", sla_delivery.run))
        ctx.add(background("sources", sources.run))
        ctx.add(background("stream-minutes", minutes.run))
        ctx.add(Part("upstream", start=upstream.open, stop=upstream.stop))
        # Open streams are re-checked when their company's keys or tier change.
        cache = tenancy.cache
        revalidator = StreamRevalidator(
            tenancy.authenticate_key,
            generation=cache.shared_generation if cache is not None else None,
        )
        if cache is not None:
            cache.add_listener(revalidator.on_invalidation)
        ctx.add(background("revalidation", revalidator.run))
        servicer = BridgeServicer(fanout, tenancy.quota, usage, leases, revalidator)
        binding = bind(SERVICE, servicer, pre_serialized=PRE_SERIALIZED)
        # History is read from Storage on the Bridge's own account, once a call passed
        # the tier checks here.
        history_channel = ctx.channels.service_channel(ctx.config.address_of("storage"))
        history = HistoryServicer(
            history_channel, meter, lambda: fanout.universe, fanout.latest_tick
        )
        history_binding = bind(HISTORY, history, pre_serialized=HISTORY_PRE_SERIALIZED)
        handle = BridgeParts(fanout, upstream, usage, tenancy.quota, tenancy.meter)
        return Service([binding, history_binding], handle=handle)

    return ServiceSpec("bridge", build, BridgeSettings)


SPEC = bridge_spec()
