"""A company's subscription history, read from the audit trail, as Billing rates it.

Each event says from when the company was on which tier. A change scheduled for
the end of a term is reported when it takes effect (at that period's end), not
when it was asked for: until then it can still be replaced, and the pending
change is visible in the subscription itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from mesh.tiers import Tier
from servers.storage.relational import validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.tables import audit_log


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    """From `effective_at` on, the company is on `to_tier`."""

    kind: str  # created, tier_changed, expired, renewed
    from_tier: Tier | None
    to_tier: Tier
    effective_at: datetime
    actor: str


async def list_subscription_events(
    store: RelationalStore, company_id: str, since: datetime | None, until: datetime | None
) -> list[SubscriptionEvent]:
    """Events effective in [since, until), oldest first."""
    company_id = validation.company_id(company_id)
    query = sa.select(audit_log).where(
        audit_log.c.company_id == company_id,
        audit_log.c.action.in_(
            ["company.created", "subscription.tier_changed", "subscription.expired",
             "subscription.renewed"]
        ),
    ).order_by(audit_log.c.at, audit_log.c.id)  # fmt: skip
    async with store.shared(readonly=True) as conn:
        rows = (await conn.execute(query)).mappings().all()
    events = [e for e in (_event(row) for row in rows) if e is not None]
    in_window = [
        e
        for e in events
        if (since is None or e.effective_at >= since) and (until is None or e.effective_at < until)
    ]
    return sorted(in_window, key=lambda e: e.effective_at)


def _event(row: sa.RowMapping) -> SubscriptionEvent | None:
    before, after, at, actor = row["before"] or {}, row["after"] or {}, row["at"], row["actor"]
    action = row["action"]
    if action == "company.created":
        return SubscriptionEvent("created", None, Tier(after["tier"]), at, actor)
    from_tier = Tier(before["tier"]) if before.get("tier") else None
    to_tier = Tier(after["tier"])
    if action == "subscription.tier_changed":
        if after.get("effective") == "end_of_term":
            return None  # only scheduled; reported when the period rolls over
        if "effective" not in after:  # applied by the period roll-over, at the period end
            at = datetime.fromisoformat(before["period_end"])
        return SubscriptionEvent("tier_changed", from_tier, to_tier, at, actor)
    kind = "expired" if action == "subscription.expired" else "renewed"
    return SubscriptionEvent(
        kind, from_tier, to_tier, datetime.fromisoformat(before["period_end"]), actor
    )
