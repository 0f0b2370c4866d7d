"""Market-data history: recorded by services, read by the Bridge once it checked the tier."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from functools import partial

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.errors import Unavailable
from mesh.wire import len_field, tag, uint_field
from servers.storage.analytics import market_requests as check
from servers.storage.analytics.market import MarketHistory, TickPage
from servers.storage.analytics.tick_pages import tick_pages
from servers.storage.rpc._base import SERVICE, StorageRpcs, require

PRE_SERIALIZED = ("QueryTicks", "QueryBars")
"""Responses made of the Protobuf bytes ClickHouse wrote: QueryTicks frames them here,
QueryBars' are the whole message."""
_COUNT = tag(storage_pb2.QueryTicksResponse, "tick_count")
_BATCH = tag(storage_pb2.QueryTicksResponse, "batch")


class HistoryRpcs(StorageRpcs):
    _history: MarketHistory | None = None

    def _market(self) -> MarketHistory:
        if self._history is None:
            raise Unavailable("market-data history is not open on this Storage")
        return self._history

    async def RecordTicks(
        self, request: storage_pb2.RecordTicksRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.RecordTicksResponse:
        require(SERVICE)
        done = await self._market().record_batch(request.batch)
        return storage_pb2.RecordTicksResponse(
            recorded=done.recorded, duplicates=done.duplicates, last_seq=done.last_seq
        )

    async def GetRecordedSequence(
        self, request: storage_pb2.GetRecordedSequenceRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.GetRecordedSequenceResponse:
        require(SERVICE)
        return storage_pb2.GetRecordedSequenceResponse(last_seq=self._market().last_seq)

    async def QueryTicks(
        self, request: storage_pb2.QueryTicksRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        require(SERVICE)
        market = self._market()
        symbols = check.symbols(request.symbols, check.MAX_QUERY_SYMBOLS)
        start, end = check.time_range(request.start_time_us, request.end_time_us)
        fields = check.fields(request.fields)
        limit = check.batch_ticks(request.max_batch_ticks)
        # Symbol by symbol, each oldest first, in pages bounded in time (tick_pages).
        for symbol in symbols:
            read = partial(_page_of, market, symbol, start, fields, limit)
            async for page in tick_pages(read, start, end, limit):
                yield uint_field(_COUNT, page.count) + len_field(_BATCH, page.batch)

    async def QueryBars(
        self, request: storage_pb2.QueryBarsRequest, context: grpc.aio.ServicerContext
    ) -> bytes:
        require(SERVICE)
        (symbol,) = check.symbols([request.symbol] if request.symbol else [], 1)
        interval = check.interval(request.interval)
        start, end = check.time_range(request.start_time_us, request.end_time_us)
        limit = check.bar_limit(request.limit)
        return await self._market().bars(symbol, interval, start, end, limit)

    async def LatestTicks(
        self, request: storage_pb2.LatestTicksRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.LatestTicksResponse:
        require(SERVICE)
        symbols = check.symbols(request.symbols, check.MAX_LATEST_SYMBOLS)
        return storage_pb2.LatestTicksResponse(ticks=await self._market().latest(symbols))


async def _page_of(
    market: MarketHistory,
    symbol: str,
    start: int,
    fields: Sequence[str],
    limit: int,
    high: int,
    after: tuple[int, int] | None,
) -> TickPage:
    return await market.tick_page(symbol, start, high, fields, after, limit)
