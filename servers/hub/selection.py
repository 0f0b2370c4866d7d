"""Tier-aware instance selection (the Central Hub seed): who may go where, then a weighted score.

Rotation: an instance is healthy when its health check says SERVING and it is
not ejected. When fewer than `panic_percent` of a service's instances are
healthy, the Hub panics and routes to every instance that has not said
NOT_SERVING, rather than pile everything onto the few (or none).

Eligibility by the tenant's tier (an instance in a tier pool, mesh.tier_pools, is never
eligible for a tier outside its pool: it would refuse the call):
- enterprise: every instance in rotation; the best score wins;
- pro: instances meant for pro or enterprise (or every tier), best score;
  with none, the best of the rest (better served than refused);
- free: only instances that allow free tier, cost-weighted score; with none,
  FAILED_PRECONDITION saying so (UNAVAILABLE when they exist but are all down).

Score (0-100): each tier weighs five components in [0, 1] (see WEIGHTS): tier
fit (meant for this tier 1, for every tier 0.6, for others 0.3), health
(serving 1, ejected 0.5, unchecked 0.3, unreachable 0.1), load headroom
(1 - sessions/capacity; 0.5 when capacity is unknown), latency against the
tier's target (1 within it, target / observed beyond; the Hub's health probe
round trip) and cost (cheapest / this, 1 when free of charge).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from mesh.errors import FailedPrecondition, Unavailable
from mesh.tenancy.current import Principal
from mesh.tiers import CATALOG, Tier
from servers.hub.outliers import OutlierDetector
from servers.hub.registry import Health, Instance, Registry


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each score component counts, in points; they add up to 100."""

    tier_fit: float
    health: float
    load: float
    latency: float
    cost: float


# Enterprise buys performance, free is served as cheaply as possible, pro balances the two.
WEIGHTS: dict[Tier, Weights] = {
    Tier.ENTERPRISE: Weights(tier_fit=20, health=25, load=25, latency=25, cost=5),
    Tier.PRO: Weights(tier_fit=15, health=25, load=25, latency=15, cost=20),
    Tier.FREE: Weights(tier_fit=10, health=25, load=15, latency=5, cost=45),
}
BALANCED = Weights(tier_fit=0, health=30, load=30, latency=20, cost=20)
"""The tier-independent score ListInstances shows."""

_HEALTH_SCORE = {
    Health.SERVING: 1.0,
    Health.UNSPECIFIED: 0.3,
    Health.UNREACHABLE: 0.1,
    Health.NOT_SERVING: 0.0,
}


@dataclass(frozen=True, slots=True)
class Choice:
    """The instance picked for one resolution, and why."""

    instance: Instance
    score: float
    reason: str
    panic: bool = False


def routing_tier(principal: Principal | None) -> tuple[Tier, str | None]:
    """The tier a caller is routed as, and its company: a tenant by its subscription, a
    service or the operator as enterprise (internal traffic), anonymous as free."""
    if principal is None:
        return Tier.FREE, None
    if principal.tenant is not None:
        return principal.tenant.tier, principal.tenant.company_id
    return Tier.ENTERPRISE, None


def is_healthy(instance: Instance, ejected: Callable[[str], bool]) -> bool:
    """In rotation: its health check says SERVING and it is not ejected."""
    return instance.health is Health.SERVING and not ejected(instance.instance_id)


def pro_compatible(instance: Instance) -> bool:
    """Meant for pro or enterprise tenants (or every tier)."""
    tiers = instance.spec.tiers
    return not tiers or Tier.PRO in tiers or Tier.ENTERPRISE in tiers


def tier_fit(instance: Instance, tier: Tier) -> float:
    """1 for an instance meant for `tier`, 0.6 for a shared one, 0.3 for one meant for others."""
    tiers = instance.spec.tiers
    if tier in tiers:
        return 1.0
    return 0.6 if not tiers else 0.3


