"""The service catalog: what each mesh service offers a tenant, and what each tier gets of
it, from the permission table (which RPCs a key may call, with which scope) and the tier
catalog (mesh.tiers). The Hub adds what its registry knows (healthy instances, the tiers
each instance serves); this module knows nothing of gRPC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mesh.tenancy.permissions import TENANT_RPCS
from mesh.tiers import CATALOG, FIRST_RESPONSE_HOURS, GB, MB, Tier, TierLimits


@dataclass(frozen=True, slots=True)
class TenantMethod:
    """An RPC an API key may call: its full path and the scope it needs ("" for any)."""

    method: str
    scope: str


@dataclass(frozen=True, slots=True)
class ServiceOffer:
    """One mesh service: what it is for, its tenant RPCs, what each tier gets."""

    name: str
    summary: str
    packages: tuple[str, ...]
    methods: tuple[TenantMethod, ...]
    includes: dict[Tier, tuple[str, ...]]


def _unlimited(value: int | None, unit: str) -> str:
    return f"unlimited {unit}" if value is None else f"{value:,} {unit}"


def _users(value: int | None) -> str:
    if value is None:
        return "unlimited users"
    return "1 user" if value == 1 else f"up to {value:,} users"


def _bytes(value: int | None) -> str:
    if value is None:
        return "unlimited storage"
    return f"{value // GB} GB storage" if value >= GB else f"{value // MB} MB storage"


def _bridge(t: TierLimits) -> list[str]:
    symbols = "every symbol" if t.symbols is None else f"{len(t.symbols)} symbols"
    return [
        f"live prices of {symbols}, at most every {t.update_interval_ms} ms per symbol",
        f"data features: {', '.join(sorted(f.value for f in t.features))}",
        f"{t.concurrent_streams} concurrent streams",
        f"{t.market_data_history_days} days of market-data history",
        f"delivery latency target {t.latency_target_ms} ms",
    ]


def _ingestion(t: TierLimits) -> list[str]:
    fallbacks = f", failing over to {', '.join(t.fallback_brokers)}" if t.fallback_brokers else ""
    return [
        f"prices from {', '.join(t.brokers)}{fallbacks}",
        f"{t.broker_redundancy} live source(s) per symbol",
    ]


def _storage(t: TierLimits) -> list[str]:
    hours = FIRST_RESPONSE_HOURS[t.support_level]
    support = f"first reply within {hours} h" if hours is not None else "no response promise"
    return [
        _bytes(t.storage_quota_bytes),
        f"trading data kept {t.trading_retention_days} days",
        _users(t.max_users),
        f"{t.support_level} support, {support}",
    ]


def _billing(t: TierLimits) -> list[str]:
    price = f"{t.price_cents_per_month / 100:,.2f} {t.currency} a month"
    return [
        price,
        _unlimited(t.daily_api_calls, "API calls a day"),
        f"uptime SLA {t.uptime_sla_percent} %, completeness {t.completeness_sla_percent} %",
    ]


def _everyone(line: str) -> Callable[[TierLimits], list[str]]:
    return lambda _: [line]


_SERVICES: tuple[tuple[str, str, tuple[str, ...], Callable[[TierLimits], list[str]]], ...] = (
    ("hub", "registry and tier-aware router: finds a healthy instance for your tier",
     ("tickmesh.hub.v1.",), _everyone("routing to the instances that serve the tier")),
    ("ingestion", "broker feeds aggregated once: symbols and broker status",
     ("tickmesh.ingestion.v1.",), _ingestion),
    ("bridge", "live price streams and market-data history at the tier's rate and fields",
     ("tickmesh.bridge.v1.",), _bridge),
    ("storage", "companies, users, keys, trading data, webhooks, support tickets",
     ("tickmesh.storage.v1.",), _storage),
    ("billing", "tier catalog, invoices, tier changes and payment methods",
     ("tickmesh.billing.v1.",), _billing),
    ("workflow", "business processes: chains of RPCs run as you, webhook deliveries",
     ("tickmesh.workflow.v1.",), _everyone("chains the tier is allowed to run")),
)  # fmt: skip


def service_catalog() -> list[ServiceOffer]:
    """Every mesh service's offer, in the mesh's order."""
    offers = []
    for name, summary, packages, includes in _SERVICES:
        methods = tuple(
            TenantMethod(method, scope.value if scope is not None else "")
            for method, scope in sorted(TENANT_RPCS.items())
            if method.lstrip("/").startswith(packages)
        )
        per_tier = {tier: tuple(includes(CATALOG[tier])) for tier in Tier}
        offers.append(ServiceOffer(name, summary, packages, methods, per_tier))
    return offers
