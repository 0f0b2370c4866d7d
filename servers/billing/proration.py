"""Proration: what a tier change mid-period credits and charges, and a period's fee lines.

Rules (Granularity.DAY, the default):
- A change's instant is floored to 00:00 UTC: the day of the change is billed entirely
  at the new tier, for upgrades and downgrades alike, so a change on the 17th of a
  30-day month leaves 14 days (17th..30th) "unused" on the old tier.
- IMMEDIATE: credit = -(old price * unused days / days in month), charge = +(new price *
  unused days / days in month), each rounded half-up to the cent on its own.
- END_OF_TERM: no money now; the new tier starts at the next period's start.
- Several changes in one period compose: the first tier's fee, then one credit/charge
  pair per change. The pairs telescope, so each segment is billed at its own tier.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from itertools import pairwise

from mesh.errors import FailedPrecondition
from mesh.tiers import Tier, limits
from servers.billing.clock import require_utc
from servers.billing.lines import InvoiceLine, LineKind
from servers.billing.money import Money, total
from servers.billing.periods import BillingPeriod, Granularity, floor
from servers.billing.subscriptions import Segment

_UNIT_NAME = {Granularity.DAY: "days", Granularity.SECOND: "seconds"}


class ChangeEffect(enum.Enum):
    """When a tier change takes effect (the contract's ChangeEffect)."""

    IMMEDIATE = "immediate"
    END_OF_TERM = "end_of_term"


def monthly_price(tier: Tier) -> Money:
    """The tier's price for a whole month."""
    tier_limits = limits(tier)
    return Money(tier_limits.price_cents_per_month, tier_limits.currency)


def prorated(tier: Tier, units: int, period_units: int) -> Money:
    """`units` of `period_units` of the tier's monthly price, rounded half-up."""
    return monthly_price(tier).scaled(Fraction(units, period_units))


def subscription_line(
    period: BillingPeriod, first: Segment, granularity: Granularity = Granularity.DAY
) -> InvoiceLine:
    """The fee of the tier in force at the period start (or from when the first segment starts)."""
    units = period.units_in(first.start, period.end, granularity)
    whole = period.units(granularity)
    what = f"{first.tier} subscription {period}"
    if units != whole:  # joined mid-period: only the days it had
        what += f", {units} of {whole} {_UNIT_NAME[granularity]} from {_day(first.start)}"
    return InvoiceLine(
        LineKind.SUBSCRIPTION, what, prorated(first.tier, units, whole), first.tier, str(units)
    )


def change_lines(
    period: BillingPeriod,
    old: Tier,
    new: Tier,
    at: datetime,
    granularity: Granularity = Granularity.DAY,
) -> tuple[InvoiceLine, InvoiceLine]:
    """The credit for the unused rest of the period on `old`, and the charge for it on `new`."""
    units = period.units_in(at, period.end, granularity)
    whole = period.units(granularity)
    span = f"{units} of {whole} {_UNIT_NAME[granularity]} from {_day(at)}"
    credit = InvoiceLine(
        LineKind.PRORATION_CREDIT,
        f"unused {old}, {span}",
        -prorated(old, units, whole),
        old,
        str(units),
    )
    charge = InvoiceLine(
        LineKind.PRORATION_CHARGE, f"{new}, {span}", prorated(new, units, whole), new, str(units)
    )
    return credit, charge


def fee_lines(
    period: BillingPeriod,
    segments: Sequence[Segment],
    granularity: Granularity = Granularity.DAY,
) -> list[InvoiceLine]:
    """The subscription line of the first segment, then a credit/charge pair per change."""
    if not segments:
        return []
    lines = [subscription_line(period, segments[0], granularity)]
    for before, after in pairwise(segments):
        if before.tier != after.tier:
            lines.extend(change_lines(period, before.tier, after.tier, after.start, granularity))
    return lines


@dataclass(frozen=True, slots=True)
class ChangeQuote:
    """The outcome of a tier change: when it applies and the lines it adds to this period."""

    previous_tier: Tier
    tier: Tier
    effect: ChangeEffect
    effective_at: datetime
    lines: tuple[InvoiceLine, ...]

    @property
    def net(self) -> Money:
        """What the change costs this period (negative: the customer is owed money)."""
        return total(line.amount for line in self.lines)


def quote_change(
    current: Tier,
    new: Tier,
    effect: ChangeEffect,
    now: datetime,
    granularity: Granularity = Granularity.DAY,
) -> ChangeQuote:
    """Price a change asked for at `now`; the same lines the period's invoice will show.

    IMMEDIATE takes effect at `now` (entitlements switch at once; billing floors to the
    day). END_OF_TERM takes effect at the period end and moves no money now; asking for
    END_OF_TERM to the current tier cancels a pending change. An IMMEDIATE change to the
    current tier is refused: there is nothing to prorate.
    """
    now = require_utc(now, "now")
    period = BillingPeriod.containing(now)
    if effect is ChangeEffect.END_OF_TERM:
        return ChangeQuote(current, new, effect, period.end, ())
    if current == new:
        raise FailedPrecondition(f"already on {new}: an immediate change needs another tier")
    lines = change_lines(period, current, new, now, granularity)
    return ChangeQuote(current, new, effect, now, lines)


def _day(instant: datetime) -> str:
    return floor(instant, Granularity.DAY).date().isoformat()