def load_headroom(instance: Instance) -> float:
    """1 - sessions/capacity (sessions include those routed since the last heartbeat)."""
    capacity = instance.spec.capacity
    if capacity <= 0:
        return 0.5
    sessions = instance.active_sessions + instance.routed_since_heartbeat
    return max(0.0, 1.0 - sessions / capacity)


def latency_score(instance: Instance, tier: Tier) -> float:
    """1 while the instance meets the tier's latency target (or is not measured yet),
    target / observed beyond it: within target, jitter must not reorder instances."""
    target = CATALOG[tier].latency_target_ms
    if instance.latency_ms is None or instance.latency_ms <= target:
        return 1.0
    return target / instance.latency_ms


def cost_score(instance: Instance, cheapest_micros: int) -> float:
    """cheapest / this: 1 for the cheapest (or a free-of-charge) instance."""
    cost = instance.spec.cost_per_request_micros
    return 1.0 if cost <= 0 else cheapest_micros / cost


def score(
    instance: Instance,
    tier: Tier | None,
    *,
    ejected: bool = False,
    cheapest_micros: int = 0,
    weights: Weights | None = None,
) -> float:
    """The instance's score for a tenant of `tier` (None: the tier-independent one)."""
    w = weights or (WEIGHTS[tier] if tier is not None else BALANCED)
    health = (
        0.5 if ejected and instance.health is Health.SERVING else _HEALTH_SCORE[instance.health]
    )
    total = (
        w.tier_fit * (tier_fit(instance, tier) if tier is not None else 0.0)
        + w.health * health
        + w.load * load_headroom(instance)
        + w.latency * latency_score(instance, tier or Tier.PRO)
        + w.cost * cost_score(instance, cheapest_micros)
    )
    return round(total, 3)


def select(
    instances: Sequence[Instance],
    tier: Tier,
    *,
    service: str,
    ejected: Callable[[str], bool] = lambda _id: False,
    panic_percent: float = 50.0,
    exclude: Collection[str] = (),
) -> Choice:
    """Pick the instance of `service` a tenant of `tier` should use (rules in the module doc).

    Raises Unavailable when nothing can take the call and FailedPrecondition when only the
    tier keeps the tenant out.
    """
    live = [i for i in instances if i.instance_id not in exclude]
    if not live:
        more = " other than the one that just failed" if exclude else ""
        raise Unavailable(
            f"no {service} instance is registered{more}", reason="NO_INSTANCE",
            metadata={"service": service},
        )  # fmt: skip
    healthy = [i for i in live if is_healthy(i, ejected)]
    panic = len(healthy) * 100 < panic_percent * len(live)
    pool = [i for i in live if i.health is not Health.NOT_SERVING] if panic else healthy
    if not pool:
        raise Unavailable(
            f"no {service} instance is serving ({len(live)} registered, none healthy)",
            reason="NO_HEALTHY_INSTANCE", metadata={"service": service},
        )  # fmt: skip
    candidates, why = _eligible(pool, live, tier, service)
    cheapest = min(i.spec.cost_per_request_micros for i in candidates)
    scored = [
        (score(i, tier, ejected=ejected(i.instance_id), cheapest_micros=cheapest), i)
        for i in candidates
    ]
    # Best score; on a tie the less loaded, then the id, so the choice is deterministic.
    best_score, best = min(
        scored,
        key=lambda pair: (
            -pair[0], pair[1].active_sessions + pair[1].routed_since_heartbeat,
            pair[1].instance_id,
        ),
    )  # fmt: skip
    reason = f"{tier.value}: {why}, score {best_score:g}"
    if panic:
        reason += f" (panic: {len(healthy)} of {len(live)} healthy, routing to all)"
    return Choice(best, best_score, reason, panic)


