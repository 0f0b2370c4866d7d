"""The ClickHouse schema of market-data history: ticks, per-broker quotes and OHLC bars.

Ticks are inserted as the Protobuf bytes Ingestion streams (ClickHouse's ProtobufList
format parses them), so recording costs no Python work per tick; the per-broker quotes
and the bars are filled from each inserted block by materialized views.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client
from google.protobuf.descriptor import FieldDescriptor
from tickmesh.common.v1 import history_pb2, market_pb2

from mesh.tiers import CATALOG

# The longest market-data history a tier buys (enterprise, 365 days): older rows go.
HISTORY_TTL_DAYS = max(limits.market_data_history_days for limits in CATALOG.values())

TICKS = "market_ticks"
QUOTES = "market_quotes"

# Column names are the Tick fields, so ProtobufList maps them by name both ways; the
# nested broker_quotes columns are the Quote fields. `time` is derived from the ingest
# time and orders the table for range scans by (symbol, time).
MARKET_TICKS = f"""
CREATE TABLE IF NOT EXISTS {TICKS} (
    symbol LowCardinality(String),
    bid Float64,
    ask Float64,
    broker LowCardinality(String),
    broker_time_us Int64,
    ingest_time_us Int64,
    sequence UInt64,
    spread_pips Float64,
    quality_score Float64,
    liquidity_score Float64,
    ask_broker LowCardinality(String),
    -- The tier views the tick belongs to (Tick.views: 1 free, 2 pro, 4 enterprise; 0 all).
    views UInt32,
    broker_quotes Nested(
        symbol LowCardinality(String),
        bid Float64,
        ask Float64,
        broker LowCardinality(String),
        broker_time_us Int64,
        bid_size Float64,
        ask_size Float64
    ),
    time DateTime64(6, 'UTC') MATERIALIZED fromUnixTimestamp64Micro(ingest_time_us, 'UTC')
-- Replacing on the sorting key: a sequence has one symbol and time, so a duplicate that
-- got past the writer's sequence check (it cannot while one writer owns the table) would
-- still collapse on merge.
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (symbol, time, sequence)
TTL toDateTime(time) + INTERVAL {HISTORY_TTL_DAYS} DAY
SETTINGS ttl_only_drop_parts = 1
"""

# One row per broker quote behind each tick, for per-broker queries (broker comparison,
# a broker's own history) without unnesting arrays at read time.
MARKET_QUOTES = f"""
CREATE TABLE IF NOT EXISTS {QUOTES} (
    symbol LowCardinality(String),
    time DateTime64(6, 'UTC'),
    sequence UInt64,
    broker LowCardinality(String),
    bid Float64,
    ask Float64,
    broker_time_us Int64,
    bid_size Float64,
    ask_size Float64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (symbol, time, broker, sequence)
TTL toDateTime(time) + INTERVAL {HISTORY_TTL_DAYS} DAY
SETTINGS ttl_only_drop_parts = 1
"""

MARKET_QUOTES_MV = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS {QUOTES}_mv TO {QUOTES} AS
SELECT symbol, time, sequence, q.broker AS broker, q.bid AS bid, q.ask AS ask,
       q.broker_time_us AS broker_time_us, q.bid_size AS bid_size, q.ask_size AS ask_size
FROM {TICKS} ARRAY JOIN broker_quotes AS q
"""

# Bar tables by interval: (table suffix, the ClickHouse expression of a bar's start).
BAR_INTERVALS: dict[int, tuple[str, str]] = {
    history_pb2.BAR_INTERVAL_1S: ("1s", "toDateTime(toStartOfSecond(time), 'UTC')"),
    history_pb2.BAR_INTERVAL_1M: ("1m", "toStartOfMinute(toDateTime(time, 'UTC'))"),
    history_pb2.BAR_INTERVAL_1H: ("1h", "toStartOfHour(toDateTime(time, 'UTC'))"),
    history_pb2.BAR_INTERVAL_1D: ("1d", "toDateTime(toStartOfDay(toDateTime(time, 'UTC')), 'UTC')"),
}


def bars_table(interval: int) -> str:
    """The table holding bars of `interval` (a BarInterval value)."""
    return f"market_bars_{BAR_INTERVALS[interval][0]}"


_BAR_SOURCE: dict[int, int | None] = {
    history_pb2.BAR_INTERVAL_1S: None,
    history_pb2.BAR_INTERVAL_1M: history_pb2.BAR_INTERVAL_1S,
    history_pb2.BAR_INTERVAL_1H: history_pb2.BAR_INTERVAL_1M,
    history_pb2.BAR_INTERVAL_1D: history_pb2.BAR_INTERVAL_1H,
}
"""What each interval's view reads: 1 s bars from the ticks, each longer interval from the
next shorter one's rows (merging their states), so only one view touches every tick: a
block of 50,000 ticks makes a few hundred 1 s rows, and the cascade costs next to nothing."""


# How each bar table is partitioned. A read pays a fixed cost per part it opens (about
# 0.2 ms each on chDB), and parts only merge within a partition: a year of 1 h bars read
# from monthly partitions opened 13+ parts (14 ms for the query) where yearly ones open
# 2-3 (7 ms). 1 s and 1 m bars stay monthly: their reads span hours to days, and monthly
# parts let the TTL drop whole parts of the big tables. Yearly parts of the small tables
# are trimmed row by row by the TTL instead (a merge rewrites a few MB at most).
_BAR_PARTITION: dict[int, str] = {
    history_pb2.BAR_INTERVAL_1S: "toYYYYMM(start)",
    history_pb2.BAR_INTERVAL_1M: "toYYYYMM(start)",
    history_pb2.BAR_INTERVAL_1H: "toYear(start)",
    history_pb2.BAR_INTERVAL_1D: "toYear(start)",
}


def bars_source(interval: int) -> str:
    """The table `interval`'s view reads."""
    source = _BAR_SOURCE[interval]
    return TICKS if source is None else bars_table(source)


def _bars(interval: int) -> tuple[str, str]:
    table = bars_table(interval)
    start = BAR_INTERVALS[interval][1]
    partition = _BAR_PARTITION[interval]
    # Open and close are the mid of the first and last tick by sequence, which the
    # aggregator assigns in ingest order; a merge keeps them exact (argMin/argMax states).
    create = f"""
CREATE TABLE IF NOT EXISTS {table} (
    symbol LowCardinality(String),
    start DateTime('UTC'),
    open AggregateFunction(argMin, Float64, UInt64),
    high SimpleAggregateFunction(max, Float64),
    low SimpleAggregateFunction(min, Float64),
    close AggregateFunction(argMax, Float64, UInt64),
    bid_close AggregateFunction(argMax, Float64, UInt64),
    ask_close AggregateFunction(argMax, Float64, UInt64),
    tick_count SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY {partition}
ORDER BY (symbol, start)
TTL start + INTERVAL {HISTORY_TTL_DAYS} DAY
SETTINGS ttl_only_drop_parts = {int(partition.startswith("toYYYYMM"))}
"""
    if _BAR_SOURCE[interval] is None:
        select = f"""SELECT symbol, {start} AS start,
       argMinState((bid + ask) / 2, sequence) AS open,
       max((bid + ask) / 2) AS high,
       min((bid + ask) / 2) AS low,
       argMaxState((bid + ask) / 2, sequence) AS close,
       argMaxState(bid, sequence) AS bid_close,
       argMaxState(ask, sequence) AS ask_close,
       toUInt64(count()) AS tick_count
FROM {TICKS}
GROUP BY symbol, start"""
    else:
        # The shorter bars' starts take the place of `time` in the interval's expression;
        # the inner query names the bucket apart from the `start` column it is made of.
        bucket = start.replace("time", "b.start")
        select = f"""SELECT symbol, bar_start AS start, open, high, low, close,
       bid_close, ask_close, tick_count
FROM (
    SELECT b.symbol AS symbol, {bucket} AS bar_start,
           argMinMergeState(b.open) AS open,
           max(b.high) AS high,
           min(b.low) AS low,
           argMaxMergeState(b.close) AS close,
           argMaxMergeState(b.bid_close) AS bid_close,
           argMaxMergeState(b.ask_close) AS ask_close,
           sum(b.tick_count) AS tick_count
    FROM {bars_source(interval)} AS b
    GROUP BY symbol, bar_start
)"""
    view = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS {table}_mv TO {table} AS
{select}
"""
    return create, view


# Order matters: every view before the first insert into market_ticks.
STATEMENTS: tuple[str, ...] = (
    MARKET_TICKS,
    MARKET_QUOTES,
    MARKET_QUOTES_MV,
    *(statement for interval in BAR_INTERVALS for statement in _bars(interval)),
)


def _repartition_bars(client: Client) -> None:
    """Rebuild a bar table whose partitioning is not _BAR_PARTITION's (stores made when
    every bar table was monthly), keeping its rows. The views into and out of it are
    dropped first (apply_market_schema makes them again), so nothing writes meanwhile;
    the swap is one EXCHANGE, and a copy left by a crash is dropped on the next start."""
    rows = client.query(
        "SELECT name, partition_key FROM system.tables"
        " WHERE database = currentDatabase() AND name LIKE 'market_bars_%'"
    ).result_rows
    found = {str(name): str(key) for name, key in rows}
    for interval, wanted in _BAR_PARTITION.items():
        table = bars_table(interval)
        copy = f"{table}_repartitioned"
        if copy in found:
            client.command(f"DROP TABLE {copy}")
        if table not in found or found[table].replace(" ", "") == wanted.replace(" ", ""):
            continue
        for other in BAR_INTERVALS:  # every view writing to or reading from the table
            if table in (bars_table(other), bars_source(other)):
                client.command(f"DROP VIEW IF EXISTS {bars_table(other)}_mv")
        create = _bars(interval)[0].replace(f"EXISTS {table} (", f"EXISTS {copy} (")
        client.command(create)
        client.command(f"INSERT INTO {copy} SELECT * FROM {table}")
        client.command(f"EXCHANGE TABLES {table} AND {copy}")
        client.command(f"DROP TABLE {copy}")


def apply_market_schema(client: Client) -> None:
    """Create every market-data table and view that is missing, and replace a bar view
    that reads another table than it should (stores made before the cascade read every
    bar interval from the ticks) and a bar table partitioned otherwise than
    _BAR_PARTITION says. Storage applies this before the recorder writes, so no insert
    passes while a view or table is replaced; the bars already stored stay valid."""
    _repartition_bars(client)
    for interval in BAR_INTERVALS:
        view = f"{bars_table(interval)}_mv"
        rows = client.query(
            "SELECT create_table_query FROM system.tables"
            " WHERE database = currentDatabase() AND name = {v:String}",
            parameters={"v": view},
        ).result_rows
        reads = rf"\bFROM (\w+\.)?{bars_source(interval)}\b"
        if rows and not re.search(reads, str(rows[0][0])):
            client.command(f"DROP VIEW {view}")
    for statement in STATEMENTS:
        client.command(statement)


# -- the Protobuf schema ClickHouse reads and writes ticks with ---------------------------

_SCALARS = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_UINT32: "uint32",
}


def _message_text(message: Any) -> str:
    lines = [f"message {message.name} {{"]
    for field in message.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            kind = field.message_type.name
        else:
            kind = _SCALARS[field.type]
        repeated = "repeated " if field.is_repeated else ""
        lines.append(f"  {repeated}{kind} {field.name} = {field.number};")
    lines.append("}")
    return "\n".join(lines)


def _write_schema(directory: Path, name: str, messages: list[Any]) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.proto"
    text = "\n\n".join(['syntax = "proto3";', *(_message_text(m) for m in messages)]) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return f"{path}:{messages[-1].name}"


def write_tick_schema(directory: Path) -> str:
    """Write the Tick and Quote messages (from the compiled contract, so they can never
    drift from it) as a .proto file ClickHouse can read; return its format_schema."""
    return _write_schema(
        directory, "tick", [market_pb2.Quote.DESCRIPTOR, market_pb2.Tick.DESCRIPTOR]
    )


def write_bar_schema(directory: Path) -> str:
    """The same for the Bar message (bars are written by ClickHouse as Protobuf too)."""
    return _write_schema(directory, "bar", [history_pb2.Bar.DESCRIPTOR])
