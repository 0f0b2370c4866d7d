"""The Hub's parts as one object: registry, outlier ejection, selection, health watching, the
proxy, and their background work."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from mesh.channel_pool import ChannelFactory, ChannelPool
from mesh.forwarding import Forwarder
from mesh.lifecycle import cancel
from servers.hub.channels import hub_channel_pool
from servers.hub.health_watch import HealthWatcher
from servers.hub.outliers import OutlierDetector, OutlierPolicy
from servers.hub.proxy import hub_proxy
from servers.hub.registry import Clock, Event, EventType, LeasePolicy, Registry
from servers.hub.selection import Resolver
from servers.hub.settings import HubSettings


@dataclass
class Hub:
    """The Hub's parts, for its server and for tests that drive them."""

    registry: Registry
    outliers: OutlierDetector
    resolver: Resolver
    channels: ChannelPool
    health: HealthWatcher
    proxy: Forwarder
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def from_settings(
        cls,
        settings: HubSettings,
        clock: Clock | None = None,
        channel_factory: ChannelFactory | None = None,
    ) -> Hub:
        registry = Registry(
            clock,
            LeasePolicy(
                default_s=settings.lease_default_seconds,
                min_s=settings.lease_min_seconds,
                max_s=max(settings.lease_min_seconds, settings.lease_max_seconds),
            ),
        )
        outliers = OutlierDetector(
            OutlierPolicy(
                failures_to_eject=settings.eject_after_failures,
                base_ejection_s=settings.eject_base_seconds,
                max_ejected_percent=settings.max_ejected_percent,
            ),
            clock=registry.clock.monotonic,
            on_change=registry.touch,
        )
        resolver = Resolver(registry, outliers, panic_percent=settings.panic_percent)
        channels = (
            ChannelPool(channel_factory) if channel_factory is not None else hub_channel_pool()
        )
        return cls(
            registry=registry,
            outliers=outliers,
            resolver=resolver,
            channels=channels,
            health=HealthWatcher(registry, channels),
            proxy=hub_proxy(resolver, channels),
        )

    async def start(self) -> None:
        """Start the background work: lease sweeping and health checks."""
        self.registry.add_listener(self._forget_removed)
        self.health.start()
        self.tasks.append(asyncio.create_task(self.registry.run_sweeper(), name="hub sweeper"))

    def drain(self) -> None:
        """A stop began: long-lived streams end now rather than hold the stop for its grace."""
        self.registry.close_watches()
        self.proxy.drain()

    def _forget_removed(self, event: Event) -> None:
        if event.type is EventType.REMOVED and event.instance is not None:
            self.outliers.forget(event.instance.instance_id)

    async def stop(self) -> None:
        await cancel(*self.tasks)
        self.tasks.clear()
        await self.health.stop()
        await self.channels.close()