def _eligible(
    pool: list[Instance], live: list[Instance], tier: Tier, service: str
) -> tuple[list[Instance], str]:
    if tier is not Tier.FREE:  # free's own rule (free_tier_allowed) covers its pools
        pool = _not_refusing(pool, live, tier, service)
    if tier is Tier.ENTERPRISE:
        return pool, "best score"
    if tier is Tier.PRO:
        compatible = [i for i in pool if pro_compatible(i)]
        if compatible:
            return compatible, "best pro-compatible"
        return pool, "no pro-compatible instance, best available"
    free = [i for i in pool if i.spec.free_tier_allowed]
    if free:
        return free, "cheapest-weighted free-tier instance"
    if any(i.spec.free_tier_allowed for i in live):
        raise Unavailable(
            f"every {service} instance that accepts free-tier tenants is down; retry later",
            reason="NO_HEALTHY_INSTANCE", metadata={"service": service, "tier": tier.value},
        )  # fmt: skip
    raise FailedPrecondition(
        f"no {service} instance accepts free-tier tenants; upgrade to pro to use it",
        reason="FREE_TIER_NOT_SERVED",
        metadata={"service": service, "tier": tier.value, "required_tier": Tier.PRO.value},
    )


def _not_refusing(
    pool: list[Instance], live: list[Instance], tier: Tier, service: str
) -> list[Instance]:
    # A pooled instance refuses every other tier (mesh.tier_pools): never route one there.
    serving = [i for i in pool if not i.spec.refuses(tier)]
    if serving:
        return serving
    metadata = {"service": service, "tier": tier.value}
    if any(not i.spec.refuses(tier) for i in live):
        raise Unavailable(
            f"every {service} instance that serves {tier.value} tenants is down; retry later",
            reason="NO_HEALTHY_INSTANCE", metadata=metadata,
        )  # fmt: skip
    raise FailedPrecondition(
        f"no {service} instance serves {tier.value} tenants: each is in a pool for other tiers",
        reason="NO_POOL_FOR_TIER", metadata=metadata,
    )  # fmt: skip


class Attribution:
    """Resolutions counted per company, tier and service, for revenue attribution."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, Tier, str]] = Counter()

    def record(self, company_id: str, tier: Tier, service: str) -> None:
        self.counts[(company_id, tier, service)] += 1

    def by_service_tier(self) -> dict[tuple[str, Tier], int]:
        """Resolutions per (service, tier)."""
        out: Counter[tuple[str, Tier]] = Counter()
        for (_company, tier, service), count in self.counts.items():
            out[(service, tier)] += count
        return dict(out)

    def gauges(self) -> dict[str, float]:
        """As business-metrics gauges, `resolutions.<service>.<tier>`."""
        return {
            f"resolutions.{service}.{tier.value}": float(count)
            for (service, tier), count in sorted(self.by_service_tier().items())
        }


class Resolver:
    """Resolve against the live registry: select, then account for the choice."""

    def __init__(
        self,
        registry: Registry,
        outliers: OutlierDetector,
        *,
        panic_percent: float = 50.0,
        attribution: Attribution | None = None,
    ) -> None:
        self.registry = registry
        self.outliers = outliers
        self.panic_percent = panic_percent
        self.attribution = attribution or Attribution()

    def resolve(
        self,
        service: str,
        tier: Tier,
        *,
        company_id: str | None = None,
        session: bool = True,
        exclude: Collection[str] = (),
    ) -> Choice:
        """The instance for a tenant of `tier`; `session` counts it as one more open session
        there until the instance's next heartbeat reports its real load."""
        choice = select(
            self.registry.instances(service), tier, service=service,
            ejected=self.outliers.is_ejected, panic_percent=self.panic_percent, exclude=exclude,
        )  # fmt: skip
        if session:
            choice.instance.routed_since_heartbeat += 1
        if company_id:
            self.attribution.record(company_id, tier, service)
        return choice

    def healthy(self, instance: Instance) -> bool:
        """In rotation right now."""
        return is_healthy(instance, self.outliers.is_ejected)
