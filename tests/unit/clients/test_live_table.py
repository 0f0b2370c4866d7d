"""The live table folds ticks into per-symbol rows: price, rate, latency, skips."""

from __future__ import annotations

from tickmesh.common.v1 import market_pb2

from clients.live_table import LiveTable


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _batch(
    seq: int, symbol: str, bid: float, ingest_s: float, spread: float = 0.0
) -> market_pb2.TickBatch:
    tick = market_pb2.Tick(
        symbol=symbol, bid=bid, ask=bid + 0.0001, broker="fxcm", sequence=seq,
        ingest_time_us=int(ingest_s * 1e6), spread_pips=spread,
    )  # fmt: skip
    return market_pb2.TickBatch(ticks=[tick], first_seq=seq, last_seq=seq)


def test_rows_track_latest_price_rate_latency_and_skips() -> None:
    clock = Clock()
    table = LiveTable(clock=clock)
    for i in range(10):  # one EURUSD update a second for 10 s, each 5 ms old on arrival
        clock.now = 1_000.0 + i
        table.add_batch(_batch(i + 1, "EURUSD", 1.08 + i / 1e4, clock.now - 0.005), skipped=i % 2)
    row = table.rows["EURUSD"]
    assert row.updates == 10 and round(row.bid, 4) == 1.0809
    assert round(row.latency_ms, 3) == 5.0
    assert 0.9 <= row.rate(clock.now) <= 1.25  # the last 5 s hold 5-6 updates
    assert table.skipped == 5 and table.last_seq == 10


def test_render_shows_tier_fields_only_when_present() -> None:
    table = LiveTable(clock=Clock())
    table.add_batch(_batch(1, "EURUSD", 1.08, 999.99), 0)  # free: no spread
    table.add_batch(_batch(2, "GBPUSD", 1.27, 999.99, spread=0.8), 0)  # pro: spread
    lines = table.render()
    eur = next(line for line in lines if line.startswith("EURUSD"))
    gbp = next(line for line in lines if line.startswith("GBPUSD"))
    assert " - " in eur and "0.8" in gbp
    assert lines[-1].startswith("connecting; last seq 2")


def test_rate_counts_gaps_not_arrivals() -> None:
    # A free tier's promise, one update every 200 ms: 5 upd/s, not 5 * N/(N-1).
    clock = Clock()
    table = LiveTable(clock=clock)
    for i in range(4):
        clock.now = 1_000.0 + i * 0.2
        table.add_batch(_batch(i + 1, "EURUSD", 1.08, clock.now), 0)
    assert abs(table.rows["EURUSD"].rate(clock.now) - 5.0) < 1e-9


def test_every_line_fits_80_columns_and_enterprise_fields_get_columns() -> None:
    clock = Clock()
    table = LiveTable(clock=clock, status="tier enterprise, every 0 ms, features " + "x" * 90)
    tick = market_pb2.Tick(
        symbol="XAUUSD", bid=2345.12345, ask=2345.32345, broker="interactive_brokers",
        sequence=1, ingest_time_us=int(clock.now * 1e6), spread_pips=20.0, quality_score=0.9,
        liquidity_score=0.75,
        broker_quotes=[market_pb2.Quote(symbol="XAUUSD", broker=b) for b in ("a", "b", "c")],
    )  # fmt: skip
    table.add_batch(market_pb2.TickBatch(ticks=[tick], first_seq=1, last_seq=1), 0)
    table.notes.append("left out EURUDS: unknown symbol; did you mean EURUSD?")
    lines = table.render()
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]
    assert "liq" in lines[0] and "quotes" in lines[0]
    row = lines[1].split()
    assert row[0] == "XAUUSD" and "0.75" in row and "3" in row
    assert lines[-1] == "left out EURUDS: unknown symbol; did you mean EURUSD?"


def test_free_and_pro_tables_have_no_enterprise_columns() -> None:
    table = LiveTable(clock=Clock())
    table.add_batch(_batch(1, "EURUSD", 1.08, 999.99, spread=0.8), 0)
    assert "liq" not in table.render()[0]
