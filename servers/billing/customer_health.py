"""Customer health: a 0..100 score from usage trend, quota use, errors and SLA.

| factor      | weight | sub-score (0..1)                                                |
|-------------|--------|-----------------------------------------------------------------|
| usage trend | 40     | last month / first month of three, capped at 1 (none at all: 0) |
| quota use   | 20     | peak share of any limited quota * 2, capped at 1 (>= 50 %: 1)   |
| errors      | 20     | 1 - 20 * error rate, floored at 0 (5 % errors: 0; no calls: 1)  |
| sla         | 20     | 1 - SLA credit percent / 50 (met: 1; the 50 % credit row: 0)    |

Trend weighs most because declining usage is what precedes churn (see churn_risk);
quota use rewards customers who use what they pay for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from mesh.tiers import Tier
from servers.billing import sla
from servers.billing.money import round_half_up
from servers.billing.quotas import QuotaUsage, quota_ratios

WEIGHTS: dict[str, int] = {"usage_trend": 40, "quota_use": 20, "errors": 20, "sla": 20}
ERROR_RATE_AT_ZERO = Fraction(1, 20)  # 5 % errors scores nothing
QUOTA_USE_AT_FULL = Fraction(1, 2)  # half of a quota scores everything


@dataclass(frozen=True, slots=True)
class HealthInput:
    """What health is computed from, for one company."""

    company_id: str
    tier: Tier
    monthly_usage: tuple[int, int, int]  # data points, oldest first
    quota: QuotaUsage | None = None
    requests: int = 0  # calls in the last month
    errors: int = 0  # of which failed
    availability: Decimal | None = None  # measured, percent, for its tier


@dataclass(frozen=True, slots=True)
class CompanyHealth:
    """A company's score (one decimal, 0..100) and the factors behind it."""

    company_id: str
    tier: Tier
    score: Decimal
    factors: tuple[str, ...]


def _trend(first: int, last: int) -> Fraction:
    if first == 0:
        return Fraction(1 if last > 0 else 0)
    return min(Fraction(last, first), Fraction(1))


def _quota(usage: QuotaUsage | None) -> tuple[Fraction, str]:
    ratios = quota_ratios(usage) if usage is not None else {}
    if not ratios:
        return Fraction(0), "no limited quota measured"
    name, peak = max(ratios.items(), key=lambda item: (item[1], item[0]))
    return min(peak / QUOTA_USE_AT_FULL, Fraction(1)), f"peak {_pct(peak)}% of {name}"


def _errors(requests: int, errors: int) -> Fraction:
    if requests <= 0:
        return Fraction(1)
    return max(Fraction(0), 1 - Fraction(errors, requests) / ERROR_RATE_AT_ZERO)


def health(inp: HealthInput) -> CompanyHealth:
    """The health of one company; each factor names its points out of its weight."""
    first, _, last = inp.monthly_usage
    quota_score, quota_text = _quota(inp.quota)
    credit = sla.credit_percent(inp.tier, inp.availability)
    parts = {
        "usage_trend": (_trend(first, last), f"usage {first:,} -> {last:,}"),
        "quota_use": (quota_score, quota_text),
        "errors": (
            _errors(inp.requests, inp.errors),
            f"{inp.errors:,} errors in {inp.requests:,} calls",
        ),
        "sla": (
            1 - Fraction(credit, 50),
            f"availability {inp.availability}% vs {sla.target(inp.tier)}% target"
            if inp.availability is not None
            else "availability not measured",
        ),
    }
    score = sum((WEIGHTS[name] * sub for name, (sub, _) in parts.items()), Fraction(0))
    factors = tuple(
        f"{name}: {text}: {_one_decimal(WEIGHTS[name] * sub)}/{WEIGHTS[name]}"
        for name, (sub, text) in parts.items()
    )
    return CompanyHealth(inp.company_id, inp.tier, _one_decimal(score), factors)


def health_report(inputs: Iterable[HealthInput]) -> list[CompanyHealth]:
    """Every company's health, worst first."""
    return sorted((health(i) for i in inputs), key=lambda h: (h.score, h.company_id))


def _one_decimal(value: Fraction) -> Decimal:
    return Decimal(round_half_up(value * 10)).scaleb(-1)


def _pct(value: Fraction) -> Decimal:
    return _one_decimal(value * 100)
