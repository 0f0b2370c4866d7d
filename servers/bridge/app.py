"""The Bridge as a service: the fan-out, its upstream, usage, leases and its contract."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.binding import bind
from mesh.host import Assembly, Service, ServiceSpec
from mesh.lifecycle import Part, background
from mesh.metering.meter import UsageMeter
from mesh.tenancy.quota import QuotaStore
from servers.bridge.fanout import Fanout
from servers.bridge.leases import LeaseKeeper, holder_identity
from servers.bridge.service import PRE_SERIALIZED, SERVICE, BridgeServicer
from servers.bridge.settings import BridgeSettings, BridgeTuning
from servers.bridge.upstream import Upstream
from servers.bridge.usage_counter import UsageCounter
from servers.bridge.usage_pump import UsagePump


@dataclass
class BridgeParts:
    """The running Bridge's parts (tests and health checks look inside)."""

    fanout: Fanout
    upstream: Upstream
    usage: UsageCounter
    quota: QuotaStore
    meter: UsageMeter


def bridge_spec(tuning: BridgeTuning | None = None) -> ServiceSpec[BridgeSettings]:
    """The Bridge; `tuning` replaces the one its settings give (tests shorten timeouts)."""

    async def build(ctx: Assembly[BridgeSettings]) -> Service:
        knobs = tuning or BridgeTuning.from_settings(ctx.settings)
        tenancy = await ctx.tenancy()
        # Counts from what earlier runs metered, so GetUsage spans restarts.
        usage = UsageCounter(ledger=tenancy.meter.ledger)
        fanout = Fanout(usage, bounds=knobs.session)
        upstream = Upstream(
            ctx.config.address_of("ingestion"),
            fanout,
            # The Bridge reads Ingestion on its own account, signed as a service.
            channel_factory=ctx.channels.blocking_service_channel,
            backoff=knobs.backoff,
            idle_timeout_s=knobs.upstream_idle_timeout_s,
        )
        holder = holder_identity(ctx.config.data_dir, tenancy.instance)
        leases = LeaseKeeper(tenancy.quota, knobs.stream_lease_s, holder)
        # Here, not in a part: parts start once the server listens, and a stream admitted
        # before this would be released with the previous run's leases.
        await leases.reclaim()
        pump = UsagePump(usage, tenancy.meter)

        # Long-lived streams end as soon as a stop begins, not after the grace period.
        ctx.add(Part("fanout", drain=fanout.close_all, stop=fanout.close_all))
        ctx.add(background("heartbeats", fanout.run_heartbeats))
        ctx.add(background("leases", leases.run))
        # Stopped after the upstream: the last delivered counts, before the meter stops.
        ctx.add(Part("usage pump", start=pump.start, stop=pump.stop))
        ctx.add(Part("upstream", start=upstream.open, stop=upstream.stop))
        servicer = BridgeServicer(fanout, tenancy.quota, usage, leases)
        binding = bind(SERVICE, servicer, pre_serialized=PRE_SERIALIZED)
        handle = BridgeParts(fanout, upstream, usage, tenancy.quota, tenancy.meter)
        return Service([binding], handle=handle)

    return ServiceSpec("bridge", build, BridgeSettings)


SPEC = bridge_spec()
