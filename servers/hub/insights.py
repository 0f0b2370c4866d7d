"""Mesh-wide business metrics from every instance's report: revenue attribution, customer
health and the Central Hub seed's insights. Plain functions over the reports.

Revenue this period: each tier's monthly price times the companies of that tier
seen anywhere in the mesh; each tier's revenue is split across services by
their share of that tier's requests (largest remainder, so the cents add up).
Customer health starts at 100 and loses points for errors, quota exhaustion
and low activity; below AT_RISK_BELOW a customer is at risk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tickmesh.common.v1 import metrics_pb2

from mesh.protoconv import tier_to_proto
from mesh.tiers import CATALOG, Tier

AT_RISK_BELOW = 60.0
LOW_ACTIVITY_REQUESTS = 10
FREE_PRESSURE_SHARE = 0.5
"""Free tenants making more than this share of requests (for no revenue) is pressure."""


@dataclass(frozen=True, slots=True)
class Report:
    """What one instance answered (metrics), or why it did not (error)."""

    service: str
    instance_id: str
    metrics: metrics_pb2.GetBusinessMetricsResponse | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """A service's instances as the registry sees them."""

    service: str
    instances: int
    healthy: int


@dataclass(frozen=True, slots=True)
class CustomerScore:
    """One company's health, 0 (about to churn) to 100 (thriving), and why."""

    company_id: str
    tier: Tier
    score: float
    factors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Insight:
    """A finding and what to do about it."""

    kind: str
    message: str
    recommendation: str


@dataclass(slots=True)
class MeshMetrics:
    """Everything GetMeshMetrics answers."""

    services: list[ServiceHealth]
    revenue_by_service: dict[str, int]
    revenue_by_tier: dict[Tier, int]
    sessions_by_tier: dict[Tier, int]
    requests_by_tier: dict[Tier, int]
    customers: list[CustomerScore]
    insights: list[Insight] = field(default_factory=list)


@dataclass(slots=True)
class _Activity:
    tier: Tier
    requests: int = 0
    errors: int = 0
    quota_used_ratio: float = 0.0


_TIERS = {int(tier_to_proto(tier)): tier for tier in Tier}


def _tier(value: int) -> Tier | None:
    return _TIERS.get(int(value))


def aggregate(
    reports: Sequence[Report],
    services: Sequence[ServiceHealth],
    prices: Mapping[Tier, int] | None = None,
) -> MeshMetrics:
    """Combine the instances' reports into mesh-wide metrics and insights."""
    prices = prices or {tier: limits.price_cents_per_month for tier, limits in CATALOG.items()}
    sessions = dict.fromkeys(Tier, 0)
    requests = dict.fromkeys(Tier, 0)
    # Per service and tier: requests this period, for the revenue split.
    service_requests: dict[str, dict[Tier, int]] = defaultdict(lambda: dict.fromkeys(Tier, 0))
    companies: dict[str, _Activity] = {}
    for report in reports:
        if report.metrics is None:
            continue
        for count in report.metrics.active_sessions_by_tier:
            if (tier := _tier(count.tier)) is not None:
                sessions[tier] += count.value
        for activity in report.metrics.companies:
            tier = _tier(activity.tier)
            if tier is None:
                continue
            requests[tier] += activity.requests
            service_requests[report.service][tier] += activity.requests
            seen = companies.setdefault(activity.company_id, _Activity(tier))
            # A company seen on two tiers changed tier this period; it pays the richer.
            if tier.rank > seen.tier.rank:
                seen.tier = tier
            seen.requests += activity.requests
            seen.errors += activity.errors
            seen.quota_used_ratio = max(seen.quota_used_ratio, activity.quota_used_ratio)

    revenue_by_tier = dict.fromkeys(Tier, 0)
    for company in companies.values():
        revenue_by_tier[company.tier] += prices[company.tier]
    names = sorted({s.service for s in services} | set(service_requests))
    revenue_by_service = dict.fromkeys(names, 0)
    for tier, revenue in revenue_by_tier.items():
        shares = {name: service_requests[name][tier] for name in names}
        for name, cents in split(revenue, shares).items():
            revenue_by_service[name] += cents

    customers = sorted(
        (customer_health(company_id, company) for company_id, company in companies.items()),
        key=lambda c: (c.score, c.company_id),
    )
    metrics = MeshMetrics(
        services=list(services),
        revenue_by_service=revenue_by_service,
        revenue_by_tier=revenue_by_tier,
        sessions_by_tier=sessions,
        requests_by_tier=requests,
        customers=customers,
    )
    metrics.insights = derive_insights(metrics, reports)
    return metrics


