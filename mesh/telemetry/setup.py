"""The process's telemetry pipeline: one sampler and exporter, one tracer per component.

`configure_telemetry` runs before any server or channel of the process exists (the service host
and build_server call it; it is idempotent), because interceptors are chosen when servers
and channels are created. A process normally runs one component; tests run several in one
process, so each component gets its own TracerProvider (its resource names it) over the
one shared span processor, and every span lands in the same exporter.
"""

from __future__ import annotations

import atexit
import logging
import uuid
from dataclasses import dataclass, field

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import Tracer

from mesh.config import MeshConfig
from mesh.telemetry import metrics

SCOPE = "tickmesh"
"""The instrumentation scope of every tickmesh span and instrument."""

_log = logging.getLogger(__name__)


@dataclass
class _Pipeline:
    sampler: Sampler
    processor: SpanProcessor
    meter_provider: MeterProvider
    providers: dict[str, TracerProvider] = field(default_factory=dict)
    tracers: dict[str, Tracer] = field(default_factory=dict)


_pipeline: _Pipeline | None = None
_INSTANCE_ID = uuid.uuid4().hex
"""service.instance.id: this process (its components differ by service.name)."""


def configure_telemetry(config: MeshConfig, component: str) -> bool:
    """Turn telemetry on for `component` as `config` says; whether it is on.

    Idempotent: the first call that turns it on builds the pipeline, later calls only add
    their component's tracer. With otel_exporter `none` (the default) and no pipeline
    installed, nothing happens and servers and channels get no telemetry interceptor.
    """
    if _pipeline is None:
        if config.otel_exporter == "none":
            return False
        span_exporter, metric_exporter = _exporters(config)
        # Batched: a span's export never runs on the RPC's own path.
        install_pipeline(
            BatchSpanProcessor(span_exporter),
            PeriodicExportingMetricReader(
                metric_exporter,
                export_interval_millis=config.otel_metrics_interval_seconds * 1000,
            ),
            sample_ratio=config.otel_sample_ratio,
            component=component,
        )
        atexit.register(shutdown_telemetry)
        _log.info(
            "telemetry on: %s export, sample ratio %g",
            config.otel_exporter,
            config.otel_sample_ratio,
        )
    tracer_for(component)
    return True


def install_pipeline(
    spans: SpanProcessor | SpanExporter,
    metric_reader: MetricReader,
    *,
    sample_ratio: float = 1.0,
    component: str = "mesh",
) -> None:
    """Turn telemetry on with these exporters (tests pass in-memory ones, whose spans are
    then exported synchronously as they end); replaces any pipeline already installed.

    `component` names the metrics' resource: metrics are per process, not per component.
    """
    shutdown_telemetry()
    processor = spans if isinstance(spans, SpanProcessor) else SimpleSpanProcessor(spans)
    meter_provider = MeterProvider(
        metric_readers=[metric_reader], resource=_resource(component), shutdown_on_exit=False
    )
    global _pipeline
    _pipeline = _Pipeline(
        # Parent-based: a call joins its caller's decision, so a trace is whole or absent.
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        processor=processor,
        meter_provider=meter_provider,
    )
    metrics.activate(meter_provider.get_meter(SCOPE))


def enabled() -> bool:
    """Whether telemetry is on in this process."""
    return _pipeline is not None


def tracer_for(component: str) -> Tracer | None:
    """The tracer of `component` (service.name tickmesh-<component>); None when off."""
    pipeline = _pipeline
    if pipeline is None:
        return None
    tracer = pipeline.tracers.get(component)
    if tracer is None:
        # Each provider's own shutdown at exit is off: shutdown_telemetry stops the shared
        # processor once, rather than once per component.
        provider = TracerProvider(
            sampler=pipeline.sampler, resource=_resource(component), shutdown_on_exit=False
        )
        provider.add_span_processor(pipeline.processor)
        pipeline.providers[component] = provider
        tracer = pipeline.tracers[component] = provider.get_tracer(SCOPE)
    return tracer


def shutdown_telemetry() -> None:
    """Export what is pending and turn telemetry off (at exit; tests, after their run)."""
    global _pipeline
    pipeline, _pipeline = _pipeline, None
    if pipeline is None:
        return
    metrics.deactivate()
    pipeline.processor.force_flush()
    pipeline.processor.shutdown()
    pipeline.meter_provider.shutdown()


def _resource(component: str) -> Resource:
    # Resource.create adds the SDK's and OTEL_RESOURCE_ATTRIBUTES' attributes.
    return Resource.create(
        {
            "service.name": f"tickmesh-{component}",
            "service.namespace": "tickmesh",
            "service.instance.id": _INSTANCE_ID,
        }
    )


def _exporters(config: MeshConfig) -> tuple[SpanExporter, MetricExporter]:
    if config.otel_exporter == "console":
        return ConsoleSpanExporter(), ConsoleMetricExporter()
    # Imported only when used: the OTLP exporters pull in their generated protos.
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return (
        OTLPSpanExporter(endpoint=config.otel_endpoint),
        OTLPMetricExporter(endpoint=config.otel_endpoint),
    )
