"""IngestionPipeline.submit and BrokerBoard: positions, reasons, counters, completeness."""

from __future__ import annotations

import math

from servers.ingestion.broker_health import BrokerBoard
from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.quote import RawQuote
from tests.unit.ingestion.helpers import T0, FakeClock


def test_submit_keeps_good_quotes_and_reports_bad_ones_by_position() -> None:
    clock = FakeClock()
    pipeline = IngestionPipeline(clock=clock)
    good = RawQuote("EURUSD", 1.085, 1.08502, "sidecar_x", T0 - 500)
    result = pipeline.submit(
        [
            good,
            good._replace(bid=math.nan),
            good._replace(broker="pepperstone", bid=1.08501, broker_time_us=0),  # stamped now
            good._replace(symbol=""),
            good._replace(broker="fxcm", bid=1.08499, ask=1.08503),
            good._replace(broker="ic_markets", bid=1.095, ask=1.09502),  # median outlier
        ]
    )
    assert result.accepted == 3
    assert [(i, r.split(":")[0]) for i, r in result.rejections] == [
        (1, "bid is not a finite number"),
        (3, "missing symbol"),
        (5, "outlier"),
    ]
    assert result.last_seq == pipeline.last_seq > pipeline.aggregator.start_seq
    reports = {r.broker: r for r in pipeline.board.reports(clock.now)}
    assert (reports["sidecar_x"].quotes, reports["sidecar_x"].rejected) == (3, 2)
    assert (reports["ic_markets"].quotes, reports["ic_markets"].rejected) == (1, 1)
    assert reports["pepperstone"].latency_p50_us == 0
    assert reports["sidecar_x"].latency_p50_us == 500


def test_ticks_reach_the_buffer_when_flushed() -> None:
    pipeline = IngestionPipeline(clock=FakeClock())
    pipeline.submit([RawQuote("EURUSD", 1.085, 1.08502, "ic_markets", T0)])
    assert len(pipeline.ring) == 0
    pipeline.flush()
    assert len(pipeline.ring) == 1 and pipeline.ring.oldest_seq == pipeline.last_seq


def test_completeness_counts_whole_seconds_against_the_expected_rate() -> None:
    board = BrokerBoard()
    board.set_up("ic_markets", True, T0, expected_rate=10)
    for second in range(30):
        for i in range(10 if second < 15 else 5):
            board.record("ic_markets", T0 + second * 1_000_000 + i, 1_000 + i, accepted=True)
    (report,) = board.reports(T0 + 30_000_000)
    assert report.completeness == (15 * 10 + 15 * 5) / (30 * 10)
    assert (report.latency_p50_us, report.latency_p99_us) == (1_003, 1_009)
    board.set_up("ic_markets", False, T0, expected_rate=10)
    (report,) = board.reports(T0 + 30_000_000)
    assert (report.up, report.disconnects) == (False, 1)
    # A broker without a collector is up while it talks and down after silence.
    board.record("sidecar_x", T0, 0, accepted=True)
    assert {r.broker: r.up for r in board.reports(T0 + 1_000_000)}["sidecar_x"]
    assert not {r.broker: r.up for r in board.reports(T0 + 60_000_000)}["sidecar_x"]