def split(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`total` cents split by `weights`, exactly (largest remainder); nothing when no weight."""
    whole = sum(weights.values())
    if total <= 0 or whole <= 0:
        return dict.fromkeys(weights, 0)
    shares = {name: total * w // whole for name, w in weights.items()}
    remainders = sorted(weights, key=lambda n: (-(total * weights[n] % whole), n))
    for name in remainders[: total - sum(shares.values())]:
        shares[name] += 1
    return shares


def customer_health(company_id: str, activity: _Activity) -> CustomerScore:
    """Score a company from its activity across the mesh."""
    score, factors = 100.0, []
    if activity.requests:
        error_rate = activity.errors / activity.requests
        if error_rate > 0:
            penalty = min(50.0, 100 * error_rate)
            score -= penalty
            factors.append(f"{error_rate:.0%} of its calls failed")
    if activity.quota_used_ratio >= 1.0:
        score -= 25
        factors.append("used up its daily quota")
    elif activity.quota_used_ratio >= 0.8:
        score -= 10
        factors.append(f"near its daily quota ({activity.quota_used_ratio:.0%})")
    if activity.requests < LOW_ACTIVITY_REQUESTS:
        score -= 10
        factors.append(f"low activity ({activity.requests} calls this period)")
    if not factors:
        factors.append("healthy usage")
    return CustomerScore(company_id, activity.tier, max(0.0, score), tuple(factors))


def derive_insights(metrics: MeshMetrics, reports: Sequence[Report]) -> list[Insight]:
    """The seed's insights: top revenue service, free-tier pressure, at-risk customers,
    unhealthy services."""
    out = []
    total = sum(metrics.revenue_by_service.values())
    if total > 0:
        top = max(sorted(metrics.revenue_by_service), key=metrics.revenue_by_service.__getitem__)
        cents = metrics.revenue_by_service[top]
        out.append(
            Insight(
                "top_revenue_service",
                f"{top} earns {cents / total:.0%} of attributed revenue"
                f" (${cents / 100:,.2f} of ${total / 100:,.2f} this period)",
                f"invest in {top}'s capacity and latency first",
            )
        )
    free = metrics.requests_by_tier[Tier.FREE]
    all_requests = sum(metrics.requests_by_tier.values())
    if all_requests and free / all_requests > FREE_PRESSURE_SHARE:
        near = [
            c.company_id for c in metrics.customers
            if c.tier is Tier.FREE and any("quota" in f for f in c.factors)
        ]  # fmt: skip
        out.append(
            Insight(
                "free_tier_pressure",
                f"free tenants make {free / all_requests:.0%} of requests and bring no revenue"
                f"; {len(near)} of them are at or near their quota",
                "tighten free-tier limits or push upgrades to pro, starting with the"
                " free tenants at their quota",
            )
        )
    at_risk = [c for c in metrics.customers if c.score < AT_RISK_BELOW]
    if at_risk:
        worst = ", ".join(f"{c.company_id} ({c.score:.0f})" for c in at_risk[:5])
        out.append(
            Insight(
                "at_risk_customers",
                f"{len(at_risk)} customer(s) at risk of churning; worst: {worst}",
                "reach out to them and fix what fails for them first",
            )
        )
    failed = sorted({r.service for r in reports if r.metrics is None})
    down = sorted(s.service for s in metrics.services if s.instances and not s.healthy)
    unhealthy = sorted(set(failed) | set(down))
    if unhealthy:
        out.append(
            Insight(
                "unhealthy_services",
                f"unhealthy: {', '.join(unhealthy)}"
                + (f" (no healthy instance: {', '.join(down)})" if down else "")
                + (f" (metrics unanswered: {', '.join(failed)})" if failed else ""),
                "investigate these services now: their tenants are not being served fully",
            )
        )
    return out
