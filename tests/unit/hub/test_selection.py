"""Tier-aware selection: eligibility per tier, scoring, panic, attribution."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from mesh.errors import FailedPrecondition, Unavailable
from mesh.tiers import Tier
from servers.hub.outliers import OutlierDetector
from servers.hub.registry import Health, Instance, InstanceSpec, Registry
from servers.hub.selection import (
    WEIGHTS,
    Resolver,
    latency_score,
    load_headroom,
    score,
    select,
)


def inst(
    instance_id: str,
    *,
    tiers: tuple[Tier, ...] = (),
    free: bool = True,
    cost: int = 0,
    capacity: int = 100,
    sessions: int = 0,
    health: Health = Health.SERVING,
    latency_ms: float | None = None,
) -> Instance:
    return Instance(
        spec=InstanceSpec(
            instance_id, "bridge", f"{instance_id}:1", tiers=frozenset(tiers), capacity=capacity,
            free_tier_allowed=free, cost_per_request_micros=cost,
        ),
        lease_id=instance_id, ttl_s=10, expires_mono=1e12,
        registered_at=datetime(2025, 1, 1, tzinfo=UTC), active_sessions=sessions,
        health=health, latency_ms=latency_ms,
    )  # fmt: skip


def pick(instances: list[Instance], tier: Tier, **kwargs: object) -> str:
    return select(instances, tier, service="bridge", **kwargs).instance.instance_id  # type: ignore[arg-type]


def test_weights_add_up_to_100() -> None:
    for weights in WEIGHTS.values():
        total = weights.tier_fit + weights.health + weights.load + weights.latency + weights.cost
        assert total == 100


def test_free_never_goes_to_an_instance_without_free_tier() -> None:
    # The no-free instance is better on every other count.
    premium = inst("premium", tiers=(Tier.FREE,), free=False, capacity=1000)
    basic = inst("basic", free=True, cost=50, sessions=90)
    for _ in range(10):
        assert pick([premium, basic], Tier.FREE) == "basic"
    with pytest.raises(FailedPrecondition, match="no bridge instance accepts free-tier") as caught:
        select([premium], Tier.FREE, service="bridge")
    assert caught.value.metadata["required_tier"] == "pro"


def test_free_gets_unavailable_when_its_instances_are_down_not_a_refusal() -> None:
    down = inst("free-down", free=True, health=Health.UNREACHABLE)
    up = [inst(f"paid-{n}", free=False) for n in range(3)]
    with pytest.raises(Unavailable, match="accepts free-tier tenants is down"):
        select([down, *up], Tier.FREE, service="bridge")


def test_free_prefers_the_cheaper_instance() -> None:
    cheap = inst("cheap", cost=10, sessions=40)
    dear = inst("dear", cost=100)
    assert pick([cheap, dear], Tier.FREE) == "cheap"


def test_enterprise_gets_the_best_scoring_instance() -> None:
    loaded = inst("loaded", sessions=90)
    slow = inst("slow", latency_ms=50)  # 5x the enterprise target
    best = inst("best", tiers=(Tier.ENTERPRISE,), free=False)
    assert pick([loaded, slow, best], Tier.ENTERPRISE) == "best"
    # Without the dedicated one: the idle, fast one beats the loaded and the slow one.
    idle = inst("idle")
    assert pick([loaded, slow, idle], Tier.ENTERPRISE) == "idle"


def test_pro_gets_a_pro_compatible_instance_else_the_best_available() -> None:
    free_only = inst("free-only", tiers=(Tier.FREE,))
    enterprise = inst("ent", tiers=(Tier.ENTERPRISE,), sessions=80)
    assert pick([free_only, enterprise], Tier.PRO) == "ent"
    choice = select([free_only], Tier.PRO, service="bridge")
    assert choice.instance.instance_id == "free-only"
    assert "no pro-compatible instance" in choice.reason


def test_only_serving_unejected_instances_are_in_rotation() -> None:
    instances = [
        inst("a", health=Health.NOT_SERVING),
        inst("b"),
        inst("c", health=Health.UNSPECIFIED),
        inst("d"),
    ]
    ejected = {"d"}.__contains__
    assert pick(instances, Tier.ENTERPRISE, ejected=ejected) == "b"


def test_panic_routes_to_every_live_instance_rather_than_none() -> None:
    # 1 of 3 healthy (< 50 %): panic; the NOT_SERVING one stays out even then.
    instances = [
        inst("draining", health=Health.NOT_SERVING),
        inst("unreachable", health=Health.UNREACHABLE, tiers=(Tier.ENTERPRISE,)),
        inst("ejected", tiers=(Tier.ENTERPRISE,)),
    ]
    choice = select(instances, Tier.ENTERPRISE, service="bridge", ejected={"ejected"}.__contains__)
    assert choice.panic and choice.instance.instance_id == "ejected"
    assert "panic: 0 of 3 healthy" in choice.reason
    # Half healthy is not panic: only the healthy one is used.
    two = [inst("ok"), inst("dead", health=Health.UNREACHABLE, tiers=(Tier.ENTERPRISE,))]
    assert not select(two, Tier.ENTERPRISE, service="bridge").panic
    assert pick(two, Tier.ENTERPRISE) == "ok"


def test_nothing_to_route_to_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="no bridge instance is registered"):
        select([], Tier.PRO, service="bridge")
    with pytest.raises(Unavailable, match="none healthy"):
        select([inst("a", health=Health.NOT_SERVING)], Tier.PRO, service="bridge")
    with pytest.raises(Unavailable, match="other than the one that just failed"):
        select([inst("a")], Tier.PRO, service="bridge", exclude={"a"})


def test_components() -> None:
    assert load_headroom(inst("a", capacity=100, sessions=25)) == 0.75
    assert load_headroom(inst("a", capacity=0)) == 0.5
    assert load_headroom(inst("a", capacity=10, sessions=20)) == 0.0
    # Within the tier's target latency jitter does not matter; beyond, it scales down.
    assert latency_score(inst("a", latency_ms=3), Tier.ENTERPRISE) == 1.0
    assert latency_score(inst("a", latency_ms=40), Tier.ENTERPRISE) == 0.25
    assert latency_score(inst("a", latency_ms=40), Tier.FREE) == 1.0
    perfect = inst("p", tiers=(Tier.ENTERPRISE,))
    assert score(perfect, Tier.ENTERPRISE) == 100
    assert score(perfect, Tier.ENTERPRISE, ejected=True) == 100 - 25 * 0.5


def test_ties_break_on_load_then_id() -> None:
    a, b = inst("a", capacity=0, sessions=3), inst("b", capacity=0, sessions=1)
    assert pick([a, b], Tier.ENTERPRISE) == "b"
    assert pick([inst("y"), inst("x")], Tier.ENTERPRISE) == "x"


def test_resolver_spreads_sessions_and_attributes_them() -> None:
    registry = Registry()
    for n in (1, 2):
        registry.register(
            InstanceSpec(f"bridge-{n}", "bridge", f"h:{n}", capacity=10, free_tier_allowed=True)
        )
        registry.set_health(f"bridge-{n}", Health.SERVING)
    resolver = Resolver(registry, OutlierDetector())
    picks = [
        resolver.resolve("bridge", Tier.PRO, company_id="co-1").instance.instance_id
        for _ in range(4)
    ]
    # Sessions routed since the last heartbeat count as load: no herd on one instance.
    assert sorted(picks) == ["bridge-1", "bridge-1", "bridge-2", "bridge-2"]
    resolver.resolve("bridge", Tier.FREE, company_id="co-2", session=False)
    assert resolver.attribution.counts[("co-1", Tier.PRO, "bridge")] == 4
    assert resolver.attribution.gauges() == {
        "resolutions.bridge.free": 1.0,
        "resolutions.bridge.pro": 4.0,
    }


def pooled(instance_id: str, *tiers: Tier, **kwargs: object) -> Instance:
    """An instance of a tier pool (mesh.tier_pools): it refuses every other tier."""
    made = inst(instance_id, tiers=tiers, free=Tier.FREE in tiers, **kwargs)  # type: ignore[arg-type]
    made.spec = dataclasses.replace(made.spec, tier_pool=True)
    return made


def test_a_tier_never_goes_to_a_pool_that_refuses_it() -> None:
    # The free pool is idle and cheap, the paid pool loaded: each tier still goes home.
    paid = pooled("paid", Tier.ENTERPRISE, Tier.PRO, sessions=95)
    free = pooled("free", Tier.FREE, capacity=10_000)
    for _ in range(10):
        assert pick([paid, free], Tier.ENTERPRISE) == "paid"
        assert pick([paid, free], Tier.PRO) == "paid"
        assert pick([paid, free], Tier.FREE) == "free"


def test_an_unpooled_instance_still_takes_any_tier_beside_pools() -> None:
    free = pooled("free", Tier.FREE)
    shared = inst("shared", sessions=50)
    assert pick([free, shared], Tier.PRO) == "shared"


def test_a_tier_no_pool_serves_is_a_failed_precondition_and_a_down_pool_unavailable() -> None:
    free = pooled("free", Tier.FREE)
    with pytest.raises(FailedPrecondition) as refused:
        select([free], Tier.PRO, service="bridge")
    assert refused.value.reason == "NO_POOL_FOR_TIER"
    paid = pooled("paid", Tier.ENTERPRISE, Tier.PRO, health=Health.NOT_SERVING)
    others = [pooled(f"free{i}", Tier.FREE) for i in range(3)]  # no panic: 3 of 4 healthy
    with pytest.raises(Unavailable) as down:
        select([paid, *others], Tier.ENTERPRISE, service="bridge")
    assert down.value.reason == "NO_HEALTHY_INSTANCE"
