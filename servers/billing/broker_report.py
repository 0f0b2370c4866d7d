"""The broker report (seed 003's broker analytics): each broker's cost against what it
delivered over a period, its cost split over the companies it served, and a keep /
review / drop recommendation with its reasons.

Seed 003 lists the figures (connection cost, completeness, latency, uptime, a quality
score, cost per quality point, ROI as contribution per cost) but names no thresholds,
so the rules judge a broker by the tier catalog's own service levels, which are seed
003's SLA targets:

- drop: it misses even the lowest tier's targets (free: uptime 99 %, completeness
  95 %): it cannot back any tier's SLA, whatever it costs.
- review: it misses a target of the most demanding tier that buys it (uptime,
  completeness, or mean latency against the tier's latency target); or, in every view
  it shares with other brokers, it set under MIN_BEST_PRICE_SHARE of the best prices
  (it costs as much as the others and adds little: seed 003's ROI); or no company it
  serves was served (its cost is carried by nobody); or it was not sampled at all.
- keep: none of the above.

Cost per tenant served: a broker's monthly cost is split equally over the companies the
Bridge delivered ticks to in the period at a tier whose catalog includes the broker
(money.split: the shares add up to the cent). A company pays once per broker however
many of its tiers used it. With nobody served the whole cost is `unallocated`, so
shares plus unallocated always equal the configured cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from mesh.tiers import CATALOG, Tier, TierLimits
from servers.billing.money import Money, split

MIN_BEST_PRICE_SHARE = Decimal("10")
"""Percent of a shared view's best prices under which a broker adds too little."""
KEEP, REVIEW, DROP = "keep", "review", "drop"
_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class BrokerFigures:
    """A broker's measured figures over a period (Storage sums Ingestion's samples)."""

    broker: str
    observed_us: int
    up_us: int
    quotes: int
    expected_quotes: float
    invalid: int
    outliers: int
    latency_mean_us: int
    latency_p99_us: int
    best_prices_won: Mapping[Tier, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Served:
    """A company the Bridge delivered ticks to in the period, at one tier."""

    company_id: str
    tier: Tier


@dataclass(frozen=True, slots=True)
class BestPriceShare:
    """A tier view's best prices and the broker's share of them."""

    tier: Tier
    won: int
    total: int

    @property
    def percent(self) -> Decimal | None:
        """won / total in percent, rounded down; None when the view published nothing."""
        return _percent(self.won, self.total)


@dataclass(frozen=True, slots=True)
class BrokerAnalysis:
    """One broker over one period."""

    broker: str
    monthly_cost: Money
    observed_s: int
    uptime_percent: Decimal | None
    completeness_percent: Decimal | None
    latency_mean_us: int
    latency_p99_us: int
    quotes: int
    outliers: int
    invalid: int
    best_prices: tuple[BestPriceShare, ...]
    tiers: tuple[Tier, ...]
    cost_per_tenant: tuple[tuple[str, Tier, Money], ...]
    unallocated: Money
    recommendation: str
    reasons: tuple[str, ...]


def _percent(part: float | int, whole: float | int) -> Decimal | None:
    if not whole:
        return None
    # Rounded down: a report never overstates a broker's service.
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(_PLACES, rounding=ROUND_DOWN)
    return min(value, Decimal(100))


def tiers_buying(broker: str, catalog: Mapping[Tier, TierLimits] = CATALOG) -> tuple[Tier, ...]:
    """The tiers whose catalog sources include `broker`, lowest first."""
    return tuple(t for t in sorted(catalog, key=lambda t: t.rank) if broker in catalog[t].brokers)


def cost_per_tenant(
    cost: Money, tiers: Iterable[Tier], served: Sequence[Served]
) -> tuple[tuple[tuple[str, Tier, Money], ...], Money]:
    """`cost` split equally over the companies served at one of `tiers`; (shares, unallocated)."""
    wanted = set(tiers)
    highest: dict[str, Tier] = {}
    for s in served:
        if s.tier in wanted and (
            s.company_id not in highest or s.tier.rank > highest[s.company_id].rank
        ):
            highest[s.company_id] = s.tier
    if not highest:
        return (), cost
    companies = sorted(highest)  # sorted: the leftover cents land deterministically
    parts = split(cost, dict.fromkeys(companies, 1))
    return tuple((c, highest[c], parts[c]) for c in companies), Money.zero(cost.currency)


def best_price_shares(broker: str, everyone: Sequence[BrokerFigures]) -> tuple[BestPriceShare, ...]:
    """The broker's share of each tier view's best prices (views that published any)."""
    mine = next((f.best_prices_won for f in everyone if f.broker == broker), {})
    shares = []
    for tier in sorted(Tier, key=lambda t: t.rank):
        total = sum(f.best_prices_won.get(tier, 0) for f in everyone)
        if total:
            shares.append(BestPriceShare(tier, mine.get(tier, 0), total))
    return tuple(shares)


def recommend(
    figures: BrokerFigures | None,
    uptime: Decimal | None,
    completeness: Decimal | None,
    shares: Sequence[BestPriceShare],
    tiers: Sequence[Tier],
    companies_served: int,
    catalog: Mapping[Tier, TierLimits] = CATALOG,
) -> tuple[str, tuple[str, ...]]:
    """Keep, review or drop, and why (see the module docstring for the rules)."""
    if figures is None or not figures.observed_us:
        return REVIEW, ("not sampled in the period: nothing to judge it by",)
    floor = catalog[min(catalog, key=lambda t: t.rank)]
    drops = []
    if uptime is not None and uptime < floor.uptime_sla_percent:
        drops.append(
            f"uptime {uptime} % is below even the free tier's {floor.uptime_sla_percent} %"
        )
    if completeness is not None and completeness < floor.completeness_sla_percent:
        drops.append(
            f"completeness {completeness} % is below even the free tier's "
            f"{floor.completeness_sla_percent} %"
        )
    if drops:
        return DROP, tuple(drops)
    reviews = []
    if tiers:
        top = max(tiers, key=lambda t: t.rank)
        target = catalog[top]
        name = top.value
        if uptime is not None and uptime < target.uptime_sla_percent:
            reviews.append(f"uptime {uptime} % misses {name}'s {target.uptime_sla_percent} %")
        if completeness is not None and completeness < target.completeness_sla_percent:
            reviews.append(
                f"completeness {completeness} % misses {name}'s {target.completeness_sla_percent} %"
            )
        latency_ms = Decimal(figures.latency_mean_us) / 1000
        if latency_ms > target.latency_target_ms:
            reviews.append(
                f"mean latency {latency_ms:.1f} ms exceeds {name}'s {target.latency_target_ms} ms"
            )
    shared = [s for s in shares if s.tier in tiers and len(catalog[s.tier].brokers) > 1]
    low = [s for s in shared if (s.percent or Decimal(0)) < MIN_BEST_PRICE_SHARE]
    if shared and len(low) == len(shared):
        views = ", ".join(f"{s.tier.value} {s.percent or 0} %" for s in low)
        reviews.append(
            f"sets under {MIN_BEST_PRICE_SHARE} % of the best prices in every view it shares "
            f"({views})"
        )
    if not companies_served:
        reviews.append("no company it serves was served: its cost is carried by nobody")
    if reviews:
        return REVIEW, tuple(reviews)
    top_name = max(tiers, key=lambda t: t.rank).value if tiers else "every tier"
    return KEEP, (f"meets {top_name}'s uptime, completeness and latency targets",)


def broker_report(
    costs: Mapping[str, Money],
    figures: Sequence[BrokerFigures],
    served: Sequence[Served],
    catalog: Mapping[Tier, TierLimits] = CATALOG,
) -> list[BrokerAnalysis]:
    """The analysis of every broker with a configured cost or samples, by name."""
    by_name = {f.broker: f for f in figures}
    out = []
    for broker in sorted(set(costs) | set(by_name)):
        f = by_name.get(broker)
        cost = costs.get(broker, Money.zero())
        tiers = tiers_buying(broker, catalog)
        shares_of_cost, unallocated = cost_per_tenant(cost, tiers, served)
        uptime = _percent(f.up_us, f.observed_us) if f else None
        completeness = _percent(f.quotes, f.expected_quotes) if f else None
        shares = best_price_shares(broker, figures)
        recommendation, reasons = recommend(
            f, uptime, completeness, shares, tiers, len(shares_of_cost), catalog
        )
        out.append(
            BrokerAnalysis(
                broker=broker,
                monthly_cost=cost,
                observed_s=f.observed_us // 1_000_000 if f else 0,
                uptime_percent=uptime,
                completeness_percent=completeness,
                latency_mean_us=f.latency_mean_us if f else 0,
                latency_p99_us=f.latency_p99_us if f else 0,
                quotes=f.quotes if f else 0,
                outliers=f.outliers if f else 0,
                invalid=f.invalid if f else 0,
                best_prices=shares,
                tiers=tiers,
                cost_per_tenant=shares_of_cost,
                unallocated=unallocated,
                recommendation=recommendation,
                reasons=reasons,
            )
        )
    return out
