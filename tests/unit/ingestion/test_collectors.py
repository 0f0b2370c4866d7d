"""Synthetic feeds (seeded, stepped with a fake clock) and the CSV replay collector."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from servers.ingestion.collectors import (
    PROFILES,
    CollectorSet,
    ReplayCollector,
    SyntheticFeed,
    SyntheticMarket,
    synthetic_feeds,
)
from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.quote import RawQuote
from servers.ingestion.symbols import UNIVERSE
from tests.unit.ingestion.helpers import T0, FakeClock

STEP_US = 20_000


def run_feeds(
    feeds: Sequence[SyntheticFeed], sink: IngestionPipeline, clock: FakeClock, steps: int
) -> list[RawQuote]:
    quotes: list[RawQuote] = []
    for feed in feeds:
        feed.connect()
    for _ in range(steps):
        clock.now += STEP_US
        for feed in feeds:
            batch = feed.step(clock.now, STEP_US / 1e6)
            quotes += batch
            sink.submit(batch)
    return quotes


def test_the_universe_is_larger_than_the_majors_and_consistent() -> None:
    assert len(UNIVERSE) > 28
    assert sum(spec.major for spec in UNIVERSE.values()) == 28
    assert UNIVERSE["USDJPY"].digits == 3 and UNIVERSE["USDJPY"].pip_size == 0.01
    assert UNIVERSE["EURUSD"].digits == 5 and UNIVERSE["XAUUSD"].digits == 2
    # Crosses agree with their legs.
    cross = UNIVERSE["EURUSD"].mid * UNIVERSE["USDJPY"].mid
    assert UNIVERSE["EURJPY"].mid == pytest.approx(cross, rel=1e-4)


def test_seeded_feeds_are_reproducible_and_sane() -> None:
    runs = []
    for _ in range(2):
        clock = FakeClock()
        pipeline = IngestionPipeline(clock=clock)
        feeds = synthetic_feeds(pipeline, total_rate=3_000, seed=42, clock=clock)
        runs.append(run_feeds(feeds, pipeline, clock, steps=250))  # 5 s of market
    assert runs[0] == runs[1]
    quotes = runs[0]
    assert 14_000 < len(quotes) <= 15_000  # 3,000/s for 5 s, less dropouts
    assert {q.broker for q in quotes} == {p.name for p in PROFILES}
    for quote in quotes:
        spec = UNIVERSE[quote.symbol]
        assert quote.ask > quote.bid
        assert quote.bid == round(quote.bid, spec.digits)
        assert quote.broker_time_us < T0 + 250 * STEP_US  # stamped before arrival
    # Apart from the deliberate outliers, prices stay near the reference mid over 5 s.
    near = [q for q in quotes if abs(q.mid / UNIVERSE[q.symbol].mid - 1) < 0.01]
    assert len(near) > 0.99 * len(quotes)


def test_deliberate_outliers_are_refused_and_counted_per_broker() -> None:
    clock = FakeClock()
    pipeline = IngestionPipeline(clock=clock)
    noisy = tuple(dataclasses.replace(p, outlier_rate=0.02) for p in PROFILES)
    feeds = synthetic_feeds(pipeline, total_rate=3_000, seed=7, clock=clock, profiles=noisy)
    run_feeds(feeds, pipeline, clock, steps=250)
    made = {feed.name: feed.outliers for feed in feeds}
    rejected = {r.broker: r.rejected for r in pipeline.board.reports(clock.now)}
    for broker, count in made.items():
        assert count > 20
        # Nearly all caught, very few good quotes refused.
        assert 0.9 * count <= rejected[broker] <= 1.1 * count


def test_a_simulated_disconnect_shows_in_broker_status() -> None:
    clock = FakeClock()
    pipeline = IngestionPipeline(clock=clock)
    flaky = dataclasses.replace(PROFILES[2], mean_uptime_s=0.5, downtime_s=(1.0, 1.0))
    market = SyntheticMarket(UNIVERSE, random.Random(1), T0)
    feed = SyntheticFeed(flaky, market, pipeline, rate=500, rng=random.Random(2))
    feed.connect()
    saw_down = False
    for _ in range(500):  # 10 s
        clock.now += STEP_US
        pipeline.submit(feed.step(clock.now, STEP_US / 1e6))
        (report,) = pipeline.board.reports(clock.now)
        saw_down = saw_down or not report.up
    assert saw_down and feed.disconnects > 0
    assert report.disconnects == feed.disconnects
    assert report.completeness < 0.9  # quotes missed while down
    assert report.latency_p50_us > 0


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


async def test_replay_as_fast_as_possible(tmp_path: Path) -> None:
    clock = FakeClock()
    pipeline = IngestionPipeline(clock=clock)
    path = write_csv(
        tmp_path / "quotes.csv",
        [
            "time,broker,symbol,bid,ask,bid_size,ask_size",
            "2024-05-01T10:00:00Z,lmax,EURUSD,1.08500,1.08502,1000000,1000000",
            "2024-05-01T10:00:00.5Z,lmax,EURUSD,1.08501,1.08503,,",
            "2024-05-01T10:00:01,lmax,EURUSD,abc,1.08503,,",
            "not a time,lmax,EURUSD,1.08501,1.08503,,",
        ],
    )
    replay = ReplayCollector(path, pipeline, speed=0, clock=clock)
    await replay.run()
    assert (replay.played, replay.skipped, replay.done) == (3, 1, True)
    (report,) = pipeline.board.reports(clock.now)
    assert (report.broker, report.quotes, report.rejected, report.up) == ("lmax", 3, 1, False)
    assert pipeline.last_seq == pipeline.aggregator.start_seq + 2


async def test_replay_at_recorded_pace_rebases_broker_time(tmp_path: Path) -> None:
    clock = FakeClock()
    received: list[RawQuote] = []

    class Sink:
        def submit(self, quotes: Sequence[RawQuote]) -> None:
            received.extend(quotes)

        def set_broker_up(self, broker: str, up: bool, expected_rate: float | None = None) -> None:
            pass

    path = write_csv(
        tmp_path / "paced.csv",
        [
            "broker_time_us,broker,symbol,bid,ask",
            "1000000,lmax,EURUSD,1.085,1.08502",
            "1002000,lmax,EURUSD,1.085,1.08503",
            "1004000,lmax,USDJPY,150.5,150.503",
        ],
    )
    await ReplayCollector(path, Sink(), speed=100, clock=clock).run()
    # Recorded offsets of 2 ms at 100x speed are 20 us apart from the start.
    assert [q.broker_time_us for q in received] == [T0, T0 + 20, T0 + 40]


def test_a_replay_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", ["symbol,bid,ask", "EURUSD,1,2"])
    with pytest.raises(ValueError, match="broker, broker_time_us or time"):
        ReplayCollector(path, IngestionPipeline(), speed=0, clock=FakeClock())


async def test_collector_set_starts_and_stops_tasks() -> None:
    ran: list[str] = []
    never = asyncio.Event()

    async def forever() -> None:
        ran.append("started")
        await never.wait()

    collectors = CollectorSet([("a", forever), ("b", forever)])
    collectors.start()
    assert collectors.started
    await asyncio.sleep(0)
    await collectors.stop()
    assert ran == ["started", "started"] and not collectors.started
