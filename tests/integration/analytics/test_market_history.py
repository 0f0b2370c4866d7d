"""Market-data history on chDB: recorded once per sequence, read back as ticks and bars."""

from __future__ import annotations

import pytest
from tickmesh.common.v1 import history_pb2, market_pb2
from tickmesh.storage.v1 import storage_pb2

from servers.storage.analytics import AnalyticsStore
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
