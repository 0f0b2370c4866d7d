"""A tier change through Billing: checked against the subscription in force, recorded by
Storage, and priced (proration lines) at the instant Storage recorded it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from tickmesh.storage.v1 import storage_pb2

from mesh.errors import FailedPrecondition
from mesh.protoconv import tier_from_proto
from mesh.tiers import Tier
from servers.billing.clock import Clock
from servers.billing.lines import InvoiceLine
from servers.billing.proration import ChangeEffect, quote_change
from servers.billing.storage_source import StorageSource, tier_at


@dataclass(frozen=True, slots=True)
class TierChanged:
    """Storage's record of the change, and the lines it adds to the period's invoice."""

    recorded: storage_pb2.ChangeTierResponse
    proration: tuple[InvoiceLine, ...]


async def change_tier(
    storage: StorageSource, clock: Clock, company: str, tier: Tier, effect: ChangeEffect, actor: str
) -> TierChanged:
    """Change `company` to `tier`; FAILED_PRECONDITION without a subscription or for a no-op."""
    now = clock.now()
    current = tier_at(await storage.history(company), now)
    if current is None:
        raise FailedPrecondition(f"company {company} has no subscription at {now.isoformat()}")
    quote_change(current, tier, effect, now)  # refuses a no-op before anything is written
    reply = await storage.change_tier(company, tier, effect, actor)
    previous = tier_from_proto(reply.previous_tier)
    lines: tuple[InvoiceLine, ...] = ()
    if effect is ChangeEffect.IMMEDIATE and previous != tier:
        # Priced at the instant Storage recorded: the period's invoice shows these lines.
        effective_at = reply.effective_at.ToDatetime(tzinfo=UTC)
        lines = quote_change(previous, tier, effect, effective_at).lines
    return TierChanged(reply, lines)
