"""Which brokers a tier's prices may come from, in which order, and how many at once
(mesh.tiers: free fxcm; pro ic_markets + fxcm; enterprise all three; each with its
fallbacks). Ingestion computes each tier's view by it; the Bridge counts each tier's
live sources by it for the SLA."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from mesh.tiers import CATALOG, Tier


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    """One tier's sources: preferred brokers first, then fallbacks, and how many to use."""

    tier: Tier
    order: tuple[str, ...]
    redundancy: int
    every_live: bool
    """Use every live broker (enterprise: all sources), not only the first `redundancy`."""

    @classmethod
    def of(cls, tier: Tier) -> SourcePolicy:
        """The policy the tier catalog describes."""
        tier_limits = CATALOG[tier]
        return cls(
            tier,
            tier_limits.source_order,
            tier_limits.broker_redundancy,
            every_live=not tier_limits.fallback_brokers,
        )

    def choose(self, known: Iterable[str], live: Callable[[str], bool]) -> tuple[str, ...]:
        """The sources to use now: live brokers in policy order (a broker outside the
        catalog, e.g. one publishing through PublishTicks, comes last), the first
        `redundancy` of them unless the tier takes every live broker."""
        extra = sorted(b for b in known if b not in self.order)
        chosen = tuple(b for b in (*self.order, *extra) if live(b))
        return chosen if self.every_live else chosen[: self.redundancy]


POLICIES: Mapping[Tier, SourcePolicy] = {tier: SourcePolicy.of(tier) for tier in Tier}
