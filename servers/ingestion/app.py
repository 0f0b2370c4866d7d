"""Ingestion as a service: the pipeline, its collectors and its contract."""

from __future__ import annotations

from mesh.binding import bind
from mesh.contract import method_path
from mesh.host import Assembly, Service, ServiceSpec
from mesh.lifecycle import Part
from servers.ingestion.clock import Clock, wall_clock_us
from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.service import PRE_SERIALIZED, SERVICE, IngestionServicer
from servers.ingestion.settings import IngestionSettings
from servers.ingestion.sources import build_collectors
from servers.ingestion.symbols import BROKERS

PUBLIC_METHODS = (method_path(SERVICE, "ListSymbols"),)  # the symbol universe is no secret


def ingestion_spec(
    clock: Clock = wall_clock_us, pipeline: IngestionPipeline | None = None
) -> ServiceSpec[IngestionSettings]:
    """Ingestion; `pipeline` replaces the configured one (benchmarks drive it directly)."""

    async def build(ctx: Assembly[IngestionSettings]) -> Service:
        settings = ctx.settings
        feed = pipeline or IngestionPipeline(
            clock=clock,
            buffer_depth=settings.buffer_depth,
            batch_interval_s=settings.batch_ms / 1000,
        )
        collectors = build_collectors(settings, feed, clock)
        await ctx.tenancy(public_methods=PUBLIC_METHODS)

        async def start() -> None:
            collectors.start()  # ready means the collectors run; the buffer fills from here

        async def stop() -> None:
            await collectors.stop()
            feed.close()

        # StreamTicks never ends by itself: it ends when a stop begins, not after the grace.
        ctx.add(Part("collectors", start=start, drain=feed.close, stop=stop))
        brokers = BROKERS if settings.synthetic_on else ()
        servicer = IngestionServicer(
            feed,
            heartbeat_s=settings.heartbeat_seconds,
            feed_brokers=brokers,
            feeds=collectors.feeds,
        )
        return Service([bind(SERVICE, servicer, pre_serialized=PRE_SERIALIZED)], handle=feed)

    return ServiceSpec("ingestion", build, IngestionSettings)


SPEC = ingestion_spec()
