"""Shared helpers of the ingestion unit tests: a settable clock and tick-making quotes."""

from __future__ import annotations

from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.quote import RawQuote

T0 = 1_700_000_000_000_000


class FakeClock:
    """Unix microseconds that move only when a test moves them."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def ticking_quotes(count: int, symbol: str = "EURUSD", start: int = 0) -> list[RawQuote]:
    """Quotes from one broker whose best bid changes every time: one tick each."""
    base, step = (150.5, 0.001) if symbol.endswith("JPY") else (1.085, 0.00001)
    # Alternating up and down keeps every price within the outlier bounds.
    return [
        RawQuote(
            symbol,
            round(base + step * ((start + i) % 2), 5),
            round(base + step * 3, 5),
            "ic_markets",
            T0 - 1_000,
        )
        for i in range(count)
    ]


def publish(pipeline: IngestionPipeline, count: int, symbol: str = "EURUSD") -> None:
    """Make `count` ticks and publish them as one chunk."""
    start = pipeline.last_seq
    result = pipeline.submit(ticking_quotes(count, symbol, start))
    assert result.accepted == count and not result.rejections, result
    pipeline.flush()
