"""Live usage counters per (company, user, tier), drained exactly once for metering.

Sessions count their own deliveries (two integer adds per message) and are collected
here by the registered sources (the fan-out) before every drain and every read: a dict
update per session per drain, never per message or tick, never a Redis call.
`drain()` swaps the pending deltas out in one step with no await in between, so every
count lands in exactly one drain; the flusher then `confirm()`s it once Storage has it,
or `restore()`s it to retry later. Each drain has an id, so a flusher that retries the
same drain after a lost reply lets Storage's idempotent RecordUsage drop the repeat.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mesh.tiers import Tier

KEEP_PERIODS = 3  # billing periods whose totals GetUsage can still answer


@dataclass(frozen=True, slots=True)
class UsageKey:
    """Who consumed: usage is rated per company, shown per user, priced per tier."""

    company_id: str
    user_id: str
    tier: Tier


@dataclass(slots=True)
class UsageCounts:
    """Delivered ticks and messages, and updates conflated away (skipped)."""

    ticks: int = 0
    messages: int = 0
    skipped: int = 0

    def add(self, other: UsageCounts) -> None:
        """Add `other` into these counts."""
        self.ticks += other.ticks
        self.messages += other.messages
        self.skipped += other.skipped


@dataclass(frozen=True, slots=True)
class UsageDrain:
    """Deltas taken out by one drain(), per billing period ("YYYY-MM") and key."""

    drain_id: str
    deltas: dict[tuple[str, UsageKey], UsageCounts] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when nothing was counted since the previous drain."""
        return not self.deltas


@dataclass(slots=True)
class _Totals:
    delivered: int = 0
    recorded: int = 0


class UsageCounter:
    """One Bridge process's usage counters."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._pending: dict[tuple[str, UsageKey], UsageCounts] = {}
        self._totals: dict[tuple[str, str], _Totals] = {}  # (period, company) -> ticks
        self._period = ""
        self._period_ends = 0.0
        self.sources: list[Callable[[], None]] = []
        """Called before every drain and read: they add() what they counted since."""

    def collect(self) -> None:
        """Bring in what the sources counted since the last collection."""
        for source in self.sources:
            source()

    def add(self, key: UsageKey, *, ticks: int = 0, messages: int = 0, skipped: int = 0) -> None:
        """Count what one session just delivered (or conflated away)."""
        period = self.current_period()
        counts = self._pending.get((period, key))
        if counts is None:
            counts = self._pending[(period, key)] = UsageCounts()
        counts.ticks += ticks
        counts.messages += messages
        counts.skipped += skipped
        if ticks:
            self._total(period, key.company_id).delivered += ticks

    def drain(self) -> UsageDrain:
        """Take every delta counted since the previous drain, resetting them to zero."""
        self.collect()
        pending, self._pending = self._pending, {}
        return UsageDrain(uuid.uuid4().hex, pending)

    def confirm(self, drained: UsageDrain) -> None:
        """The drain is stored: its ticks now count as recorded."""
        for (period, key), counts in drained.deltas.items():
            self._total(period, key.company_id).recorded += counts.ticks

    def restore(self, drained: UsageDrain) -> None:
        """The drain could not be stored: put its deltas back for the next drain."""
        for slot, counts in drained.deltas.items():
            pending = self._pending.get(slot)
            if pending is None:
                self._pending[slot] = UsageCounts(counts.ticks, counts.messages, counts.skipped)
            else:
                pending.add(counts)

    def company_usage(self, company_id: str, period: str) -> tuple[int, int]:
        """(ticks delivered, ticks recorded) for `company_id` in `period` on this Bridge."""
        self.collect()
        totals = self._totals.get((period, company_id))
        return (totals.delivered, totals.recorded) if totals else (0, 0)

    def current_period(self) -> str:
        """The billing period now, "YYYY-MM" (UTC)."""
        now = self._clock()
        if now >= self._period_ends or not self._period:
            self._roll(now)
        return self._period

    def _roll(self, now: float) -> None:
        # Recomputed once per month, not per call: add() runs once per message.
        moment = datetime.fromtimestamp(now, UTC)
        self._period = moment.strftime("%Y-%m")
        year, month = divmod(moment.year * 12 + moment.month, 12)  # the next month, 0-based
        self._period_ends = datetime(year, month + 1, 1, tzinfo=UTC).timestamp()
        keep = sorted({period for period, _ in self._totals}, reverse=True)[: KEEP_PERIODS - 1]
        self._totals = {k: v for k, v in self._totals.items() if k[0] in keep}

    def _total(self, period: str, company_id: str) -> _Totals:
        totals = self._totals.get((period, company_id))
        if totals is None:
            totals = self._totals[(period, company_id)] = _Totals()
        return totals
