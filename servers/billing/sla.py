"""SLA credits: the share of a tier's fee credited when measured availability falls short.

| measured availability (percent)   | credit of the tier's fee for the period |
|-----------------------------------|-----------------------------------------|
| >= target                         | 0 %                                     |
| < target                          | 10 %                                    |
| < target - 0.9 pp                 | 25 %                                    |
| < 95                              | 50 %                                    |

Targets come from mesh.tiers: free 99 (fee $0, so never a credit), pro 99.9 (25 % below
99.0), enterprise 99.99 (25 % below 99.09). The deepest row that applies wins.
"""

from __future__ import annotations

from decimal import Decimal

from mesh.tiers import Tier, limits

# (availability strictly below `target + offset`, or the absolute floor, -> percent credited)
RELATIVE_STEPS: tuple[tuple[Decimal, int], ...] = ((Decimal("0"), 10), (Decimal("-0.9"), 25))
ABSOLUTE_STEPS: tuple[tuple[Decimal, int], ...] = ((Decimal("95"), 50),)


def target(tier: Tier) -> Decimal:
    """The tier's promised uptime, percent."""
    return limits(tier).uptime_sla_percent


def check_availability(measured: Decimal) -> Decimal:
    """`measured` if it is an exact percentage 0..100; ValueError otherwise (floats too)."""
    if not isinstance(measured, Decimal) or not measured.is_finite():
        raise ValueError(f"availability must be a finite Decimal, got {measured!r}")
    if not Decimal(0) <= measured <= Decimal(100):
        raise ValueError(f"availability must be 0..100 percent, got {measured}")
    return measured


def credit_percent(tier: Tier, measured: Decimal | None) -> int:
    """Percent of the fee credited for `measured` availability (None: no data, no credit)."""
    if measured is None:
        return 0
    measured = check_availability(measured)
    goal = target(tier)
    steps = [(goal + offset, pct) for offset, pct in RELATIVE_STEPS] + list(ABSOLUTE_STEPS)
    return max((pct for below, pct in steps if measured < below), default=0)


def met(tier: Tier, measured: Decimal | None) -> bool:
    """True when the SLA held (or nothing was measured)."""
    return measured is None or check_availability(measured) >= target(tier)


PATTERN_MINUTES = 3
"""Missed minutes in a period that make a pro shortfall a pattern, not a blip (seed 001:
enterprise violations are raised at once, pro ones when they repeat)."""


def violated(tier: Tier, measured: Decimal | None, minutes_missed: int) -> bool:
    """Whether one company's measured service is an SLA violation to report."""
    if measured is None or met(tier, measured):
        return False
    if tier is Tier.ENTERPRISE:
        return True
    if tier is Tier.PRO:
        return minutes_missed >= PATTERN_MINUTES
    return False  # free: best effort, nothing promised to report
