"""The tenant's live price panel: folds a Subscribe stream's messages into the latest
price per symbol, as the tier projected them (the Bridge leaves out the fields and
symbols the tier lacks, so the panel shows exactly what the tenant buys). Plain code,
driven by unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2

from console.mesh_reader import tier_name

# Fields a tier may carry beyond bid/ask; a zero means the tier does not include it.
_EXTRAS = ("spread_pips", "quality_score", "liquidity_score")


def tick_row(tick: market_pb2.Tick) -> dict[str, Any]:
    """One symbol's row: bid, ask, the tier's extra fields it carries, and the broker count
    (enterprise's per-broker quotes)."""
    row: dict[str, Any] = {"symbol": tick.symbol, "bid": tick.bid, "ask": tick.ask}
    for name in _EXTRAS:
        value = getattr(tick, name)
        if value:
            row[name] = round(value, 4)
    if tick.broker_quotes:
        row["brokers"] = len(tick.broker_quotes)
    return row


@dataclass
class PriceBoard:
    """The latest row per symbol, what changed since the last event, and what the ack
    granted (tier, symbols, update interval)."""

    tier: str = ""
    symbols: list[str] = field(default_factory=list)
    refused: int = 0
    interval_ms: int = 0
    updates: int = 0
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    _changed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, message: bridge_pb2.SubscribeResponse) -> None:
        kind = message.WhichOneof("payload")
        if kind == "ack":
            ack = message.ack
            self.tier = tier_name(ack.tier)
            self.symbols = list(ack.symbols)
            self.refused = len(ack.refused)
            self.interval_ms = ack.update_interval_ms
            self._take(ack.snapshot.ticks, count=False)
        elif kind == "batch":
            self._take(message.batch.ticks, count=True)

    def _take(self, ticks: Any, *, count: bool) -> None:
        for tick in ticks:
            row = tick_row(tick)
            self.rows[tick.symbol] = row
            self._changed[tick.symbol] = row
            if count:
                self.updates += 1

    def event(self) -> dict[str, Any] | None:
        """What the browser needs since the previous event (None: nothing new)."""
        if not self._changed:
            return None
        changed, self._changed = list(self._changed.values()), {}
        return {
            "tier": self.tier,
            "symbols": len(self.symbols),
            "refused": self.refused,
            "interval_ms": self.interval_ms,
            "updates": self.updates,
            "prices": changed,
        }
