"""Which brokers each tier's view of a symbol is computed from, and every switch of them.

A tier buys its sources (mesh.tiers: free fxcm; pro ic_markets + fxcm; enterprise all
three), so each tier sees its own best price. When one of a tier's brokers is stale or
down for a symbol, the view takes the next live broker of the tier's fallback list
(seed 003's emergency redundancy) and returns to the preferred one when it recovers.
Every change of a view's sources is a SourceSwitch with its cause: logged, counted and
kept for ListSourceSwitches.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from mesh.tiers import Tier

_log = logging.getLogger(__name__)

KEEP_SWITCHES = 10_000
"""Switches ListSourceSwitches can return (the newest)."""


def view_bit(tier: Tier) -> int:
    """The tier's bit in Tick.views (1 free, 2 pro, 4 enterprise)."""
    return tier.view_bit


@dataclass(frozen=True, slots=True)
class SourceSwitch:
    """A tier's view of a symbol changed its sources."""

    time_us: int
    tier: Tier
    symbol: str
    from_brokers: tuple[str, ...]
    to_brokers: tuple[str, ...]
    cause: str
    degraded: bool
    """Fewer live sources than the tier's redundancy target afterwards."""
    recovery: bool
    """A preferred source came back (rather than one being lost)."""


class SwitchLog:
    """Every source switch: logged, counted, and the newest kept for queries."""

    def __init__(self, keep: int = KEEP_SWITCHES) -> None:
        self._kept: deque[SourceSwitch] = deque(maxlen=keep)
        self.failovers = 0
        self.recoveries = 0

    def record(self, switch: SourceSwitch) -> None:
        """Keep, count and log one switch."""
        self._kept.append(switch)
        if switch.recovery:
            self.recoveries += 1
        else:
            self.failovers += 1
        level = logging.WARNING if switch.degraded else logging.INFO
        _log.log(
            level,
            "%s %s sources %s -> %s: %s",
            switch.tier.value,
            switch.symbol,
            ",".join(switch.from_brokers) or "-",
            ",".join(switch.to_brokers) or "-",
            switch.cause,
        )

    def query(
        self, since_us: int = 0, tier: Tier | None = None, symbol: str = ""
    ) -> list[SourceSwitch]:
        """Kept switches after `since_us`, of `tier` and `symbol` when given, oldest first."""
        return [
            s
            for s in self._kept
            if s.time_us > since_us
            and (tier is None or s.tier is tier)
            and (not symbol or s.symbol == symbol)
        ]


def switch_cause(
    before: tuple[str, ...],
    after: tuple[str, ...],
    why_not_live: Callable[[str], str | None],
) -> tuple[str, bool]:
    """Why the sources changed from `before` to `after`, and whether it is a recovery.

    `why_not_live(broker)` is None for a live broker, else the reason (down, stale).
    Brokers that left because they failed are explained, with their replacements (a
    failover); brokers that left while live were displaced by a preferred broker that
    is back (a recovery)."""
    failed = [(b, why) for b in before if b not in after if (why := why_not_live(b))]
    gained = [b for b in after if b not in before]
    if failed:
        parts = [f"{b} {why}" for b, why in failed]
        if gained:
            parts.append(f"failover to {', '.join(gained)}")
        return "; ".join(parts), False
    displaced = [b for b in before if b not in after]
    cause = f"{', '.join(gained) or 'sources'} live again"
    if displaced:
        cause += f"; back from {', '.join(displaced)}"
    return cause, True
