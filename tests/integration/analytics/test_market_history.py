"""Market-data history on chDB: recorded once per sequence, read back as ticks and bars."""

from __future__ import annotations

import pytest
from tickmesh.common.v1 import history_pb2, market_pb2
from tickmesh.storage.v1 import storage_pb2

from servers.storage.analytics import AnalyticsStore, market_schema
from servers.storage.analytics.market import MarketStore, open_market_history

pytestmark = pytest.mark.asyncio(loop_scope="session")
BASE_US = 1_780_000_000_000_000  # 2026-05-28 20:26:40 UTC
SECOND = 1_000_000


def _ticks(
    symbol: str, sequences: range, origin: int, step_us: int = 100_000
) -> market_pb2.TickBatch:
    batch = market_pb2.TickBatch()
    for n in sequences:
        batch.ticks.add(
            symbol=symbol, bid=1.0 + n % 7 / 1000, ask=1.0002 + n % 7 / 1000, broker="fxcm",
            ingest_time_us=BASE_US + (n - origin) * step_us, sequence=n, spread_pips=2.0,
            broker_quotes=[market_pb2.Quote(symbol=symbol, bid=1.0, ask=1.1, broker=b)
                           for b in ("fxcm", "ic_markets")],
        )  # fmt: skip
    return batch


