"""Live rates from cumulative counters: ticks/s per tier from successive readings of the
Bridges' per-company totals (Bridge.GetUsage). Plain code, driven by unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TIERS = ("free", "pro", "enterprise")


@dataclass
class RateMeter:
    """Turns readings of cumulative counts, keyed (instance, company), into rates per tier.

    A counter that goes down (its Bridge restarted) counts from zero again rather than
    giving a negative rate; a key seen for the first time gives no rate yet.
    """

    _last: dict[tuple[str, str], int] = field(default_factory=dict)
    _at: float | None = None
    by_instance: dict[str, float] = field(default_factory=dict)
    """After each update: the rate per instance (every company, whatever its tier)."""

    def update(
        self, now: float, totals: Mapping[tuple[str, str], int], tier_of: Mapping[str, str]
    ) -> dict[str, float]:
        """Rates per tier (every tier present, 0.0 when idle) since the previous reading."""
        rates = dict.fromkeys(TIERS, 0.0)
        self.by_instance = dict.fromkeys(sorted({key[0] for key in totals}), 0.0)
        elapsed = None if self._at is None else now - self._at
        if elapsed is not None and elapsed > 0:
            for key, total in totals.items():
                before = self._last.get(key)
                if before is None:
                    continue
                delta = total - before if total >= before else total
                self.by_instance[key[0]] += delta / elapsed
                tier = tier_of.get(key[1], "")
                if tier in rates:
                    rates[tier] += delta / elapsed
        self._last = dict(totals)
        self._at = now
        return rates
