"""HistoryService servicer: tier rules from servers.bridge.history_rules, rows from
Storage (which owns the recorded history), usage into the meter by rows returned."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import grpc
from tickmesh.bridge.v1 import history_pb2, history_pb2_grpc
from tickmesh.common.v1 import market_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.errors import Unavailable
from mesh.metering.meter import UsageMeter
from mesh.metering.vocabulary import HISTORY_ENDPOINT, TICK_SERVICE
from mesh.tenancy.context import TenantContext
from mesh.tenancy.current import current_tenant
from mesh.tiers import Tier
from servers.bridge import history_rules as rules
from servers.bridge.entitlements import Universe, resolve

SERVICE = history_pb2.DESCRIPTOR.services_by_name["HistoryService"]
PRE_SERIALIZED = ("StreamHistory", "GetBars")
"""StreamHistory forwards Storage's QueryTicksResponse bytes unparsed: the two messages
have the same fields, and tick_count (field 1) leads the encoding. GetBars edits
Storage's bytes in upb (see GetBars)."""
T = TypeVar("T")
_QUERY_TICKS = "/tickmesh.storage.v1.StorageService/QueryTicks"
_QUERY_BARS = "/tickmesh.storage.v1.StorageService/QueryBars"


def _now_us() -> int:
    return time.time_ns() // 1000


def leading_count(message: bytes) -> int:
    """tick_count of a serialized QueryTicksResponse: field 1 (a varint) comes first."""
    if not message or message[0] != 0x08:
        return 0
    value = shift = 0
    for byte in message[1:11]:
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return value


class HistoryServicer(history_pb2_grpc.HistoryServiceServicer):
    """GetQuote, GetBars, StreamHistory for the caller's tier."""

    def __init__(
        self,
        storage: grpc.aio.Channel,
        meter: UsageMeter,
        universe: Callable[[], Universe | None],
        live: Callable[[str, Tier], market_pb2.Tick | None] = lambda symbol, tier: None,
        clock_us: Callable[[], int] = _now_us,
    ) -> None:
        self._live = live
        self._stub = storage_pb2_grpc.StorageServiceStub(storage)
        self._query_ticks = storage.unary_stream(
            _QUERY_TICKS,
            request_serializer=storage_pb2.QueryTicksRequest.SerializeToString,
            response_deserializer=None,  # bytes, forwarded as they are
        )
        self._query_bars = storage.unary_unary(
            _QUERY_BARS,
            request_serializer=storage_pb2.QueryBarsRequest.SerializeToString,
            response_deserializer=None,
        )
        self._meter = meter
        self._universe = universe
        self._clock_us = clock_us

    def _symbols(self, requested: list[str], tenant: TenantContext) -> list[str]:
        universe = self._universe()
        if universe is None:
            raise Unavailable("the bridge has not reached Ingestion yet", retry_after_s=1.0)
        return list(resolve(requested, tenant.tier, universe).symbols)

    def _bill(self, tenant: TenantContext, rows: int) -> None:
        if rows:
            self._meter.add(tenant.company_id, tenant.user_id, tenant.tier, TICK_SERVICE,
                            HISTORY_ENDPOINT, data_points=rows)  # fmt: skip

    async def GetQuote(
        self, request: history_pb2.GetQuoteRequest, context: grpc.aio.ServicerContext
    ) -> history_pb2.GetQuoteResponse:
        tenant = current_tenant()
        symbols = self._symbols(list(request.symbols), tenant)
        # The live stream's latest tick where this Bridge has one (fresher than the
        # recording, which is written in batches); the recording for the others.
        found = {s: tick for s in symbols if (tick := self._live(s, tenant.tier)) is not None}
        missing = [s for s in symbols if s not in found]
        if missing:
            request_ = storage_pb2.LatestTicksRequest(symbols=missing)
            reply = await _storage(self._stub.LatestTicks(request_))
            found.update((tick.symbol, tick) for tick in reply.ticks)
        quotes = [rules.project(found[s], tenant.tier) for s in symbols if s in found]
        self._bill(tenant, len(quotes))
        return history_pb2.GetQuoteResponse(quotes=quotes)

    async def GetBars(
        self, request: history_pb2.GetBarsRequest, context: grpc.aio.ServicerContext
    ) -> bytes:
        """Writes GetBarsResponse bytes made from Storage's QueryBarsResponse (see
        PRE_SERIALIZED): both carry the bars as field 1, so trimming the extra bar and
        appending the page token are the only edits, all in upb (no Python per bar)."""
        tenant = current_tenant()
        now = self._clock_us()
        interval = rules.interval(request.interval)
        start, end = rules.time_range(request.start_time_us, request.end_time_us, now)
        size = rules.page_size(request.page_size)
        first = rules.page_start(request.page_token, start, end)
        (symbol,) = self._symbols([request.symbol] if request.symbol else [], tenant)
        rules.check_window(tenant.tier, start, now)
        query = storage_pb2.QueryBarsRequest(
            symbol=symbol, interval=cast(Any, interval), start_time_us=first, end_time_us=end,
            limit=size + 1,  # one more than a page: is there a next one, and where
        )  # fmt: skip
        reply = storage_pb2.QueryBarsResponse.FromString(await _storage(self._query_bars(query)))
        token = ""
        if len(reply.bars) > size:
            token = str(reply.bars[size].start_time_us)
            del reply.bars[size:]
        self._bill(tenant, len(reply.bars))
        return (
            reply.SerializeToString()
            + history_pb2.GetBarsResponse(next_page_token=token).SerializeToString()
        )

    async def StreamHistory(
        self, request: history_pb2.StreamHistoryRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        tenant = current_tenant()
        now = self._clock_us()
        start, end = rules.time_range(request.start_time_us, request.end_time_us, now)
        batch = rules.batch_ticks(request.max_batch_ticks)
        symbols = self._symbols(rules.stream_symbols(list(request.symbols)), tenant)
        rules.check_window(tenant.tier, start, now)
        query = storage_pb2.QueryTicksRequest(
            symbols=symbols, start_time_us=start, end_time_us=end,
            fields=rules.fields(tenant.tier), max_batch_ticks=batch,
        )  # fmt: skip
        call = self._query_ticks(query)
        try:
            async for message in call:
                # Billed as each batch goes out: a client that stops early pays for what
                # it was sent, not for the whole range.
                self._bill(tenant, leading_count(message))
                yield message
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from exc


async def _storage(call: Awaitable[T]) -> T:
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        raise _unavailable(exc) from exc


def _unavailable(exc: grpc.aio.AioRpcError) -> Exception:
    if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return Unavailable(f"market-data history is unavailable: {exc.details()}")
    return exc
