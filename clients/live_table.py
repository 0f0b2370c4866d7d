"""The model behind `tickmesh subscribe`'s live table: per-symbol price, rate, latency, skips."""

from __future__ import annotations

import textwrap
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tickmesh.common.v1 import market_pb2

RATE_WINDOW_S = 10.0
WIDTH = 80
"""The table fits a default terminal: no line is longer."""


@dataclass
class SymbolRow:
    """What the table shows for one symbol."""

    symbol: str
    bid: float = 0.0
    ask: float = 0.0
    spread_pips: float | None = None
    quality: float | None = None
    liquidity: float | None = None
    brokers: int = 0  # enterprise: how many brokers' quotes came with the tick
    broker: str = ""
    latency_ms: float = 0.0
    updates: int = 0
    recent: deque[float] = field(default_factory=deque)  # arrival times in the rate window

    def rate(self, now: float) -> float:
        """Updates per second over the last RATE_WINDOW_S seconds: the N-1 gaps between
        the first and last of N arrivals over the time they span (N arrivals over N-1
        gaps would overstate the rate, doubly so for slow tiers)."""
        while self.recent and self.recent[0] < now - RATE_WINDOW_S:
            self.recent.popleft()
        if len(self.recent) < 2 or self.recent[-1] <= self.recent[0]:
            return 0.0
        return (len(self.recent) - 1) / (self.recent[-1] - self.recent[0])


@dataclass
class LiveTable:
    """Folds ticks into rows; `render` draws them as text at most WIDTH columns wide."""

    clock: Callable[[], float] = time.time
    rows: dict[str, SymbolRow] = field(default_factory=dict)
    skipped: int = 0
    gaps: int = 0
    reconnects: int = 0
    last_seq: int = 0
    status: str = "connecting"
    notes: list[str] = field(default_factory=list)
    """Lines kept under the table on every redraw, e.g. the symbols left out and why."""

    def add_batch(
        self, batch: market_pb2.TickBatch, skipped: int, *, snapshot: bool = False
    ) -> None:
        """Fold in `batch`. A `snapshot` (the subscription's starting prices) fills the rows
        but is no update: its arrival is not counted in the rate, since the tier's first
        throttled update may follow it sooner than one interval."""
        now = self.clock()
        self.skipped += skipped
        self.last_seq = max(self.last_seq, batch.last_seq)
        for tick in batch.ticks:
            row = self.rows.get(tick.symbol) or self.rows.setdefault(
                tick.symbol, SymbolRow(tick.symbol)
            )
            row.bid, row.ask, row.broker = tick.bid, tick.ask, tick.broker
            row.spread_pips = tick.spread_pips or None
            row.quality = tick.quality_score or None
            row.liquidity = tick.liquidity_score or None
            row.brokers = len(tick.broker_quotes)
            row.latency_ms = max(0.0, now * 1000 - tick.ingest_time_us / 1000)
            if not snapshot:
                row.updates += 1
                row.recent.append(now)

    def render(self) -> list[str]:
        """The table as lines of text, none longer than WIDTH."""
        now = self.clock()
        rows = sorted(self.rows.values(), key=lambda r: r.symbol)
        # The enterprise fields get their columns once any row carries them.
        enterprise = any(r.liquidity is not None or r.brokers for r in rows)
        extra = f" {'liq':>4} {'quotes':>6}" if enterprise else ""
        lines = [
            f"{'symbol':<7} {'bid':>10} {'ask':>10} {'spread':>6} {'qual':>4} {'upd/s':>5} "
            f"{'latency':>8} {'updates':>7}{extra} broker"
        ]
        for row in rows:
            spread = _opt(row.spread_pips, 6, ".1f")
            quality = _opt(row.quality, 4, ".2f")
            extra = f" {_opt(row.liquidity, 4, '.2f')} {row.brokers:>6}" if enterprise else ""
            lines.append(
                f"{row.symbol:<7} {row.bid:>10.5f} {row.ask:>10.5f} {spread} {quality} "
                f"{row.rate(now):>5.1f} {row.latency_ms:>6.1f}ms {row.updates:>7}{extra} "
                f"{row.broker}"
            )
        lines = [line[:WIDTH] for line in lines]
        footer = (
            f"{self.status}; last seq {self.last_seq}; skipped {self.skipped}; "
            f"gaps {self.gaps}; reconnects {self.reconnects}"
        )
        for text in (footer, *self.notes):
            lines += textwrap.wrap(text, WIDTH, subsequent_indent="  ")
        return lines


def _opt(value: float | None, width: int, spec: str) -> str:
    return f"{value:>{width}{spec}}" if value is not None else f"{'-':>{width}}"
