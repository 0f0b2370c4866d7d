"""Live usage counters per (company, user, tier), and the billed tick counters sessions use.

Billing: a session counts each delivered message's ticks into its `tick_counter`, the
meter's tally (a write into a shared file mapping that outlives a SIGKILL: about 0.2 us,
no syscall), so the meter spools them and recovers what a killed Bridge never spooled.

Reporting: sessions also count their own deliveries (two integer adds per message) and
are collected here by the registered sources (the fan-out) before every drain and every
read: a dict update per session per drain, never per message or tick, never a Redis call.
What a company was delivered in a period spans restarts: the count of this run plus what
earlier runs metered (the meter's ledger, kept in its spool, recovered ticks included);
what is recorded is what Storage acknowledged (the same ledger).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mesh.metering.ledger import KEEP_PERIODS, UsageLedger
from mesh.metering.tally import TallyCounter
from mesh.metering.vocabulary import TICK_ENDPOINT, TICK_SERVICE
from mesh.tiers import Tier


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


def _ignore(ticks: int) -> None:
    """Without a meter (tests of the fan-out alone) ticks are not billed."""


class UsageCounter:
    """One Bridge process's usage counters."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        ledger: UsageLedger | None = None,
        tick_counters: Callable[[UsageKey], TallyCounter] | None = None,
    ) -> None:
        self._clock = clock
        self._ledger = ledger
        self._tick_counters = tick_counters
        self._pending: dict[tuple[str, UsageKey], UsageCounts] = {}
        # (period, company) -> ticks delivered, starting from what earlier runs metered
        self._delivered: dict[tuple[str, str], int] = (
            ledger.earlier(TICK_SERVICE, TICK_ENDPOINT) if ledger else {}
        )
        self._period = ""
        self._period_ends = 0.0
        self.sources: list[Callable[[], None]] = []
        """Called before every drain and read: they add() what they counted since."""

    def tick_counter(self, key: UsageKey) -> Callable[[int], None]:
        """Counts the ticks `key` is billed for, one call per delivered message."""
        if self._tick_counters is None:
            return _ignore
        return self._tick_counters(key).add

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
            slot = (period, key.company_id)
            self._delivered[slot] = self._delivered.get(slot, 0) + ticks

    def drain(self) -> UsageDrain:
        """Take every delta counted since the previous drain, resetting them to zero."""
        self.collect()
        pending, self._pending = self._pending, {}
        return UsageDrain(uuid.uuid4().hex, pending)

    def restore(self, drained: UsageDrain) -> None:
        """The drain could not be stored: put its deltas back for the next drain."""
        for slot, counts in drained.deltas.items():
            pending = self._pending.get(slot)
            if pending is None:
                self._pending[slot] = UsageCounts(counts.ticks, counts.messages, counts.skipped)
            else:
                pending.add(counts)

    def company_usage(self, company_id: str, period: str) -> tuple[int, int]:
        """(ticks delivered, ticks Storage acknowledged) for `company_id` in `period` on
        this Bridge, over all its runs."""
        self.collect()
        delivered = self._delivered.get((period, company_id), 0)
        if self._ledger is None:
            return delivered, 0
        recorded = self._ledger.totals(company_id, period, TICK_SERVICE, TICK_ENDPOINT)
        return delivered, recorded.acknowledged

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
        keep = sorted({period for period, _ in self._delivered}, reverse=True)[: KEEP_PERIODS - 1]
        self._delivered = {k: v for k, v in self._delivered.items() if k[0] in keep}
