"""Ingestion as a service: the pipeline, its collectors and its contract."""

from __future__ import annotations

from tickmesh.storage.v1 import storage_pb2
from tickmesh.storage.v1.storage_pb2_grpc import StorageServiceStub

from mesh.binding import bind
from mesh.contract import method_path
from mesh.host import Assembly, Service, ServiceSpec
from mesh.lifecycle import Part, background
from mesh.metering.batch_sender import SpooledBatches
from mesh.metering.spool import Spool, spool_dir
from servers.ingestion.broker_samples import BrokerSampler
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
        tenancy = await ctx.tenancy(public_methods=PUBLIC_METHODS)
        samples = _broker_samples(ctx, feed, clock, tenancy.instance)

        async def start() -> None:
            collectors.start()  # ready means the collectors run; the buffer fills from here

        async def stop() -> None:
            await collectors.stop()
            feed.close()

        # StreamTicks never ends by itself: it ends when a stop begins, not after the grace.
        ctx.add(Part("collectors", start=start, drain=feed.close, stop=stop))
        ctx.add(background("broker-samples", samples.run))
        brokers = BROKERS if settings.synthetic_on else ()
        servicer = IngestionServicer(
            feed,
            heartbeat_s=settings.heartbeat_seconds,
            feed_brokers=brokers,
            feeds=collectors.feeds,
        )
        return Service([bind(SERVICE, servicer, pre_serialized=PRE_SERIALIZED)], handle=feed)

    return ServiceSpec("ingestion", build, IngestionSettings)


def _broker_samples(
    ctx: Assembly[IngestionSettings], feed: IngestionPipeline, clock: Clock, instance: str
) -> SpooledBatches:
    """Broker analytics samples, spooled and sent to Storage.RecordBrokerSamples."""
    sampler = BrokerSampler(feed.board, feed.aggregator.best_prices_won, clock)
    storage = StorageServiceStub(ctx.channels.service_channel(ctx.config.address_of("storage")))

    async def send(payload: bytes) -> int:
        request = storage_pb2.RecordBrokerSamplesRequest.FromString(payload)
        response = await storage.RecordBrokerSamples(request, timeout=10)
        return int(response.accepted)

    spool = Spool(spool_dir(ctx.config.data_dir, "ingestion"), f"{instance}-brokers")
    return SpooledBatches(
        "broker samples",
        sampler.take_request,
        spool,
        send,
        flush_s=ctx.settings.broker_sample_seconds,
    )


SPEC = ingestion_spec()
