"""bind(): handlers built from the descriptor, on a real server through the real stubs; a
servicer that does not match its contract is refused when the binding is built."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import grpc
import pytest
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh import wire
from mesh.binding import ServiceBinding, bind

ChannelFactory = Callable[[str], grpc.aio.Channel]
BRIDGE = bridge_pb2.DESCRIPTOR.services_by_name["BridgeService"]
INGESTION = ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"]
WAIT = 5.0  # upper bound of every call
_BATCH = wire.tag(bridge_pb2.SubscribeResponse, "batch")
_MESSAGE_SEQ = wire.tag(bridge_pb2.SubscribeResponse, "message_seq")


def framed(seq: int) -> bytes:
    """A SubscribeResponse framed by hand, fields out of protobuf's own order so that a
    re-serialization would show: message_seq before the batch."""
    tick = market_pb2.Tick(symbol="EURUSD", sequence=seq, bid=1.1, ask=1.1002)
    batch = wire.tick_batch(wire.tick_field(tick.SerializeToString()), seq, seq, 1_700_000)
    return wire.uint_field(_MESSAGE_SEQ, seq) + wire.len_field(_BATCH, batch)


class Bridge(bridge_pb2_grpc.BridgeServiceServicer):
    """Subscribe writes framed bytes, as the real one does; the rest answer with messages."""

    MAX_SESSIONS = 3  # an upper-case constant is not an RPC

    async def Subscribe(
        self, request: bridge_pb2.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> None:
        for seq in range(1, request.resume_from + 1):
            await context.write(framed(seq))

    async def GetSessionStats(
        self, request: bridge_pb2.GetSessionStatsRequest, context: grpc.aio.ServicerContext
    ) -> bridge_pb2.GetSessionStatsResponse:
        session = bridge_pb2.SessionStats(session_id=request.session_id or "s1")
        return bridge_pb2.GetSessionStatsResponse(sessions=[session])

    async def GetUsage(
        self, request: bridge_pb2.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> bridge_pb2.GetUsageResponse:
        return bridge_pb2.GetUsageResponse(company_id=request.company_id, ticks_delivered=7)

    def lookup(self, session_id: str) -> None:
        """A lower-case helper is not an RPC either."""


class Ingestion(ingestion_pb2_grpc.IngestionServiceServicer):
    """StreamTicks yields framed bytes; PublishTicks takes a client stream."""

    async def StreamTicks(
        self, request: ingestion_pb2.StreamTicksRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        tick = market_pb2.Tick(symbol="EURUSD", sequence=request.from_seq + 1)
        batch = wire.tick_batch(wire.tick_field(tick.SerializeToString()), 1, 1, 0)
        yield wire.len_field(wire.tag(ingestion_pb2.StreamTicksResponse, "batch"), batch)

    async def PublishTicks(
        self,
        request_iterator: AsyncIterator[ingestion_pb2.PublishTicksRequest],
        context: grpc.aio.ServicerContext,
    ) -> ingestion_pb2.PublishTicksResponse:
        accepted = 0
        async for request in request_iterator:
            accepted += len(request.quotes)
        return ingestion_pb2.PublishTicksResponse(accepted=accepted)

    async def ListSymbols(
        self, request: ingestion_pb2.ListSymbolsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.ListSymbolsResponse:
        return ingestion_pb2.ListSymbolsResponse(symbols=[ingestion_pb2.SymbolInfo(symbol="X")])

    async def GetBrokerStatus(
        self, request: ingestion_pb2.GetBrokerStatusRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.GetBrokerStatusResponse:
        return ingestion_pb2.GetBrokerStatusResponse(last_seq=9)

    async def ListSourceSwitches(
        self, request: ingestion_pb2.ListSourceSwitchesRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.ListSourceSwitchesResponse:
        return ingestion_pb2.ListSourceSwitchesResponse()

    async def SetBrokerFeed(
        self, request: ingestion_pb2.SetBrokerFeedRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.SetBrokerFeedResponse:
        return ingestion_pb2.SetBrokerFeedResponse()


@pytest.fixture
async def serving(aio_channel: ChannelFactory) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to a bare server hosting both bindings on an ephemeral port."""
    bindings: Sequence[ServiceBinding] = [
        bind(BRIDGE, Bridge(), pre_serialized=["Subscribe"]),
        bind(INGESTION, Ingestion(), pre_serialized=["StreamTicks"]),
    ]
    server = grpc.aio.server()
    for binding in bindings:
        binding.register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield aio_channel(f"127.0.0.1:{port}")
    finally:
        await server.stop(None)