async def test_each_sequence_is_recorded_once_and_read_back(
    store: AnalyticsStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    schemas = tmp_path_factory.mktemp("schemas")
    history = await open_market_history(store, schemas)
    base = history.last_seq  # other tests of the package may have recorded before
    symbol = "HISTAA"
    first = _ticks(symbol, range(base + 1, base + 101), base)
    done = await history.record_batch(first)
    assert (done.recorded, done.duplicates, done.last_seq) == (100, 0, base + 100)

    # A replay, and a batch straddling the watermark: only the new ticks are stored.
    assert (await history.record_batch(first)).duplicates == 100
    straddling = await history.record_batch(_ticks(symbol, range(base + 51, base + 151), base))
    assert (straddling.recorded, straddling.duplicates) == (50, 50)

    # The watermark is the table's: a store opened again resumes after the last tick.
    reopened = await store.run(lambda: MarketStore(store.client(), schemas))
    assert reopened.last_seq == base + 150

    page = await history.tick_page(
        symbol, BASE_US, BASE_US + 10**12, ["symbol", "bid", "ask"], None, 10_000
    )
    ticks = market_pb2.TickBatch.FromString(page.batch).ticks
    assert [t.sequence for t in ticks] == list(range(base + 1, base + 151))
    assert not any(t.broker_quotes or t.spread_pips for t in ticks)  # only what was asked
    # Pages continue after the cursor without overlap.
    head = await history.tick_page(symbol, BASE_US, BASE_US + 10**12, [], None, 60)
    tail = await history.tick_page(
        symbol,
        BASE_US,
        BASE_US + 10**12,
        ["broker_quotes"],
        (head.last_time_us, head.last_seq),
        10_000,
    )
    assert head.count + tail.count == 150
    assert market_pb2.TickBatch.FromString(tail.batch).ticks[0].sequence == head.last_seq + 1
    assert len(market_pb2.TickBatch.FromString(tail.batch).ticks[0].broker_quotes) == 2

    # 1 s bars equal what the ticks give (10 ticks a second here).
    raw = await history.bars(symbol, history_pb2.BAR_INTERVAL_1S, BASE_US, BASE_US + 10**12, 1000)
    bars = storage_pb2.QueryBarsResponse.FromString(raw).bars
    assert sum(b.tick_count for b in bars) == 150
    recorded = list(ticks)
    for bar in bars:
        inside = [
            t
            for t in recorded
            if bar.start_time_us <= t.ingest_time_us < bar.start_time_us + SECOND
        ]
        mids = [(t.bid + t.ask) / 2 for t in inside]
        assert (bar.open, bar.high, bar.low, bar.close) == (mids[0], max(mids), min(mids), mids[-1])
        assert (bar.bid_close, bar.ask_close) == (inside[-1].bid, inside[-1].ask)

    latest = await history.latest([symbol, "NOSUCH"])
    assert [t.sequence for t in latest] == [base + 150]
    ticks_count, quotes_count = await history.counts()
    assert ticks_count >= 150 and quotes_count >= 300


INTERVAL_US = {
    history_pb2.BAR_INTERVAL_1S: SECOND,
    history_pb2.BAR_INTERVAL_1M: 60 * SECOND,
    history_pb2.BAR_INTERVAL_1H: 3600 * SECOND,
    history_pb2.BAR_INTERVAL_1D: 86_400 * SECOND,
}


async def test_every_interval_equals_brute_force_across_separate_writes(
    store: AnalyticsStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Longer bars merge the shorter bars' states (a cascade of views), so bars that
    # straddle several writes must still come out exact.
    history = await open_market_history(store, tmp_path_factory.mktemp("schemas"))
    base = history.last_seq
    symbol = "HISTCC"
    every_37_min = 37 * 60 * SECOND + 123_457
    batches = [
        _ticks(symbol, range(base + 1 + part * 40, base + 41 + part * 40), base, every_37_min)
        for part in range(3)  # 120 ticks over ~3 days, in three writes
    ]
    for batch in batches:
        assert (await history.record_batch(batch)).recorded == 40
    recorded = [t for batch in batches for t in batch.ticks]
    for interval, width in INTERVAL_US.items():
        raw = await history.bars(
            symbol, interval, BASE_US - 86_400 * SECOND, BASE_US + 10**13, 10_000
        )
        bars = storage_pb2.QueryBarsResponse.FromString(raw).bars
        assert sum(b.tick_count for b in bars) == 120, interval
        for bar in bars:
            inside = [
                t
                for t in recorded
                if bar.start_time_us <= t.ingest_time_us < bar.start_time_us + width
            ]
            mids = [(t.bid + t.ask) / 2 for t in inside]
            assert bar.tick_count == len(inside)
            assert (bar.open, bar.high, bar.low, bar.close) == (
                mids[0],
                max(mids),
                min(mids),
                mids[-1],
            ), interval
            assert (bar.bid_close, bar.ask_close) == (inside[-1].bid, inside[-1].ask)


async def test_a_store_made_before_the_cascade_gets_its_bar_views_replaced(
    store: AnalyticsStore,
) -> None:
    def views() -> dict[str, str]:
        rows = (
            store.client()
            .query(
                "SELECT name, create_table_query FROM system.tables"
                " WHERE database = currentDatabase() AND name LIKE 'market_bars_%_mv'"
            )
            .result_rows
        )
        return {str(name): str(query) for name, query in rows}

    def make_old_and_migrate() -> tuple[dict[str, str], dict[str, str]]:
        client = store.client()
        market_schema.apply_market_schema(client)
        # The 1 h view as stores made before the cascade have it: reading every tick.
        client.command("DROP VIEW market_bars_1h_mv")
        client.command(
            market_schema._bars(history_pb2.BAR_INTERVAL_1S)[1]
            .replace("market_bars_1s", "market_bars_1h")
            .replace("toStartOfSecond(time)", "toStartOfHour(time)")
        )
        before = views()
        market_schema.apply_market_schema(client)
        return before, views()

    before, after = await store.run(make_old_and_migrate)
    assert "FROM default.market_ticks" in before["market_bars_1h_mv"]
    assert "FROM default.market_bars_1m AS b" in after["market_bars_1h_mv"]
    assert "FROM default.market_ticks" in after["market_bars_1s_mv"]
    assert "FROM default.market_bars_1s AS b" in after["market_bars_1m_mv"]
    assert "FROM default.market_bars_1h AS b" in after["market_bars_1d_mv"]


async def test_a_store_with_monthly_long_bars_is_repartitioned_keeping_its_bars(
    store: AnalyticsStore, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_bars = ("market_bars_1h", "market_bars_1d")
    history = await open_market_history(store, tmp_path_factory.mktemp("schemas"))
    base = history.last_seq
    symbol = "HISTRP"
    every_5_h = 5 * 3600 * SECOND
    await history.record_batch(_ticks(symbol, range(base + 1, base + 41), base, every_5_h))

    def partition_keys() -> dict[str, str]:
        rows = (
            store.client()
            .query(
                "SELECT name, partition_key FROM system.tables"
                " WHERE database = currentDatabase() AND name IN {names:Array(String)}",
                parameters={"names": list(long_bars)},
            )
            .result_rows
        )
        return {str(name): str(key) for name, key in rows}

    def tick_counts() -> dict[str, int]:
        return {
            table: int(
                store.client()
                .query(
                    f"SELECT sum(tick_count) FROM {table} WHERE symbol = {{s:String}}",
                    parameters={"s": symbol},
                )
                .result_rows[0][0]
            )
            for table in long_bars
        }

    # A store as they were made before: every bar table partitioned by month.
    for interval in (history_pb2.BAR_INTERVAL_1H, history_pb2.BAR_INTERVAL_1D):
        monkeypatch.setitem(market_schema._BAR_PARTITION, interval, "toYYYYMM(start)")
    await store.run(lambda: market_schema.apply_market_schema(store.client()))
    old_keys, old_counts = await store.run(partition_keys), await store.run(tick_counts)
    monkeypatch.undo()

    await store.run(lambda: market_schema.apply_market_schema(store.client()))
    assert old_keys == {table: "toYYYYMM(start)" for table in long_bars}
    assert await store.run(partition_keys) == {table: "toYear(start)" for table in long_bars}
    assert await store.run(tick_counts) == old_counts == {table: 40 for table in long_bars}
    # The views into and out of the rebuilt tables are back: new ticks reach the 1 d bars.
    await history.record_batch(_ticks(symbol, range(base + 41, base + 51), base, every_5_h))
    assert await store.run(tick_counts) == {table: 50 for table in long_bars}
    assert not await store.query("SELECT name FROM system.tables WHERE name LIKE '%_repartitioned'")
