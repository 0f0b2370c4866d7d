"""Wires the Bridge service: its dependencies, servicer and server."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from mesh.binding import bind
from mesh.config import MeshConfig
from mesh.server import MeshServer, build_server
from mesh.tenancy.quota import QuotaStore
from mesh.tenancy.wiring import Tenancy, open_tenancy
from servers.bridge.fanout import Fanout
from servers.bridge.leases import LeaseKeeper
from servers.bridge.metering import UsagePump
from servers.bridge.service import PRE_SERIALIZED, SERVICE, BridgeServicer
from servers.bridge.session import SessionLimits
from servers.bridge.upstream import Backoff, Upstream
from servers.bridge.usage import UsageCounter


@dataclass(frozen=True, slots=True)
class BridgeTuning:
    """The Bridge's knobs; from_config reads the configurable ones, tests set the rest."""

    session: SessionLimits = field(default_factory=SessionLimits)
    stream_lease_s: float = 30.0
    backoff: Backoff = field(default_factory=Backoff)
    upstream_idle_timeout_s: float = 10.0

    @classmethod
    def from_config(cls, config: MeshConfig) -> BridgeTuning:
        """The tuning a configuration asks for."""
        return cls(
            session=SessionLimits(
                max_queue_ticks=config.bridge_queue_ticks,
                max_batch_ticks=config.bridge_batch_ticks,
                heartbeat_s=config.bridge_heartbeat_seconds,
            ),
            stream_lease_s=config.bridge_stream_lease_seconds,
        )


@dataclass
class BridgeParts:
    """The running Bridge's parts (tests and health checks look inside)."""

    fanout: Fanout
    upstream: Upstream
    usage: UsageCounter
    quota: QuotaStore


async def create_server(config: MeshConfig, port: int | None = None) -> MeshServer:
    """Build the Bridge server on `port` (default: the configured one; 0 for any)."""
    server, _ = await create_bridge(config, port)
    return server


async def create_bridge(
    config: MeshConfig,
    port: int | None = None,
    *,
    tenancy: Tenancy | None = None,
    tuning: BridgeTuning | None = None,
) -> tuple[MeshServer, BridgeParts]:
    """create_server, also returning the Bridge's parts (for tests and diagnostics).

    `tenancy` defaults to the mesh's (keys resolved through Storage); tests may pass
    one whose key lookup they control. The caller then closes it.
    """
    tuning = tuning or BridgeTuning.from_config(config)
    owns_tenancy = tenancy is None
    if tenancy is None:
        tenancy = await open_tenancy(config, "bridge")
    usage = UsageCounter()
    fanout = Fanout(usage, bounds=tuning.session)
    upstream = Upstream(
        config.address_of("ingestion"),
        fanout,
        # The Bridge reads Ingestion on its own account, signed as a service.
        channel_factory=tenancy.blocking_service_channel,
        backoff=tuning.backoff,
        idle_timeout_s=tuning.upstream_idle_timeout_s,
    )
    quota = tenancy.quota
    assert tenancy.meter is not None
    pump = UsagePump(usage, tenancy.meter)
    leases = LeaseKeeper(quota, tuning.stream_lease_s)
    servicer = BridgeServicer(fanout, quota, usage, leases)
    watchers: list[asyncio.Task[None]] = []

    async def end_streams_on_stop(stopping: asyncio.Event) -> None:
        # Long-lived streams end as soon as a stop begins, not after the grace period.
        await stopping.wait()
        fanout.close_all()

    async def readiness() -> None:
        watchers.append(asyncio.create_task(end_streams_on_stop(server.stopping)))
        watchers.append(asyncio.create_task(fanout.run_heartbeats()))
        watchers.append(asyncio.create_task(leases.run()))
        upstream.start()
        pump.start()
        # Ready once Ingestion answered: subscriptions can be validated and fed.
        await upstream.wait_ready()

    async def on_stop() -> None:
        fanout.close_all()
        for task in watchers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await upstream.stop()
        await pump.stop()  # the last delivered counts, before the meter stops
        if owns_tenancy:
            await tenancy.aclose()

    try:
        server = await build_server(
            config,
            component="bridge",
            port=config.bridge_port if port is None else port,
            bindings=[bind(SERVICE, servicer, pre_serialized=PRE_SERIALIZED)],
            interceptors=tenancy.server_interceptors,
            readiness=readiness,
            on_stop=on_stop,
        )
    except BaseException:
        if owns_tenancy:
            await tenancy.aclose()
        raise
    return server, BridgeParts(fanout, upstream, usage, quota)
