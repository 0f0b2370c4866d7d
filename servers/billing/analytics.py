"""Revenue analytics: MRR and ARPU, revenue by service, churn risk, upsell, SLA per tier."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from mesh.errors import FieldViolation, InvalidArgument
from mesh.tiers import Tier, limits
from servers.billing import sla
from servers.billing.invoices import Invoice
from servers.billing.lines import LineKind
from servers.billing.money import Money, round_half_up, split, total
from servers.billing.periods import BillingPeriod
from servers.billing.proration import monthly_price
from servers.billing.quotas import QuotaUsage, next_tier, quota_ratios

UNATTRIBUTED = "unattributed"
"""The revenue_by_service key of paying companies that recorded no usage."""


@dataclass(frozen=True, slots=True)
class CompanyAccount:
    """A company as revenue sees it: its current tier and its usage by service."""

    company_id: str
    tier: Tier  # the tier in force now (free once expired)
    active: bool = True  # False for cancelled subscriptions
    usage_by_service: Mapping[str, int] = field(default_factory=dict)  # data points


@dataclass(frozen=True, slots=True)
class RevenueReport:
    """MRR, and how it breaks down by tier and by service."""

    period: BillingPeriod
    mrr: Money
    arpu_by_tier: dict[Tier, Money]
    companies_by_tier: dict[Tier, int]
    revenue_by_service: dict[str, Money]


def revenue_report(period: BillingPeriod, accounts: Iterable[CompanyAccount]) -> RevenueReport:
    """MRR = the sum of the monthly prices of active paying companies.

    ARPU by tier = that tier's MRR / its paying companies (half-up). Revenue by service:
    each company's price is split over the services by its own data points (largest
    remainder), then summed, so free usage attracts no revenue and the parts add to MRR.
    """
    paying = [a for a in accounts if a.active and monthly_price(a.tier).cents > 0]
    paid_tiers = [t for t in Tier if monthly_price(t).cents > 0]
    counts = {t: sum(1 for a in paying if a.tier == t) for t in paid_tiers}
    by_tier = {t: total(monthly_price(a.tier) for a in paying if a.tier == t) for t in paid_tiers}
    arpu = {
        t: by_tier[t].scaled(Fraction(1, counts[t])) if counts[t] else Money.zero()
        for t in paid_tiers
    }
    by_service: dict[str, Money] = {}
    for account in paying:
        weights = {s: account.usage_by_service[s] for s in sorted(account.usage_by_service)}
        if not any(weights.values()):
            weights = {UNATTRIBUTED: 1}
        for service, part in split(monthly_price(account.tier), weights).items():
            by_service[service] = by_service.get(service, Money.zero()) + part
    return RevenueReport(
        period=period,
        mrr=total(by_tier.values()),
        arpu_by_tier=arpu,
        companies_by_tier=counts,
        revenue_by_service=dict(sorted(by_service.items())),
    )


class Risk(enum.StrEnum):
    """Churn risk level."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# Decline from the first to the last month, strictly above which a level applies. The
# seed scores risk as that decline in percent (capped at 100) and calls 50 "medium".
HIGH_DECLINE = Fraction(50)
MEDIUM_DECLINE = Fraction(20)


@dataclass(frozen=True, slots=True)
class MonthlyUsage:
    """A company's data points in three consecutive months, oldest first."""

    company_id: str
    tier: Tier
    months: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class ChurnRiskEntry:
    """A company whose usage fell two months running."""

    company_id: str
    tier: Tier
    months: tuple[int, int, int]
    decline_percent: Decimal  # (first - last) / first * 100, two decimals, half-up
    risk: Risk


def churn_risk(usages: Iterable[MonthlyUsage]) -> list[ChurnRiskEntry]:
    """Companies with strictly declining usage (m1 > m2 > m3), highest decline first.

    As the Database Service seed: decline = (two months ago - current) / two months ago;
    high above 50 %, medium above 20 %, low otherwise.
    """
    entries = []
    for usage in usages:
        first, middle, last = usage.months
        if not first > middle > last:
            continue
        decline = Fraction(100 * (first - last), first)
        risk = (
            Risk.HIGH
            if decline > HIGH_DECLINE
            else Risk.MEDIUM
            if decline > MEDIUM_DECLINE
            else Risk.LOW
        )
        entries.append(
            ChurnRiskEntry(usage.company_id, usage.tier, usage.months, _percent(decline), risk)
        )
    return sorted(entries, key=lambda e: (-e.decline_percent, e.company_id))


