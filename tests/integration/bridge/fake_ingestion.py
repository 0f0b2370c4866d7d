"""A controllable IngestionService on a real gRPC server: tests feed it batches by hand.

Like the real one it keeps what it was fed and replays it on StreamTicks(from_seq),
then sends ReplayComplete and live batches. `replay_overlap` makes it replay a few
sequences the caller already has (a sloppy upstream), `disconnect()` breaks every open
stream with UNAVAILABLE, `silent` stops the heartbeats (a hung upstream whose connection
stays open), and `requests` records every StreamTicks request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import grpc
from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

WAIT = 10.0  # upper bound of every wait on a condition
HEARTBEAT_S = 0.5  # an idle stream's heartbeat, as the real Ingestion sends
_DISCONNECT = object()


def make_tick(symbol: str, seq: int, bid: float = 1.1) -> market_pb2.Tick:
    """A tick with every field set, so projection differences are visible."""
    return market_pb2.Tick(
        symbol=symbol, bid=bid, ask=bid + 0.0002, broker="fxcm", broker_time_us=seq * 1000,
        ingest_time_us=seq * 1000 + 5, sequence=seq, spread_pips=2.0, quality_score=0.95,
        liquidity_score=0.6, ask_broker="pepperstone", views=7,
        broker_quotes=[market_pb2.Quote(symbol=symbol, bid=bid, ask=bid + 0.0003,
                                        broker="ic_markets")],
    )  # fmt: skip


class FakeIngestion(ingestion_pb2_grpc.IngestionServiceServicer):
    """The controllable upstream."""

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = list(symbols)
        self.history: list[market_pb2.TickBatch] = []
        self.requests: list[ingestion_pb2.StreamTicksRequest] = []
        self.replay_overlap = 0
        self.silent = False
        self.next_seq = 1
        self._streams: list[asyncio.Queue[object]] = []
        self._changed = asyncio.Event()

    async def ListSymbols(
        self, request: ingestion_pb2.ListSymbolsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.ListSymbolsResponse:
        return ingestion_pb2.ListSymbolsResponse(
            symbols=[ingestion_pb2.SymbolInfo(symbol=s, digits=5) for s in self.symbols]
        )

    async def GetBrokerStatus(
        self, request: ingestion_pb2.GetBrokerStatusRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.GetBrokerStatusResponse:
        """Every broker up (the Bridge counts each tier's live sources from this)."""
        return ingestion_pb2.GetBrokerStatusResponse(
            brokers=[
                ingestion_pb2.BrokerStatus(broker=b, up=True)
                for b in ("ic_markets", "pepperstone", "fxcm")
            ]
        )

    async def StreamTicks(
        self, request: ingestion_pb2.StreamTicksRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[ingestion_pb2.StreamTicksResponse]:
        # Snapshot the replay and register for live data in one step, so nothing fed in
        # between is lost or sent twice.
        start = max(request.from_seq - self.replay_overlap, 0) if request.from_seq else None
        replay = [b for b in self.history if start is not None and b.last_seq > start]
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._streams.append(queue)
        self.requests.append(request)
        self._notify()
        try:
            for batch in replay:
                yield ingestion_pb2.StreamTicksResponse(batch=batch)
            done = ingestion_pb2.ReplayComplete(
                last_replayed_seq=replay[-1].last_seq if replay else 0,
                replayed=sum(len(b.ticks) for b in replay),
            )
            yield ingestion_pb2.StreamTicksResponse(replay_complete=done)
            while True:
                try:
                    async with asyncio.timeout(HEARTBEAT_S):
                        item = await queue.get()
                except TimeoutError:
                    if self.silent:
                        continue
                    beat = market_pb2.Heartbeat(last_seq=self.next_seq - 1)
                    yield ingestion_pb2.StreamTicksResponse(heartbeat=beat)
                    continue
                if item is _DISCONNECT:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "test disconnect")
                assert isinstance(item, ingestion_pb2.StreamTicksResponse)
                yield item
        finally:
            self._streams.remove(queue)
            self._notify()

    def feed(self, *symbols: str, bid: float = 1.1) -> market_pb2.TickBatch:
        """Feed one batch with one tick per symbol, in that order; returns it."""
        first = self.next_seq
        ticks = [make_tick(s, first + i, bid) for i, s in enumerate(symbols)]
        self.next_seq += len(ticks)
        batch = market_pb2.TickBatch(ticks=ticks, first_seq=first, last_seq=self.next_seq - 1)
        self.history.append(batch)
        self._send(ingestion_pb2.StreamTicksResponse(batch=batch))
        return batch

    def gap(self, count: int, reason: str) -> market_pb2.GapNotice:
        """Announce the next `count` sequences as lost."""
        notice = market_pb2.GapNotice(
            from_seq=self.next_seq, to_seq=self.next_seq + count - 1, reason=reason
        )
        self.next_seq += count
        self._send(ingestion_pb2.StreamTicksResponse(gap=notice))
        return notice

    def disconnect(self) -> None:
        """Break every open StreamTicks stream with UNAVAILABLE."""
        for queue in self._streams:
            queue.put_nowait(_DISCONNECT)

    @property
    def open_streams(self) -> int:
        """StreamTicks calls in progress."""
        return len(self._streams)

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Wait (at most WAIT seconds) until `condition()` holds after a stream change."""
        async with asyncio.timeout(WAIT):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def _send(self, response: ingestion_pb2.StreamTicksResponse) -> None:
        for queue in self._streams:
            queue.put_nowait(response)

    def _notify(self) -> None:
        self._changed.set()


async def start_fake_ingestion(
    symbols: Sequence[str],
) -> tuple[grpc.aio.Server, FakeIngestion, int]:
    """A started server on an ephemeral port with a FakeIngestion on it."""
    fake = FakeIngestion(symbols)
    server = grpc.aio.server()
    ingestion_pb2_grpc.add_IngestionServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, fake, port
