"""Quota use: how much of each tier quota a company uses, and the tier above it."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from mesh.tiers import Tier, limits


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    """A company's use of its quotas (the servicer fills it from usage and storage)."""

    company_id: str
    tier: Tier
    daily_api_calls: int = 0  # average calls per day over the window (as the seed measures)
    concurrent_streams: int = 0  # peak streams open at once
    storage_bytes: int = 0  # bytes stored now


def quota_ratios(usage: QuotaUsage) -> dict[str, Fraction]:
    """Share used of each limited quota, exact (unlimited quotas are left out)."""
    tier_limits = limits(usage.tier)
    pairs = {
        "daily_api_calls": (usage.daily_api_calls, tier_limits.daily_api_calls),
        "concurrent_streams": (usage.concurrent_streams, tier_limits.concurrent_streams),
        "storage": (usage.storage_bytes, tier_limits.storage_quota_bytes),
    }
    return {name: Fraction(used, limit) for name, (used, limit) in pairs.items() if limit}


def next_tier(tier: Tier) -> Tier | None:
    """The tier one step up, or None at the top."""
    richer = [t for t in Tier if t.rank == tier.rank + 1]
    return richer[0] if richer else None