async def test_a_pre_serialized_stream_delivers_the_bytes_intact(
    serving: grpc.aio.Channel,
) -> None:
    sent = [framed(1), framed(2), framed(3)]
    raw = serving.unary_stream(f"/{BRIDGE.full_name}/Subscribe")  # no deserializer: bytes
    request = bridge_pb2.SubscribeRequest(resume_from=3).SerializeToString()
    assert [message async for message in raw(request, timeout=WAIT)] == sent
    stub = bridge_pb2_grpc.BridgeServiceStub(serving)
    call = stub.Subscribe(bridge_pb2.SubscribeRequest(resume_from=3), timeout=WAIT)
    parsed = [message async for message in call]
    assert parsed == [bridge_pb2.SubscribeResponse.FromString(payload) for payload in sent]
    assert [m.batch.ticks[0].sequence for m in parsed] == [1, 2, 3]


async def test_every_call_shape_serves_through_the_stub(serving: grpc.aio.Channel) -> None:
    bridge = bridge_pb2_grpc.BridgeServiceStub(serving)
    usage = await bridge.GetUsage(bridge_pb2.GetUsageRequest(company_id="c1"), timeout=WAIT)
    assert (usage.company_id, usage.ticks_delivered) == ("c1", 7)
    ingestion = ingestion_pb2_grpc.IngestionServiceStub(serving)
    streamed = [
        r async for r in ingestion.StreamTicks(ingestion_pb2.StreamTicksRequest(), timeout=WAIT)
    ]
    assert [t.sequence for t in streamed[0].batch.ticks] == [1]
    quote = market_pb2.Quote(symbol="X")
    quotes = [ingestion_pb2.PublishTicksRequest(quotes=[quote] * n) for n in (2, 3)]

    async def publish() -> AsyncIterator[ingestion_pb2.PublishTicksRequest]:
        for request in quotes:
            yield request

    published = await ingestion.PublishTicks(publish(), timeout=WAIT)
    assert published.accepted == 5
    listed = await ingestion.ListSymbols(ingestion_pb2.ListSymbolsRequest(), timeout=WAIT)
    assert [s.symbol for s in listed.symbols] == ["X"]


class OnlyInherited(bridge_pb2_grpc.BridgeServiceServicer):
    """GetSessionStats is the generated base class's, which answers UNIMPLEMENTED."""

    Subscribe = Bridge.Subscribe
    GetUsage = Bridge.GetUsage


class Extra(Bridge):
    async def GetUsages(self, request: object, context: object) -> None:
        """A typo of GetUsage, or an RPC removed from the contract."""


def test_refuses_a_servicer_without_a_handler_for_a_contract_method() -> None:
    with pytest.raises(TypeError, match=r"OnlyInherited does not implement .* GetSessionStats$"):
        bind(BRIDGE, OnlyInherited())
    with pytest.raises(TypeError, match=r"StreamTicks, PublishTicks, ListSymbols"):
        bind(INGESTION, Bridge())


def test_refuses_a_servicer_with_an_rpc_the_contract_does_not_declare() -> None:
    with pytest.raises(TypeError, match=r"GetUsages that tickmesh.bridge.v1.BridgeService"):
        bind(BRIDGE, Extra())


def test_refuses_an_unknown_pre_serialized_method() -> None:
    with pytest.raises(ValueError, match=r"Subscribes, not methods of .*BridgeService"):
        bind(BRIDGE, Bridge(), pre_serialized=["Subscribe", "Subscribes"])
