"""Wires the Hub: registry, health checks, outliers, routing, router, metrics, tenancy, server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from tickmesh.common.v1 import metrics_pb2
from tickmesh.hub.v1 import hub_pb2

from mesh.binding import bind
from mesh.business_metrics import SERVICE as METRICS_SERVICE
from mesh.config import MeshConfig
from mesh.interceptors.base import CallInfo
from mesh.interceptors.quota import QuotaInterceptor
from mesh.server import MeshServer, build_server
from mesh.tenancy.quota import QuotaStore
from mesh.tenancy.wiring import open_tenancy
from servers.hub.channels import ChannelPool
from servers.hub.collector import MetricsCollector
from servers.hub.health_watch import HealthWatcher, listed_statuses
from servers.hub.outliers import OutlierDetector, OutlierPolicy
from servers.hub.registry import Clock, Event, EventType, LeasePolicy, Registry
from servers.hub.router import Router
from servers.hub.routing import Resolver
from servers.hub.service import HubServicer

SERVICE = hub_pb2.DESCRIPTOR.services_by_name["HubService"]


class OwnCallsQuotaInterceptor(QuotaInterceptor):
    """The quota check for the Hub's own RPCs only: a routed call is counted by the
    service it reaches, which authenticates the same credential again."""

    def __init__(self, store: QuotaStore, services: Iterable[str]) -> None:
        super().__init__(store)
        self._services = frozenset(services)

    def applies_to(self, call: CallInfo) -> bool:
        return call.service in self._services and super().applies_to(call)


@dataclass
class Hub:
    """The Hub's parts, for its server and for tests that drive them."""

    registry: Registry
    outliers: OutlierDetector
    resolver: Resolver
    channels: ChannelPool
    health: HealthWatcher
    router: Router
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: MeshConfig, clock: Clock | None = None) -> Hub:
        registry = Registry(
            clock,
            LeasePolicy(
                default_s=config.hub_lease_default_seconds,
                min_s=config.hub_lease_min_seconds,
                max_s=max(config.hub_lease_min_seconds, config.hub_lease_max_seconds),
            ),
        )
        outliers = OutlierDetector(
            OutlierPolicy(
                failures_to_eject=config.hub_eject_after_failures,
                base_ejection_s=config.hub_eject_base_seconds,
                max_ejected_percent=config.hub_max_ejected_percent,
            ),
            clock=registry.clock.monotonic,
            on_change=registry.touch,
        )
        resolver = Resolver(registry, outliers, panic_percent=config.hub_panic_percent)
        channels = ChannelPool()
        return cls(
            registry=registry,
            outliers=outliers,
            resolver=resolver,
            channels=channels,
            health=HealthWatcher(registry, channels),
            router=Router(resolver, channels),
        )

    async def start(self, stopping: asyncio.Event) -> None:
        """Start the background work: lease sweeping, health checks, the stop watch."""
        self.registry.add_listener(self._forget_removed)
        self.health.start()
        self.tasks.append(asyncio.create_task(self.registry.run_sweeper(), name="hub sweeper"))
        self.tasks.append(asyncio.create_task(self._on_stopping(stopping), name="hub stopping"))

    async def _on_stopping(self, stopping: asyncio.Event) -> None:
        await stopping.wait()
        # Long-lived streams end now rather than hold the graceful stop for its grace.
        self.registry.close_watches()
        self.router.drain()

    def _forget_removed(self, event: Event) -> None:
        if event.type is EventType.REMOVED and event.instance is not None:
            self.outliers.forget(event.instance.instance_id)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()
        await self.health.stop()
        await self.channels.close()


async def create_hub(
    config: MeshConfig, port: int | None = None, *, clock: Clock | None = None
) -> tuple[MeshServer, Hub]:
    """Build the Hub server on `port` (default: the configured one; 0 for any), and its parts."""
    hub = Hub.from_config(config, clock)
    # Routed methods are public at the Hub: an anonymous caller is routed as free tier,
    # and the target service decides whether the method needs a credential.
    tenancy = await open_tenancy(config, "hub", public_methods=hub.router.method_paths)
    own = (SERVICE.full_name, METRICS_SERVICE.full_name)
    interceptors = [
        OwnCallsQuotaInterceptor(tenancy.quota, own) if isinstance(i, QuotaInterceptor) else i
        for i in tenancy.server_interceptors
    ]
    mesh_server: MeshServer | None = None

    def local_metrics() -> metrics_pb2.GetBusinessMetricsResponse:
        assert mesh_server is not None
        return mesh_server.metrics.snapshot()

    collector = MetricsCollector(
        hub.resolver,
        hub.channels,
        relay_metadata=tenancy.relay_metadata,
        timeout_s=config.hub_metrics_timeout_seconds,
        local=local_metrics,
    )

    async def readiness() -> None:
        assert mesh_server is not None
        await hub.start(mesh_server.stopping)

    async def on_stop() -> None:
        await hub.stop()
        await tenancy.aclose()

    mesh_server = await build_server(
        config,
        component="hub",
        port=config.hub_port if port is None else port,
        bindings=[bind(SERVICE, HubServicer(hub.registry, hub.resolver, collector))],
        interceptors=interceptors,
        readiness=readiness,
        on_stop=on_stop,
    )
    # After the Hub's own services, so they win; the router answers every other mesh method.
    mesh_server.server.add_generic_rpc_handlers((hub.router,))
    mesh_server.health.add_list_source(lambda: listed_statuses(hub.registry, hub.resolver.healthy))
    mesh_server.metrics.add_gauge_source(hub.resolver.attribution.gauges)
    return mesh_server, hub


async def create_server(config: MeshConfig, port: int | None = None) -> MeshServer:
    """Build the Hub server on `port` (default: the configured one; 0 for any)."""
    mesh_server, _hub = await create_hub(config, port)
    return mesh_server
