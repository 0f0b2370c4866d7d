"""The Hub as a service: its parts, its contract, and the proxy that forwards every other mesh
method."""

from __future__ import annotations

from tickmesh.hub.v1 import hub_pb2

from mesh.binding import bind
from mesh.business_metrics import SERVICE as METRICS_SERVICE
from mesh.host import Assembly, Service, ServiceSpec
from mesh.lifecycle import Part
from servers.hub.channels import channel_factory
from servers.hub.collector import MetricsCollector
from servers.hub.health_watch import listed_statuses
from servers.hub.hub import Hub
from servers.hub.registry import Clock
from servers.hub.service import HubServicer
from servers.hub.settings import HubSettings

SERVICE = hub_pb2.DESCRIPTOR.services_by_name["HubService"]


def hub_spec(clock: Clock | None = None) -> ServiceSpec[HubSettings]:
    """The Hub; `clock` replaces the registry's (tests expire leases with it)."""

    async def build(ctx: Assembly[HubSettings]) -> Service:
        hub = Hub.from_settings(ctx.settings, clock, channel_factory(ctx.config))
        # Routed methods are public at the Hub: an anonymous caller is routed as free tier,
        # and the target service decides whether the method needs a credential.
        await ctx.tenancy(
            public_methods=hub.proxy.method_paths,
            own_services=(SERVICE.full_name, METRICS_SERVICE.full_name),
        )
        collector = MetricsCollector(
            hub.resolver,
            hub.channels,
            relay_metadata=ctx.channels.relay_metadata,
            timeout_s=ctx.settings.metrics_timeout_seconds,
            local=ctx.metrics.snapshot,
        )
        ctx.add(Part("hub", start=hub.start, drain=hub.drain, stop=hub.stop))
        ctx.health.add_list_source(lambda: listed_statuses(hub.registry, hub.resolver.healthy))
        ctx.metrics.add_gauge_source(hub.resolver.attribution.gauges)
        servicer = HubServicer(hub.registry, hub.resolver, collector)
        return Service(
            [bind(SERVICE, servicer)],
            generic_handlers=[hub.proxy],
            handle=hub,
        )

    return ServiceSpec("hub", build, HubSettings)


SPEC = hub_spec()
