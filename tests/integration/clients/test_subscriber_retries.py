"""The SDK's subscribe() against a real gRPC server that sheds the first attempt."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import market_pb2

from clients.subscriber import Ack, Backoff, Reconnecting, Ticks, subscribe

WAIT = 10.0


class SheddingBridge(bridge_pb2_grpc.BridgeServiceServicer):
    """Refuses the first Subscribe with CANCELLED before its ack, as grpc does to calls
    over its pending-call backlog; serves the next one."""

    def __init__(self) -> None:
        self.calls = 0

    async def Subscribe(  # type: ignore[override]
        self, request: bridge_pb2.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bridge_pb2.SubscribeResponse]:
        self.calls += 1
        if self.calls == 1:
            await context.abort(grpc.StatusCode.CANCELLED, "shed before it started")
        yield bridge_pb2.SubscribeResponse(ack=bridge_pb2.SubscriptionAck(symbols=["EURUSD"]))
        tick = market_pb2.Tick(symbol="EURUSD", bid=1.1, ask=1.1002, sequence=7)
        yield bridge_pb2.SubscribeResponse(
            batch=market_pb2.TickBatch(ticks=[tick], first_seq=7, last_seq=7)
        )
        await asyncio.Event().wait()  # an open stream until the client leaves


async def test_a_stream_shed_before_its_ack_is_tried_again() -> None:
    fake = SheddingBridge()
    server = grpc.aio.server()
    bridge_pb2_grpc.add_BridgeServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        events = subscribe(
            f"127.0.0.1:{port}", "tm_test", ["EURUSD"],
            backoff=Backoff(initial_s=0.01, max_s=0.05),
        )  # fmt: skip
        got = []
        async with contextlib.aclosing(events), asyncio.timeout(WAIT):
            async for event in events:
                got.append(event)
                if isinstance(event, Ticks):
                    break
    finally:
        await server.stop(None)
    assert [type(e) for e in got] == [Reconnecting, Ack, Ticks]
    assert isinstance(got[0], Reconnecting) and got[0].error.code is grpc.StatusCode.CANCELLED
    assert fake.calls == 2
