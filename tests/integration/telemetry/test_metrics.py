"""The Bridge's metrics, read from an in-memory reader: delivered ticks per tier, open
streams, delivery latency, and quota refusals."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc

from tests.integration.telemetry.conftest import FREE, PRO, WAIT, Telemetry, TracedMesh


async def _until(condition: object, what: str) -> None:
    """Poll `condition` (a callable) until true; fail naming `what` after WAIT seconds."""
    assert callable(condition)
    try:
        async with asyncio.timeout(WAIT):
            while not condition():  # noqa: ASYNC110 - the reader has no event to await
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


def _subscribe(mesh: TracedMesh, api_key: str) -> grpc.aio.UnaryStreamCall:
    channel = mesh.client_channel(mesh.bridge.address, api_key)
    request = bridge_pb2.SubscribeRequest(symbols=["EURUSD", "GBPUSD", "USDJPY"])
    return bridge_pb2_grpc.BridgeServiceStub(channel).Subscribe(request, timeout=WAIT * 3)


async def test_delivered_ticks_open_streams_and_latency_per_tier(
    traced_mesh: TracedMesh, telemetry: Telemetry
) -> None:
    company, api_key = await traced_mesh.tenant(PRO)
    call = _subscribe(traced_mesh, api_key)
    first = await call.read()
    assert isinstance(first, bridge_pb2.SubscribeResponse) and first.HasField("ack")
    # Opened before the ack was written, so counted by the time the client has it.
    assert telemetry.value("tickmesh.streams.open", tier="pro") == 1
    received = 0
    while received == 0:
        message = await asyncio.wait_for(call.read(), WAIT)
        assert isinstance(message, bridge_pb2.SubscribeResponse)
        received += len(message.batch.ticks)
    call.cancel()
    await _until(
        lambda: telemetry.value("tickmesh.streams.open", tier="pro") == 0, "the stream to close"
    )

    # The counter is the Bridge's own meter, message for message (both count in the same
    # hook), and covers at least what this client read.
    usage = traced_mesh.bridge_parts.usage
    delivered, _recorded = usage.company_usage(company, usage.current_period())
    counted = telemetry.value("tickmesh.ticks.delivered", tier="pro")
    assert counted == delivered >= received > 0
    assert telemetry.value("tickmesh.ticks.delivered", tier="free") == 0

    latency = [
        p for attrs, p in telemetry.points("tickmesh.delivery.latency") if attrs == {"tier": "pro"}
    ]
    assert len(latency) == 1 and isinstance(latency[0], HistogramDataPoint)
    assert latency[0].count >= 1
    # Ingestion and the Bridge share this process's clock: a sane, non-negative latency.
    assert 0 <= latency[0].min <= latency[0].max < WAIT * 1000


async def test_a_refused_stream_counts_as_a_quota_refusal(
    traced_mesh: TracedMesh, telemetry: Telemetry
) -> None:
    _company, api_key = await traced_mesh.tenant(FREE)
    first = _subscribe(traced_mesh, api_key)
    assert (await first.read()).HasField("ack")  # type: ignore[union-attr]
    second = _subscribe(traced_mesh, api_key)  # the free tier has one stream
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await second.read()
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    first.cancel()
    assert telemetry.value("tickmesh.quota.refusals", tier="free", quota="concurrent_streams") == 1
    assert telemetry.value("tickmesh.quota.refusals", quota="daily_api_calls") == 0
