"""The tier catalog as Billing serves it: mesh.tiers rendered into the contract."""

from __future__ import annotations

from tickmesh.billing.v1 import billing_pb2

from mesh.protoconv import money, tier_to_proto
from mesh.tiers import CATALOG, Tier, TierLimits

UNLIMITED = -1


def tier_offer(limits: TierLimits) -> billing_pb2.TierOffer:
    """One tier's offer; unlimited quotas are -1 in the contract."""
    return billing_pb2.TierOffer(
        tier=tier_to_proto(limits.tier),
        symbols=sorted(limits.symbols) if limits.symbols is not None else [],
        all_symbols=limits.symbols is None,
        update_interval_ms=limits.update_interval_ms,
        features=sorted(f.value for f in limits.features),
        daily_api_calls=_or_unlimited(limits.daily_api_calls),
        concurrent_streams=limits.concurrent_streams,
        market_data_history_days=limits.market_data_history_days,
        trading_retention_days=limits.trading_retention_days,
        storage_quota_bytes=_or_unlimited(limits.storage_quota_bytes),
        brokers=list(limits.brokers),
        latency_target_ms=limits.latency_target_ms,
        uptime_sla_percent=str(limits.uptime_sla_percent),
        price_per_month=money(limits.price_cents_per_month, limits.currency),
        fallback_brokers=list(limits.fallback_brokers),
        broker_redundancy=limits.broker_redundancy,
        completeness_sla_percent=str(limits.completeness_sla_percent),
        support_level=limits.support_level,
        first_response_hours=limits.first_response_hours or 0,
        max_users=_or_unlimited(limits.max_users),
    )


def tier_catalog() -> billing_pb2.GetTierCatalogResponse:
    """Every tier's offer, cheapest first."""
    return billing_pb2.GetTierCatalogResponse(tiers=[tier_offer(CATALOG[t]) for t in Tier])


def _or_unlimited(value: int | None) -> int:
    return UNLIMITED if value is None else value