DEFAULT_UPSELL_THRESHOLD = Fraction(4, 5)


@dataclass(frozen=True, slots=True)
class UpsellCandidate:
    """A company using at least the threshold of one quota; one entry per such quota."""

    company_id: str
    tier: Tier
    suggested_tier: Tier
    quota: str
    used_ratio: Fraction


def upsell_threshold(value: float | Decimal | Fraction) -> Fraction:
    """The contract's threshold (a share, 0 for the default 0.8) as an exact fraction."""
    if not value:
        return DEFAULT_UPSELL_THRESHOLD
    try:  # a float goes through its shortest repr, so 0.8 is exactly 4/5
        exact = Fraction(Decimal(str(value))) if isinstance(value, float) else Fraction(value)
    except (ValueError, OverflowError):
        exact = Fraction(-1)  # NaN or infinity: refused below
    if not 0 < exact <= 1:
        raise InvalidArgument(
            f"threshold must be in (0, 1], got {value}",
            violations=[FieldViolation("threshold", "a share of the quota, 0 < t <= 1")],
        )
    return exact


def upsell_candidates(
    usages: Iterable[QuotaUsage], threshold: Fraction = DEFAULT_UPSELL_THRESHOLD
) -> list[UpsellCandidate]:
    """Every (company, quota) at or above `threshold` of the quota, highest share first.

    At the top tier there is nothing to sell, and unlimited quotas never qualify.
    """
    found = []
    for usage in usages:
        up = next_tier(usage.tier)
        if up is None:
            continue
        for quota, ratio in quota_ratios(usage).items():
            if ratio >= threshold:
                found.append(UpsellCandidate(usage.company_id, usage.tier, up, quota, ratio))
    return sorted(found, key=lambda c: (-c.used_ratio, c.company_id, c.quota))


@dataclass(frozen=True, slots=True)
class TierSlaFigures:
    """A tier's measured service level in the period (None: nothing measured)."""

    tier: Tier
    availability_percent: Decimal | None
    latency_p99_us: int = 0


@dataclass(frozen=True, slots=True)
class CompanySlaFigures:
    """One company's measured service level in the period."""

    company_id: str
    tier: Tier
    availability_percent: Decimal
    minutes: int
    minutes_missed: int
    latency_p99_us: int


def sla_violations(figures: Iterable[CompanySlaFigures]) -> list[CompanySlaFigures]:
    """The companies whose shortfall is a violation to report (sla.violated)."""
    return [f for f in figures if sla.violated(f.tier, f.availability_percent, f.minutes_missed)]


@dataclass(frozen=True, slots=True)
class TierSla:
    """A tier's SLA: target against measured, and the credits it earned."""

    tier: Tier
    target_percent: Decimal
    measured_percent: Decimal | None
    latency_target_ms: int
    latency_p99_us: int
    met: bool
    credits: Money  # positive: what the tier's companies were credited


def sla_report(figures: Iterable[TierSlaFigures], invoices: Iterable[Invoice]) -> list[TierSla]:
    """One entry per tier, cheapest first; credits are the sla_credit lines of `invoices`."""
    measured = {f.tier: f for f in figures}
    credits = {t: Money.zero() for t in Tier}
    for invoice in invoices:
        for line in invoice.lines_of(LineKind.SLA_CREDIT):
            if line.tier is not None:
                credits[line.tier] = credits[line.tier] - line.amount
    report = []
    for tier in Tier:
        fig = measured.get(tier, TierSlaFigures(tier, None))
        report.append(
            TierSla(
                tier=tier,
                target_percent=sla.target(tier),
                measured_percent=fig.availability_percent,
                latency_target_ms=limits(tier).latency_target_ms,
                latency_p99_us=fig.latency_p99_us,
                met=sla.met(tier, fig.availability_percent),
                credits=credits[tier],
            )
        )
    return report


def _percent(value: Fraction) -> Decimal:
    """An exact percentage shown with two decimals, half-up."""
    return Decimal(round_half_up(value * 100)).scaleb(-2)
