"""Tier-based retention: delete closed positions older than the tier keeps, and log it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from mesh.tiers import Tier, limits
from servers.storage.relational import audit, quota, validation
from servers.storage.relational.companies import list_companies
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.tables import trading_positions


@dataclass(frozen=True, slots=True)
class RetentionResult:
    """What one retention run deleted for one company."""

    company_id: str
    tier: Tier
    retention_days: int
    cutoff: datetime
    deleted_positions: int
    freed_bytes: int


async def apply_retention(
    store: RelationalStore,
    company_id: str,
    *,
    now: datetime | None = None,
    actor: str = "system:retention",
) -> RetentionResult:
    """Delete the company's closed positions with closed_at before now - retention days.

    An operator/system operation: it takes a company id (the servicer authorizes the
    caller) and touches only that company's schema. Open positions are never deleted,
    whatever their age. The deletion, the quota credit and the audit entry commit
    together.
    """
    company_id = validation.company_id(company_id)
    actor = validation.actor(actor)
    at = store.now(now)
    async with store.tenant(company_id) as conn:
        tier = await quota.subscribed_tier(conn, company_id)
        days = limits(tier).trading_retention_days
        cutoff = at - timedelta(days=days)
        # RETURNING the symbol lengths credits exactly what quota.position_bytes charged.
        deleted = (
            (
                await conn.execute(
                    trading_positions.delete()
                    .where(
                        trading_positions.c.status == "closed",
                        trading_positions.c.closed_at < cutoff,
                    )
                    .returning(sa.func.length(trading_positions.c.symbol))
                )
            )
            .scalars()
            .all()
        )
        freed = sum(quota.POSITION_ROW_BYTES + 2 * int(length) for length in deleted)
        if deleted:
            await quota.release(conn, company_id, freed, len(deleted), at)
        result = RetentionResult(company_id, tier, days, cutoff, len(deleted), freed)
        # Logged even when nothing was due: the trail shows the policy ran.
        await audit.record(
            conn,
            at=at,
            actor=actor,
            action="retention.applied",
            company_id=company_id,
            target="trading_positions",
            after={
                "tier": tier.value,
                "retention_days": days,
                "cutoff": cutoff.isoformat(),
                "deleted_positions": len(deleted),
                "freed_bytes": freed,
            },
        )
    return result


async def apply_retention_all(
    store: RelationalStore, *, now: datetime | None = None, actor: str = "system:retention"
) -> list[RetentionResult]:
    """apply_retention for every company, one transaction each, at one instant."""
    at = store.now(now)
    return [
        await apply_retention(store, company.id, now=at, actor=actor)
        for company in await list_companies(store)
    ]
