"""The model behind `tickmesh subscribe`'s live table: per-symbol price, rate, latency, skips."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tickmesh.common.v1 import market_pb2

RATE_WINDOW_S = 5.0


@dataclass
class SymbolRow:
    """What the table shows for one symbol."""

    symbol: str
    bid: float = 0.0
    ask: float = 0.0
    spread_pips: float | None = None
    quality: float | None = None
    broker: str = ""
    latency_ms: float = 0.0
    updates: int = 0
    recent: deque[float] = field(default_factory=deque)  # arrival times in the rate window

    def rate(self, now: float) -> float:
        """Updates per second over the last RATE_WINDOW_S seconds."""
        while self.recent and self.recent[0] < now - RATE_WINDOW_S:
            self.recent.popleft()
        span = min(RATE_WINDOW_S, max(now - self.recent[0], 1e-9)) if self.recent else 1.0
        return len(self.recent) / max(span, 1.0)


@dataclass
class LiveTable:
    """Folds ticks into rows; `render` draws them as text."""

    clock: Callable[[], float] = time.time
    rows: dict[str, SymbolRow] = field(default_factory=dict)
    skipped: int = 0
    gaps: int = 0
    reconnects: int = 0
    last_seq: int = 0
    status: str = "connecting"

    def add_batch(self, batch: market_pb2.TickBatch, skipped: int) -> None:
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
            row.latency_ms = max(0.0, now * 1000 - tick.ingest_time_us / 1000)
            row.updates += 1
            row.recent.append(now)

    def render(self) -> list[str]:
        """The table as lines of text."""
        now = self.clock()
        lines = [
            f"{'symbol':<8} {'bid':>12} {'ask':>12} {'spread':>7} {'quality':>7} "
            f"{'upd/s':>6} {'latency':>9} {'updates':>8}  broker"
        ]
        for row in sorted(self.rows.values(), key=lambda r: r.symbol):
            spread = f"{row.spread_pips:7.1f}" if row.spread_pips is not None else f"{'-':>7}"
            quality = f"{row.quality:7.2f}" if row.quality is not None else f"{'-':>7}"
            lines.append(
                f"{row.symbol:<8} {row.bid:>12.5f} {row.ask:>12.5f} {spread} {quality} "
                f"{row.rate(now):>6.1f} {row.latency_ms:>7.1f}ms {row.updates:>8}  {row.broker}"
            )
        lines.append(
            f"{self.status}; last seq {self.last_seq}; skipped {self.skipped}; "
            f"gaps {self.gaps}; reconnects {self.reconnects}"
        )
        return lines
