"""Market-data history on ClickHouse: recording ticks exactly once per sequence, reading
them back as ticks (ready-made Protobuf bytes), bars and latest quotes.

Idempotence per sequence: a watermark check, not a cache. Storage is the single writer of
its ClickHouse database and every write runs on the analytics store's one thread, so the
watermark (the highest sequence in market_ticks, read from the table at open) is exact:
a batch at or below it is a duplicate and never reaches the INSERT; a batch straddling it
is trimmed. After a crash the watermark is read again from what was durably written, so
a recorder resuming from it leaves no gap and no duplicate. market_ticks is also a
ReplacingMergeTree on (symbol, time, sequence), so a duplicate that got past a second
writer would still collapse on merge (the bars would not: keep one writer per database).

The crash window: one INSERT is not atomic across market_ticks and its views. A SIGKILL
after the ticks' part is written and before every view's is can leave that block's
quotes or bars short (never doubled: the ticks are found on restart and not re-sent).
Recomputing a range's bars from market_ticks would repair it; that is not built yet.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from tickmesh.common.v1 import market_pb2

from mesh.wire import TICK_DELIVERY_FIELDS, varint
from servers.storage.analytics import market_schema
from servers.storage.analytics.engine import AnalyticsStore
from servers.storage.analytics.market_schema import QUOTES, TICKS, bars_table

P = ParamSpec("P")
R = TypeVar("R")

# A tick is always read with these, so a page can be continued after its last tick.
CURSOR_FIELDS = ("ingest_time_us", "sequence")
# As recorded: what Ingestion sent, without what a Bridge adds as it delivers.
TICK_FIELDS = tuple(
    name for name in market_pb2.Tick.DESCRIPTOR.fields_by_name if name not in TICK_DELIVERY_FIELDS
)
_QUOTE_FIELDS = tuple(market_pb2.Quote.DESCRIPTOR.fields_by_name)
# A row written must be visible to the next read of the watermark (async_insert 0).
# optimize_on_insert 0: by default a (Replacing|Aggregating)MergeTree collapses each inserted
# block by its sorting key before writing it, a row-by-row merge that cost more than
# everything else in a write (market_ticks alone: 8 us a tick with it, 2.8 without). A
# recorder block never holds a sequence twice (the watermark trims it) and the bar views
# emit one row per key and block, so there is nothing to collapse; merges still collapse
# across parts, and every read merges bar states itself (GROUP BY ... -Merge).
_INSERT_SETTINGS = {"async_insert": 0, "optimize_on_insert": 0}


@dataclass(frozen=True, slots=True)
class Recorded:
    """The outcome of one record call."""

    recorded: int
    duplicates: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class TickPage:
    """Up to a page of ticks as a serialized TickBatch, and where the next page starts."""

    batch: bytes
    count: int
    last_time_us: int
    last_seq: int


def _select_list(fields: Sequence[str]) -> str:
    wanted = set(fields) | set(CURSOR_FIELDS)
    columns: list[str] = []
    for name in TICK_FIELDS:  # contract order, whatever order the caller named them
        if name not in wanted:
            continue
        if name == "broker_quotes":
            columns.extend(f"`broker_quotes.{q}`" for q in _QUOTE_FIELDS)
        else:
            columns.append(name)
    return ", ".join(columns)


def _with_schema(sql: str, format_schema: str) -> str:
    """`sql` with its format schema as a SETTINGS clause. Passed as a per-call setting,
    clickhouse-connect's chDB backend reads system.settings, SETs and restores it around
    the query (four engine calls, ~6 ms of CPU); in the query it costs nothing."""
    quoted = format_schema.replace("\\", "\\\\").replace("'", "\\'")
    return f"{sql} SETTINGS format_schema = '{quoted}'"


def _strip_length(raw: bytes) -> bytes:
    """ProtobufList output is one length-delimited envelope whose rows are field 1:
    without its length prefix it is exactly a serialized TickBatch."""
    position = 0
    while raw[position] & 0x80:
        position += 1
    return raw[position + 1 :]


class MarketStore:
    """The market-data tables of one ClickHouse client; every method runs on its thread."""

    def __init__(self, client: Client, schema_dir: Path, reader: Client | None = None) -> None:
        self._client = client
        # Reads on a client (and thread) of their own, so a bars query never waits for a
        # recorder write (~40 ms) to finish; chDB serves two clients of one directory.
        self._reader = reader or client
        market_schema.apply_market_schema(client)
        self._format_schema = market_schema.write_tick_schema(schema_dir)
        self._bar_schema = market_schema.write_bar_schema(schema_dir)
        self.last_seq = int(client.query(f"SELECT max(sequence) FROM {TICKS}").result_rows[0][0])

    # -- writing ------------------------------------------------------------------------

    def record(self, batch: bytes, first_seq: int, last_seq: int, count: int) -> Recorded:
        """Store a serialized TickBatch (ticks only, in sequence order) unless recorded."""
        if count == 0 or last_seq <= self.last_seq:
            return Recorded(0, count, self.last_seq)
        duplicates = 0
        if first_seq <= self.last_seq:  # straddles the watermark: keep the new ticks only
            parsed = market_pb2.TickBatch.FromString(batch)
            fresh = [tick for tick in parsed.ticks if tick.sequence > self.last_seq]
            duplicates = count - len(fresh)
            batch = market_pb2.TickBatch(ticks=fresh).SerializeToString()
            count = len(fresh)
        self._client.raw_insert(
            TICKS,
            insert_block=varint(len(batch)) + batch,
            fmt="ProtobufList",
            settings={"format_schema": self._format_schema, **_INSERT_SETTINGS},
        )
        self.last_seq = last_seq
        return Recorded(count, duplicates, last_seq)

    # -- reading ------------------------------------------------------------------------

    def tick_page(
        self,
        symbol: str,
        start_us: int,
        end_us: int,
        fields: Sequence[str],
        after: tuple[int, int] | None,
        limit: int,
    ) -> TickPage:
        """Ticks of `symbol` in [start_us, end_us) after the cursor (ingest time,
        sequence), oldest first, at most `limit`, with only `fields` (and the cursor's).

        One symbol a query: with the symbol fixed, ClickHouse reads the (symbol, time)
        order straight from the index and stops after `limit` rows (~10 ms a page); over
        several symbols ordered by time it sorts the whole range for every page."""
        cursor = ""
        parameters: dict[str, object] = {
            "symbol": symbol, "start": start_us, "end": end_us, "limit": limit,
        }  # fmt: skip
        if after is not None:
            # On `time`, the sorting key, so each page starts where the index says rather
            # than scanning the range from its start again.
            cursor = (
                "AND time >= fromUnixTimestamp64Micro({after_t:Int64}, 'UTC')"
                " AND (time > fromUnixTimestamp64Micro({after_t:Int64}, 'UTC')"
                " OR sequence > {after_s:UInt64})"
            )
            parameters |= {"after_t": after[0], "after_s": after[1]}
        sql = (
            f"SELECT {_select_list(fields)} FROM {TICKS}"
            " WHERE symbol = {symbol:String}"
            " AND time >= fromUnixTimestamp64Micro({start:Int64}, 'UTC')"
            " AND time < fromUnixTimestamp64Micro({end:Int64}, 'UTC')"
            f" {cursor} ORDER BY time, sequence LIMIT {{limit:UInt32}}"
        )
        raw = self._reader.raw_query(
            _with_schema(sql, self._format_schema), parameters=parameters, fmt="ProtobufList"
        )
        batch = _strip_length(raw) if raw else b""
        if not batch:
            return TickPage(b"", 0, 0, 0)
        # The count and the cursor from the batch itself (upb parses it in C).
        ticks = market_pb2.TickBatch.FromString(batch).ticks
        last = ticks[-1]
        return TickPage(batch, len(ticks), last.ingest_time_us, last.sequence)

    def bars(self, symbol: str, interval: int, start_us: int, end_us: int, limit: int) -> bytes:
        """Bars of `symbol` starting in [start_us, end_us), oldest first, at most `limit`,
        as a serialized QueryBarsResponse (its `bars` are field 1, which is what ClickHouse's
        ProtobufList writes: no Python work per bar)."""
        sql = (
            "SELECT toInt64(toUnixTimestamp(start)) * 1000000 AS start_time_us,"
            " argMinMerge(b.open) AS open, max(b.high) AS high, min(b.low) AS low,"
            " argMaxMerge(b.close) AS close, argMaxMerge(b.bid_close) AS bid_close,"
            " argMaxMerge(b.ask_close) AS ask_close, sum(b.tick_count) AS tick_count"
            f" FROM {bars_table(interval)} AS b"
            " WHERE b.symbol = {symbol:String}"
            " AND b.start >= toDateTime(intDiv({start:Int64}, 1000000), 'UTC')"
            " AND b.start < toDateTime(intDiv({end:Int64} + 999999, 1000000), 'UTC')"
            " GROUP BY b.start ORDER BY b.start LIMIT {limit:UInt32}"
        )
        parameters = {"symbol": symbol, "start": start_us, "end": end_us, "limit": limit}
        raw = self._reader.raw_query(
            _with_schema(sql, self._bar_schema), parameters=parameters, fmt="ProtobufList"
        )
        return _strip_length(raw) if raw else b""

    def latest(self, symbols: Sequence[str]) -> list[market_pb2.Tick]:
        """The latest recorded tick of each symbol (all fields), in `symbols` order."""
        found: dict[str, market_pb2.Tick] = {}
        # The last hour first, which is where a live symbol's latest tick is; the rest
        # (a symbol quiet for longer) with no bound.
        for bound in ("AND time >= now64(6) - INTERVAL 1 HOUR", ""):
            missing = [s for s in symbols if s not in found]
            if not missing:
                break
            sql = (
                f"SELECT {_select_list(TICK_FIELDS)} FROM {TICKS}"
                f" WHERE symbol IN {{symbols:Array(String)}} {bound}"
                " ORDER BY symbol, time DESC, sequence DESC LIMIT 1 BY symbol"
            )
            raw = self._reader.raw_query(
                _with_schema(sql, self._format_schema),
                parameters={"symbols": missing},
                fmt="ProtobufList",
            )
            if raw:
                for tick in market_pb2.TickBatch.FromString(_strip_length(raw)).ticks:
                    found[tick.symbol] = tick
        return [found[s] for s in symbols if s in found]

    def counts(self) -> tuple[int, int]:
        """(ticks, broker quotes) recorded: for tests and operators."""
        sql = f"SELECT (SELECT count() FROM {TICKS}), (SELECT count() FROM {QUOTES})"
        ticks, quotes = self._reader.query(sql).result_rows[0]
        return int(ticks), int(quotes)


class MarketHistory:
    """MarketStore as async methods: writes on the analytics store's one thread (its single
    writer), reads on a thread of their own."""

    def __init__(
        self,
        store: MarketStore,
        run: Callable[..., object],
        reads: ThreadPoolExecutor | None = None,
        reader: Client | None = None,
    ) -> None:
        self._store = store
        self._run = run
        self._reads = reads
        self._reader = reader

    async def _call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._run(functools.partial(fn, *args, **kwargs))  # type: ignore[misc]

    async def _read(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        if self._reads is None:
            return await self._call(fn, *args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reads, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        """Close the reading client and its thread (the writer is the analytics store's)."""
        if self._reads is not None and self._reader is not None:
            await asyncio.get_running_loop().run_in_executor(self._reads, self._reader.close)
            self._reads.shutdown(wait=True)
            self._reads = None

    @property
    def last_seq(self) -> int:
        """The last recorded sequence (where a recorder resumes)."""
        return self._store.last_seq

    async def record(self, batch: bytes, first_seq: int, last_seq: int, count: int) -> Recorded:
        """See MarketStore.record."""
        return await self._call(self._store.record, batch, first_seq, last_seq, count)

    async def record_batch(self, batch: market_pb2.TickBatch) -> Recorded:
        """Record a TickBatch message (the RecordTicks RPC)."""
        ticks = batch.ticks
        if not ticks:
            return Recorded(0, 0, self.last_seq)
        payload = await asyncio.to_thread(
            lambda: market_pb2.TickBatch(ticks=ticks).SerializeToString()
        )
        return await self.record(payload, ticks[0].sequence, ticks[-1].sequence, len(ticks))

    async def tick_page(
        self,
        symbol: str,
        start_us: int,
        end_us: int,
        fields: Sequence[str],
        after: tuple[int, int] | None,
        limit: int,
    ) -> TickPage:
        """See MarketStore.tick_page."""
        return await self._read(
            self._store.tick_page, symbol, start_us, end_us, fields, after, limit
        )

    async def bars(
        self, symbol: str, interval: int, start_us: int, end_us: int, limit: int
    ) -> bytes:
        """See MarketStore.bars."""
        return await self._read(self._store.bars, symbol, interval, start_us, end_us, limit)

    async def latest(self, symbols: Sequence[str]) -> list[market_pb2.Tick]:
        """See MarketStore.latest."""
        return await self._read(self._store.latest, symbols)

    async def counts(self) -> tuple[int, int]:
        """See MarketStore.counts."""
        return await self._read(self._store.counts)


def reader_client(url: str | None, data_dir: Path) -> Client:
    """A second client of the analytics store's database, for reads (see MarketStore)."""
    if url is None:
        return clickhouse_connect.get_client(interface="chdb", path=str(data_dir / "chdb"))
    return clickhouse_connect.get_client(dsn=url, autogenerate_session_id=True)


async def open_market_history(
    analytics: AnalyticsStore,
    schema_dir: Path,
    reader: Callable[[], Client] | None = None,
) -> MarketHistory:
    """Create the tables and read the watermark on the analytics store's thread (one
    writer: history shares the store's client), and open `reader()` on a reading thread
    (None: reads share the writer's thread too). Close it with MarketHistory.close()."""
    reads = reader_client_ = None
    if reader is not None:
        reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="market-reads")
        reader_client_ = await asyncio.get_running_loop().run_in_executor(reads, reader)
    client = analytics.client
    store = await analytics.run(lambda: MarketStore(client(), schema_dir, reader_client_))
    return MarketHistory(store, analytics.run, reads, reader_client_)
