"""BatchPublisher: batches at most once per interval, counted from the last publish, so
ticks after a quiet spell go out on the next loop turn and a busy feed still batches."""

from __future__ import annotations

import asyncio

from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.quote import RawQuote
from tests.unit.ingestion.helpers import T0, FakeClock


def _pipeline(interval_s: float) -> IngestionPipeline:
    return IngestionPipeline(clock=FakeClock(), batch_interval_s=interval_s)


def _quote(symbol: str, bid: float) -> RawQuote:
    return RawQuote(symbol, bid, bid + 0.0002, "sidecar_x", T0 - 500)


def _batches(pipeline: IngestionPipeline) -> list[list[str]]:
    return [sorted(chunk.symbols) for chunk in pipeline.ring.since(0).chunks]


async def test_after_a_quiet_spell_one_turns_ticks_go_out_together_on_the_next_turn() -> None:
    pipeline = _pipeline(interval_s=3600.0)  # no interval can pass during the test
    pipeline.submit([_quote("EURUSD", 1.085)])
    pipeline.submit([_quote("GBPUSD", 1.27)])  # same loop turn: same batch
    assert _batches(pipeline) == []
    await asyncio.sleep(0)  # the loop's next turn
    assert _batches(pipeline) == [["EURUSD", "GBPUSD"]]


async def test_within_an_interval_of_the_last_publish_ticks_wait_for_it() -> None:
    pipeline = _pipeline(interval_s=3600.0)
    pipeline.submit([_quote("EURUSD", 1.085)])
    await asyncio.sleep(0)
    pipeline.submit([_quote("USDJPY", 151.2)])
    for _ in range(3):
        await asyncio.sleep(0)
    assert _batches(pipeline) == [["EURUSD"]]  # held: the interval has not passed
    pipeline.publisher.close()  # what a stopping Ingestion does: publish what is held
    assert _batches(pipeline) == [["EURUSD"], ["USDJPY"]]
