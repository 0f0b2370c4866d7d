"""Wires the Ingestion service: pipeline, collectors, servicer and server."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from mesh.binding import bind
from mesh.config import ConfigError, MeshConfig, env_key
from mesh.contract import method_path
from mesh.server import MeshServer, build_server
from mesh.tenancy.wiring import open_tenancy
from servers.ingestion.clock import Clock, wall_clock_us
from servers.ingestion.collectors import CollectorSet, ReplayCollector, synthetic_feeds
from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.service import PRE_SERIALIZED, SERVICE, IngestionServicer
from servers.ingestion.symbols import BROKERS

_log = logging.getLogger(__name__)
PUBLIC_METHODS = (method_path(SERVICE, "ListSymbols"),)  # the symbol universe is no secret


def build_collectors(config: MeshConfig, pipeline: IngestionPipeline, clock: Clock) -> CollectorSet:
    """The collectors the configuration asks for (synthetic feeds, a replay file, or none)."""
    runners: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
    if _synthetic_on(config):
        seed = config.ingestion_seed
        if seed is None:
            seed = random.SystemRandom().randrange(2**32)
        # Logged so that a lively run can be reproduced with TICKMESH_INGESTION_SEED.
        _log.info("synthetic feeds: %g quotes/s, seed %d", config.ingestion_quotes_per_second, seed)
        feeds = synthetic_feeds(
            pipeline, total_rate=config.ingestion_quotes_per_second, seed=seed, clock=clock
        )
        runners += [(feed.name, functools.partial(feed.run, clock)) for feed in feeds]
    if config.ingestion_replay_file is not None:
        try:
            replay = ReplayCollector(
                config.ingestion_replay_file,
                pipeline,
                speed=config.ingestion_replay_speed,
                clock=clock,
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{env_key('ingestion_replay_file')}: {exc}") from None
        runners.append(("replay", replay.run))
    return CollectorSet(runners)


def _synthetic_on(config: MeshConfig) -> bool:
    return config.ingestion_synthetic and config.ingestion_quotes_per_second > 0


class _Lifecycle:
    """Starts collectors when the server starts; ends streams and collectors when it stops."""

    def __init__(self, pipeline: IngestionPipeline, collectors: CollectorSet) -> None:
        self.pipeline = pipeline
        self.collectors = collectors
        self.server: MeshServer | None = None
        self._watch: asyncio.Task[None] | None = None

    async def readiness(self) -> None:
        # Ready means the collectors run; the buffer fills from here.
        self.collectors.start()
        assert self.server is not None
        self._watch = asyncio.create_task(self._end_streams_on_stop(self.server))

    async def _end_streams_on_stop(self, server: MeshServer) -> None:
        # StreamTicks never ends by itself: it must end when a stop begins, not after the
        # grace period runs out.
        await server.stopping.wait()
        self.pipeline.close()

    async def on_stop(self) -> None:
        await self.collectors.stop()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        self.pipeline.close()


async def create_server(
    config: MeshConfig,
    port: int | None = None,
    *,
    clock: Clock = wall_clock_us,
    pipeline: IngestionPipeline | None = None,
) -> MeshServer:
    """Build the Ingestion server on `port` (default: the configured one; 0 for any).

    `pipeline` replaces the one built from the configuration (benchmarks drive it directly).
    """
    if pipeline is None:
        pipeline = IngestionPipeline(
            clock=clock,
            buffer_depth=config.ingestion_buffer_depth,
            batch_interval_s=config.ingestion_batch_ms / 1000,
        )
    lifecycle = _Lifecycle(pipeline, build_collectors(config, pipeline, clock))
    servicer = IngestionServicer(
        pipeline,
        heartbeat_s=config.ingestion_heartbeat_seconds,
        feed_brokers=BROKERS if _synthetic_on(config) else (),
    )
    tenancy = await open_tenancy(config, "ingestion", public_methods=PUBLIC_METHODS)

    async def on_stop() -> None:
        await lifecycle.on_stop()
        await tenancy.aclose()

    server = await build_server(
        config,
        component="ingestion",
        port=config.ingestion_port if port is None else port,
        bindings=[bind(SERVICE, servicer, pre_serialized=PRE_SERIALIZED)],
        interceptors=tenancy.server_interceptors,
        readiness=lifecycle.readiness,
        on_stop=on_stop,
    )
    lifecycle.server = server
    return server
