"""Benchmark: the aggregator's CPU per quote and the upstream ticks and bytes per quote.

Usage: PYTHONPATH=$PWD:$PWD/generated .venv/bin/python bench/bench_tier_views.py

Drives the Aggregator alone (no gRPC, no event loop) with 60 s of the three synthetic
feeds at 3,000 quotes/s (seed 7, 20 ms steps, feeds kept connected), so two checkouts
see the same quotes: run it in each (PYTHONPATH pointing at the checkout) to compare.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from tickmesh.common.v1 import market_pb2

from servers.ingestion.aggregator import Aggregator
from servers.ingestion.collectors import synthetic_feeds
from servers.ingestion.quote import RawQuote

T0 = 1_700_000_000_000_000
STEP_US = 20_000
STEPS = 3_000  # 60 s


class _Sink:
    def __init__(self) -> None:
        self.quotes: list[RawQuote] = []

    def submit(self, quotes: Sequence[RawQuote]) -> None:
        self.quotes.extend(quotes)

    def set_broker_up(self, broker: str, up: bool, expected_rate: float | None = None) -> None:
        pass


def main() -> None:
    now = [T0]
    feeds = synthetic_feeds(_Sink(), total_rate=3000, seed=7, clock=lambda: now[0])
    batches: list[tuple[list[RawQuote], int]] = []
    for _ in range(STEPS):
        now[0] += STEP_US
        for feed in feeds:
            feed.up = True  # no random disconnects: both checkouts see the same quotes
            quotes = feed.step(now[0], STEP_US / 1e6)
            if quotes:
                batches.append((quotes, now[0]))
    aggregator = Aggregator(clock=lambda: T0)
    quotes_in = sum(len(quotes) for quotes, _ in batches)
    ticks: list[market_pb2.Tick] = []
    started = time.process_time()
    for quotes, at in batches:
        ticks += aggregator.ingest(quotes, at).ticks
    cpu_s = time.process_time() - started
    size = sum(tick.ByteSize() for tick in ticks)
    print(
        f"quotes {quotes_in:,}  ticks {len(ticks):,} ({len(ticks) / quotes_in:.2f}/quote)  "
        f"tick bytes/quote {size / quotes_in:.0f}  "
        f"aggregator {cpu_s / quotes_in * 1e6:.1f} us/quote"
    )


if __name__ == "__main__":
    main()
