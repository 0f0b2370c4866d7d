"""One client call through the Hub's proxy makes one trace across client, Hub, Bridge and
Storage, with the tenant's tier on every server span and never a credential anywhere."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc

from clients.subscriber import Ack, Ticks, subscribe
from tests.integration.telemetry.conftest import PRO, WAIT, Telemetry, TracedMesh

SUBSCRIBE = "tickmesh.bridge.v1.BridgeService/Subscribe"
AUTHENTICATE = "tickmesh.storage.v1.StorageService/AuthenticateKey"


def service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


def texts(span: ReadableSpan) -> list[str]:
    """Every string a span carries: name, attributes, events, status, resource."""
    out = [span.name, str(span.status.description or "")]
    out += [f"{k}={v}" for k, v in (span.attributes or {}).items()]
    out += [f"{k}={v}" for k, v in span.resource.attributes.items()]
    for event in span.events:
        out.append(event.name)
        out += [f"{k}={v}" for k, v in (event.attributes or {}).items()]
    return out


async def _subscribe_through_hub(mesh: TracedMesh, api_key: str) -> None:
    """Subscribe via the Hub with the SDK until ticks arrive, then hang up."""
    channel = mesh.client_channel(mesh.hub.address, api_key)
    stream = subscribe(mesh.hub.address, api_key, ["EURUSD", "GBPUSD"], channel=channel)
    got_ack = got_ticks = False
    async for event in stream:
        got_ack = got_ack or isinstance(event, Ack)
        got_ticks = got_ticks or (isinstance(event, Ticks) and len(event.batch.ticks) > 0)
        if got_ack and got_ticks:
            break
    await stream.aclose()
    await channel.close()  # cancels the stream: every hop's span ends


async def test_one_trace_spans_client_hub_bridge_and_storage(
    traced_mesh: TracedMesh, telemetry: Telemetry
) -> None:
    company, api_key = await traced_mesh.tenant(PRO)
    telemetry.spans.clear()
    await _subscribe_through_hub(traced_mesh, api_key)

    root = await telemetry.wait_for_span(
        lambda s: service(s) == "tickmesh-client" and s.name == SUBSCRIBE
    )
    trace_id = root.context.trace_id
    # The last hop of the chain ends when the Bridge's stream ends.
    await telemetry.wait_for_span(
        lambda s: (
            s.context.trace_id == trace_id
            and service(s) == "tickmesh-bridge"
            and s.kind is SpanKind.SERVER
        )
    )
    spans = [s for s in telemetry.finished() if s.context.trace_id == trace_id]
    by_id = {s.context.span_id: s for s in spans}

    # One trace, four services: the client, the Hub's proxy, the Bridge and Storage.
    assert {service(s) for s in spans} >= {
        "tickmesh-client", "tickmesh-hub", "tickmesh-bridge", "tickmesh-storage",
    }  # fmt: skip
    assert {s.attributes["rpc.service"] for s in spans if s.attributes} >= {
        "tickmesh.bridge.v1.BridgeService", "tickmesh.storage.v1.StorageService",
    }  # fmt: skip

    # Parent links: one root (the client's call); every other span's parent is in the
    # trace, a server span's parent is a client span and vice versa.
    assert [s for s in spans if s.parent is None] == [root]
    for span in spans:
        if span is root:
            continue
        assert span.parent is not None and span.parent.trace_id == trace_id
        parent = by_id[span.parent.span_id]
        expected = SpanKind.CLIENT if span.kind is SpanKind.SERVER else SpanKind.SERVER
        assert parent.kind is expected, (span.name, service(span), parent.name)

    # The chain itself: client -> Hub (proxy) -> Bridge -> Storage, each hop a child.
    def child(parent: ReadableSpan, component: str, kind: SpanKind, name: str) -> ReadableSpan:
        found = [
            s for s in spans
            if s.parent is not None and s.parent.span_id == parent.context.span_id
            and service(s) == f"tickmesh-{component}" and s.kind is kind and s.name == name
        ]  # fmt: skip
        assert len(found) == 1, (component, kind, name, [(service(s), s.name) for s in spans])
        return found[0]

    hub_in = child(root, "hub", SpanKind.SERVER, SUBSCRIBE)
    hub_out = child(hub_in, "hub", SpanKind.CLIENT, SUBSCRIBE)
    bridge_in = child(hub_out, "bridge", SpanKind.SERVER, SUBSCRIBE)
    bridge_auth = child(bridge_in, "bridge", SpanKind.CLIENT, AUTHENTICATE)
    storage_in = child(bridge_auth, "storage", SpanKind.SERVER, AUTHENTICATE)
    # The Hub authenticated the same key on its own, also in this trace.
    child(child(hub_in, "hub", SpanKind.CLIENT, AUTHENTICATE), "storage", SpanKind.SERVER,
          AUTHENTICATE)  # fmt: skip

    # Every server span: the RPC, its status, the tenant and its tier, the request id.
    servers = [s for s in spans if s.kind is SpanKind.SERVER]
    assert len(servers) >= 4
    for span in servers:
        attributes = span.attributes or {}
        assert attributes["rpc.system"] == "grpc"
        assert attributes["rpc.method"] == span.name.rpartition("/")[2]
        assert "rpc.grpc.status_code" in attributes
        assert attributes["tickmesh.tenant.tier"] == "pro", (service(span), span.name)
        assert attributes["tickmesh.tenant.company_id"] == company
        assert attributes["tickmesh.request_id"]
    assert storage_in.attributes and storage_in.attributes["rpc.grpc.status_code"] == 0
    # The Bridge's stream ended because the client hung up.
    assert bridge_in.attributes
    assert bridge_in.attributes["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
    # One request id follows the call from the Hub to the Bridge.
    assert hub_in.attributes and bridge_in.attributes
    assert hub_in.attributes["tickmesh.request_id"] == bridge_in.attributes["tickmesh.request_id"]

    # No credential in anything exported, in this trace or any other.
    secrets = [api_key, "Bearer", traced_mesh.config.admin_key, traced_mesh.config.mesh_secret]
    for span in telemetry.finished():
        for text in texts(span):
            for secret in secrets:
                assert secret and secret not in text, (span.name, text)


async def test_health_checks_are_not_traced(traced_mesh: TracedMesh, telemetry: Telemetry) -> None:
    # The Hub health-checks the Bridge continuously; none of it is a span.
    assert not [s for s in telemetry.finished() if "grpc.health" in s.name]
    assert not [s for s in telemetry.finished() if "Heartbeat" in s.name]


async def test_a_refusal_ends_each_span_with_its_status(
    traced_mesh: TracedMesh, telemetry: Telemetry
) -> None:
    bad_key = "tm_" + "x" * 40
    channel = traced_mesh.client_channel(traced_mesh.bridge.address, bad_key)
    stub = bridge_pb2_grpc.BridgeServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetUsage(bridge_pb2.GetUsageRequest(), timeout=WAIT)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    unauthenticated = grpc.StatusCode.UNAUTHENTICATED.value[0]

    server = await telemetry.wait_for_span(
        lambda s: service(s) == "tickmesh-bridge" and s.name.endswith("/GetUsage")
    )
    client = await telemetry.wait_for_span(
        lambda s: service(s) == "tickmesh-client" and s.name.endswith("/GetUsage")
    )
    assert server.attributes and server.attributes["rpc.grpc.status_code"] == unauthenticated
    assert client.attributes and client.attributes["rpc.grpc.status_code"] == unauthenticated
    # A refusal is the server doing its job: an error for the caller, not for the server.
    assert server.status.status_code is StatusCode.UNSET
    assert client.status.status_code is StatusCode.ERROR
    assert "tickmesh.tenant.tier" not in server.attributes  # nobody was authenticated
    for span in telemetry.finished():
        assert not any(bad_key in text for text in texts(span)), span.name


async def test_the_bridges_upstream_is_traced_and_signed_as_the_bridge(
    traced_mesh: TracedMesh, telemetry: Telemetry
) -> None:
    # The upstream reads Ingestion with grpc's sync API in a thread: its calls still carry
    # the trace context and the Bridge's signed service identity.
    await traced_mesh.bridge_parts.upstream.stop()  # ends StreamTicks, so its spans end

    for method in ("ListSymbols", "StreamTicks"):
        name = f"tickmesh.ingestion.v1.IngestionService/{method}"
        out = await telemetry.wait_for_span(
            lambda s, name=name: (
                service(s) == "tickmesh-bridge" and s.kind is SpanKind.CLIENT and s.name == name
            )
        )
        into = await telemetry.wait_for_span(
            lambda s, name=name, out=out: (
                service(s) == "tickmesh-ingestion"
                and s.kind is SpanKind.SERVER
                and s.parent is not None
                and s.parent.span_id == out.context.span_id
            )
        )
        assert into.name == name and into.context.trace_id == out.context.trace_id
        assert into.attributes and into.attributes["tickmesh.caller.service"] == "bridge"
        code = grpc.StatusCode.OK if method == "ListSymbols" else grpc.StatusCode.CANCELLED
        assert out.attributes and out.attributes["rpc.grpc.status_code"] == code.value[0]
