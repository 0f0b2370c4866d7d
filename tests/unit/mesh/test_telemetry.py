"""Telemetry: off by default (nothing installed), the settings, sampling, and the client
interceptor's trace context replacing whatever a relayed call already carried."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from opentelemetry import propagate
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mesh.config import ConfigError, MeshConfig, load_config
from mesh.forwarding import forwarded_metadata
from mesh.telemetry import (
    configure_telemetry,
    enabled,
    install_pipeline,
    shutdown_telemetry,
    tracer_for,
)
from mesh.telemetry.client import tracing_interceptors
from mesh.telemetry.metrics import NOOP, tier_metrics
from mesh.telemetry.rpc import METADATA_GETTER, traced

FOREIGN = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(autouse=True)
def telemetry_off_after() -> Iterator[None]:
    yield
    shutdown_telemetry()


def test_off_by_default_installs_nothing() -> None:
    assert configure_telemetry(MeshConfig(), "bridge") is False
    assert not enabled()
    assert tracer_for("bridge") is None
    assert tracing_interceptors(tracer_for("bridge")) == []
    assert tier_metrics("pro") is NOOP


def test_settings() -> None:
    config = load_config(
        {
            "TICKMESH_OTEL_EXPORTER": "OTLP",
            "TICKMESH_OTEL_ENDPOINT": "http://collector:4317",
            "TICKMESH_OTEL_SAMPLE_RATIO": "0.25",
            "TICKMESH_OTEL_METRICS_INTERVAL_SECONDS": "10",
        }
    )
    assert (config.otel_exporter, config.otel_endpoint) == ("otlp", "http://collector:4317")
    assert (config.otel_sample_ratio, config.otel_metrics_interval_seconds) == (0.25, 10.0)
    defaults = MeshConfig()
    assert (defaults.otel_exporter, defaults.otel_sample_ratio) == ("none", 1.0)
    with pytest.raises(ConfigError, match="TICKMESH_OTEL_SAMPLE_RATIO"):
        load_config({"TICKMESH_OTEL_SAMPLE_RATIO": "1.5"})
    with pytest.raises(ConfigError, match="TICKMESH_OTEL_EXPORTER"):
        load_config({"TICKMESH_OTEL_EXPORTER": "jaeger"})


def test_configure_is_idempotent_and_names_each_component() -> None:
    config = MeshConfig(otel_exporter="console")
    assert configure_telemetry(config, "hub") and configure_telemetry(config, "hub")
    assert configure_telemetry(config, "bridge")
    hub, bridge = tracer_for("hub"), tracer_for("bridge")
    assert hub is not None and hub is tracer_for("hub") and bridge is not hub
    assert hub.resource.attributes["service.name"] == "tickmesh-hub"  # type: ignore[attr-defined]
    assert bridge.resource.attributes["service.name"] == "tickmesh-bridge"  # type: ignore[attr-defined]
    shutdown_telemetry()
    assert not enabled() and tier_metrics("pro") is NOOP


def test_sampling_is_parent_based() -> None:
    install_pipeline(InMemorySpanExporter(), InMemoryMetricReader(), sample_ratio=0.0)
    tracer = tracer_for("storage")
    assert tracer is not None
    # A new trace at ratio 0 is not recorded; a call whose caller sampled it is.
    assert not tracer.start_span("root").is_recording()
    parent = propagate.extract((("traceparent", FOREIGN),), getter=METADATA_GETTER)
    child = tracer.start_span("child", context=parent, kind=SpanKind.SERVER)
    assert child.is_recording()
    assert format(child.get_span_context().trace_id, "032x") == FOREIGN.split("-")[1]


def test_client_span_replaces_relayed_trace_context() -> None:
    spans = InMemorySpanExporter()
    install_pipeline(spans, InMemoryMetricReader())
    interceptor: Any = tracing_interceptors(tracer_for("hub"))[0]
    # What the Hub forwards: its caller's metadata, trace context included.
    relayed = forwarded_metadata(
        (("authorization", "Bearer k"), ("traceparent", FOREIGN), ("tracestate", "v=1"))
    )
    assert ("traceparent", FOREIGN) in relayed  # untraced, the Hub passes it through
    details = grpc.aio.ClientCallDetails(
        "/tickmesh.bridge.v1.BridgeService/GetUsage", None, relayed, None, None
    )
    span, sent = interceptor._start(details)
    span.end()
    values = [(k, v) for k, v in sent.metadata if k in ("traceparent", "tracestate")]
    span_id = format(spans.get_finished_spans()[0].context.span_id, "016x")
    assert len(values) == 1 and values[0][0] == "traceparent"
    assert values[0][1].split("-")[2] == span_id
    assert ("authorization", "Bearer k") in list(sent.metadata)


def test_health_reflection_and_heartbeats_are_not_traced() -> None:
    assert not traced("/grpc.health.v1.Health/Check")
    assert not traced("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    assert not traced("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
    assert not traced("/tickmesh.hub.v1.HubService/Heartbeat")
    assert traced("/tickmesh.bridge.v1.BridgeService/Subscribe")
