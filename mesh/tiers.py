"""The tier catalog: the one table of what each subscription tier buys.

Every service reads its limits from here; Billing serves it as GetTierCatalog.
Money is integer cents, never float.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal


class Tier(enum.StrEnum):
    """A subscription tier, ordered from cheapest to richest."""

    FREE = "free"
    PRO = "pro"
    ENTERPRISE = "enterprise"

    @property
    def rank(self) -> int:
        """0 for free, 1 for pro, 2 for enterprise: a richer tier has a higher rank."""
        return _RANK[self]

    @property
    def view_bit(self) -> int:
        """This tier's bit in Tick.views (1 free, 2 pro, 4 enterprise)."""
        return 1 << _RANK[self]

    @classmethod
    def parse(cls, value: str) -> Tier:
        """Parse a tier name case-insensitively; raise ValueError naming the valid ones."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            valid = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown tier {value!r}; valid tiers: {valid}") from None


_RANK = {Tier.FREE: 0, Tier.PRO: 1, Tier.ENTERPRISE: 2}


class Feature(enum.StrEnum):
    """A data feature a tier may unlock on each tick."""

    BASIC_PRICE = "basic_price"
    SPREAD_ANALYSIS = "spread_analysis"
    QUALITY_SCORE = "quality_score"
    BROKER_COMPARISON = "broker_comparison"
    LIQUIDITY = "liquidity"


FREE_SYMBOLS: tuple[str, ...] = ("EURUSD", "GBPUSD", "USDJPY", "EURGBP", "AUDUSD")

# The 28 major pairs of the Data Bridge seed.
MAJOR_PAIRS: tuple[str, ...] = (
    "EURUSD", "GBPUSD", "USDJPY", "USDCHF", "USDCAD", "AUDUSD", "NZDUSD",
    "EURGBP", "EURJPY", "EURCHF", "EURCAD", "EURAUD", "EURNZD", "GBPJPY",
    "GBPCHF", "GBPCAD", "GBPAUD", "GBPNZD", "CHFJPY", "CADJPY", "AUDJPY",
    "NZDJPY", "AUDCAD", "AUDCHF", "AUDNZD", "CADCHF", "NZDCAD", "NZDCHF",
)  # fmt: skip

FIRST_RESPONSE_HOURS: dict[str, int | None] = {"community": None, "email": 24, "phone": 1}
"""Support's first reply to a ticket is due within this many hours, by support level."""

MB = 1024 * 1024
GB = 1024 * MB


@dataclass(frozen=True, slots=True)
class TierLimits:
    """What one tier buys. None means unlimited (or, for symbols, every symbol)."""

    tier: Tier
    symbols: frozenset[str] | None
    update_interval_ms: int
    features: frozenset[Feature]
    daily_api_calls: int | None
    concurrent_streams: int
    market_data_history_days: int
    trading_retention_days: int
    storage_quota_bytes: int | None
    brokers: tuple[str, ...]
    latency_target_ms: int
    uptime_sla_percent: Decimal
    price_cents_per_month: int
    fallback_brokers: tuple[str, ...] = ()
    """Brokers a view fails over to, in order, when one of `brokers` is stale or down
    (seed 003's emergency redundancy); none for a tier that already has every broker."""
    broker_redundancy: int = 1
    """Live sources each symbol's price is computed from (seed 003: 1 / 2 / 3)."""
    completeness_sla_percent: Decimal = Decimal("95")
    """Updates delivered of the updates the tier was due, percent (seed 003)."""
    support_level: str = "community"
    """How support is reached (seed 001): community, email or phone."""
    first_response_hours: int | None = None
    """Support's first reply to a ticket within this many hours; None: no promise."""
    max_users: int | None = None
    """Users a company may have (seed 002: a free company is its owner alone); None:
    unlimited. The operator may set another limit per company."""
    currency: str = "USD"

    @property
    def source_order(self) -> tuple[str, ...]:
        """The tier's brokers, then its fallbacks: the order a view picks live sources in."""
        return self.brokers + tuple(b for b in self.fallback_brokers if b not in self.brokers)

    def allows_symbol(self, symbol: str) -> bool:
        """True when this tier may receive `symbol`."""
        return self.symbols is None or symbol in self.symbols

    def allows_feature(self, feature: Feature) -> bool:
        """True when this tier's ticks carry `feature`."""
        return feature in self.features


_BASIC = frozenset({Feature.BASIC_PRICE})
_PRO_FEATURES = _BASIC | {Feature.SPREAD_ANALYSIS, Feature.QUALITY_SCORE}
_ALL_FEATURES = frozenset(Feature)

CATALOG: dict[Tier, TierLimits] = {
    Tier.FREE: TierLimits(
        tier=Tier.FREE,
        symbols=frozenset(FREE_SYMBOLS),
        update_interval_ms=1000,
        features=_BASIC,
        daily_api_calls=1_000,
        concurrent_streams=1,
        market_data_history_days=7,
        trading_retention_days=30,
        storage_quota_bytes=100 * MB,
        brokers=("fxcm",),
        latency_target_ms=1000,
        uptime_sla_percent=Decimal("99"),
        price_cents_per_month=0,
        fallback_brokers=("ic_markets", "pepperstone"),
        broker_redundancy=1,
        completeness_sla_percent=Decimal("95"),
        support_level="community",
        max_users=1,
    ),
    Tier.PRO: TierLimits(
        tier=Tier.PRO,
        symbols=frozenset(MAJOR_PAIRS),
        update_interval_ms=100,
        features=_PRO_FEATURES,
        daily_api_calls=50_000,
        concurrent_streams=5,
        market_data_history_days=90,
        trading_retention_days=365,
        storage_quota_bytes=10 * GB,
        brokers=("ic_markets", "fxcm"),
        latency_target_ms=100,
        uptime_sla_percent=Decimal("99.9"),
        price_cents_per_month=9_900,
        fallback_brokers=("pepperstone",),
        broker_redundancy=2,
        completeness_sla_percent=Decimal("99.5"),
        support_level="email",
        first_response_hours=24,
        max_users=10,
    ),
    Tier.ENTERPRISE: TierLimits(
        tier=Tier.ENTERPRISE,
        symbols=None,
        update_interval_ms=10,
        features=_ALL_FEATURES,
        daily_api_calls=None,
        concurrent_streams=50,
        market_data_history_days=365,
        trading_retention_days=1095,
        storage_quota_bytes=None,
        brokers=("ic_markets", "pepperstone", "fxcm"),
        latency_target_ms=10,
        uptime_sla_percent=Decimal("99.99"),
        price_cents_per_month=49_900,
        broker_redundancy=3,
        completeness_sla_percent=Decimal("99.9"),
        support_level="phone",
        first_response_hours=1,
    ),
}


def limits(tier: Tier) -> TierLimits:
    """The limits of `tier`."""
    return CATALOG[tier]


def cheapest_tier_with_symbol(symbol: str) -> Tier | None:
    """The cheapest tier entitled to `symbol` (for PERMISSION_DENIED messages)."""
    for tier in Tier:
        if CATALOG[tier].allows_symbol(symbol):
            return tier
    return None


def cheapest_tier_with_feature(feature: Feature) -> Tier:
    """The cheapest tier whose ticks carry `feature`."""
    for tier in Tier:
        if CATALOG[tier].allows_feature(feature):
            return tier
    raise AssertionError(f"no tier has {feature}")  # every feature is in enterprise
