"""Subscriptions: each company's current tier and billing period, and tier changes.

Periods are calendar months in UTC, matching Billing's monthly invoices and the usage
tables' monthly partitions; a company's first period runs from its creation to the
next month boundary (Billing prorates it). An IMMEDIATE change switches the tier now
and keeps the period (Billing prorates the rest); an END_OF_TERM change is kept as
pending and applied by advance_subscription() once the period has ended.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.errors import FailedPrecondition, NotFound
from mesh.tiers import Tier
from servers.storage.relational import audit, validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.tables import subscriptions


class Effective(enum.StrEnum):
    """When a tier change takes effect."""

    IMMEDIATE = "immediate"
    END_OF_TERM = "end_of_term"


class SubscriptionStatus(enum.StrEnum):
    """Paid up, or waiting for a payment that, missing at period end, means free."""

    ACTIVE = "active"
    PAST_DUE = "past_due"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A company's current subscription."""

    company_id: str
    tier: Tier
    status: SubscriptionStatus
    period_start: datetime
    period_end: datetime
    pending_tier: Tier | None
    pending_effective_at: datetime | None
    updated_at: datetime

    def audit_view(self) -> dict[str, Any]:
        """The JSON-safe fields the audit trail records."""
        return {
            "tier": self.tier.value,
            "status": self.status.value,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "pending_tier": self.pending_tier.value if self.pending_tier else None,
            "pending_effective_at": (
                self.pending_effective_at.isoformat() if self.pending_effective_at else None
            ),
        }


def month_start(now: datetime) -> datetime:
    """Midnight UTC on the first day of `now`'s month."""
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def next_month_start(now: datetime) -> datetime:
    """Midnight UTC on the first day of the month after `now`'s."""
    now = now.astimezone(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _from_row(row: sa.RowMapping) -> Subscription:
    return Subscription(
        company_id=row["company_id"],
        tier=Tier(row["tier"]),
        status=SubscriptionStatus(row["status"]),
        period_start=row["period_start"],
        period_end=row["period_end"],
        pending_tier=Tier(row["pending_tier"]) if row["pending_tier"] else None,
        pending_effective_at=row["pending_effective_at"],
        updated_at=row["updated_at"],
    )


async def insert_first(
    conn: AsyncConnection, company_id: str, tier: Tier, now: datetime
) -> Subscription:
    """Create a new company's subscription (inside create_company's transaction)."""
    subscription = Subscription(
        company_id=company_id,
        tier=tier,
        status=SubscriptionStatus.ACTIVE,
        period_start=now,
        period_end=next_month_start(now),
        pending_tier=None,
        pending_effective_at=None,
        updated_at=now,
    )
    await conn.execute(
        subscriptions.insert().values(
            company_id=company_id,
            tier=tier.value,
            status=subscription.status.value,
            period_start=subscription.period_start,
            period_end=subscription.period_end,
            updated_at=now,
        )
    )
    return subscription


async def _load(conn: AsyncConnection, company_id: str, *, for_update: bool) -> Subscription:
    query = sa.select(subscriptions).where(subscriptions.c.company_id == company_id)
    if for_update:
        # Serializes concurrent changes to one subscription (ignored by SQLite, whose
        # BEGIN IMMEDIATE already serializes writers).
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().one_or_none()
    if row is None:
        raise NotFound(f"company {company_id} not found", metadata={"company_id": company_id})
    return _from_row(row)


async def _save(conn: AsyncConnection, new: Subscription) -> None:
    await conn.execute(
        subscriptions.update()
        .where(subscriptions.c.company_id == new.company_id)
        .values(
            tier=new.tier.value,
            status=new.status.value,
            period_start=new.period_start,
            period_end=new.period_end,
            pending_tier=new.pending_tier.value if new.pending_tier else None,
            pending_effective_at=new.pending_effective_at,
            updated_at=new.updated_at,
        )
    )


async def get_subscription(store: RelationalStore, company_id: str) -> Subscription:
    """The company's current subscription; NotFound for unknown companies."""
    company_id = validation.company_id(company_id)
    async with store.shared(readonly=True) as conn:
        return await _load(conn, company_id, for_update=False)


async def change_tier(
    store: RelationalStore,
    company_id: str,
    new_tier: Tier | str,
    *,
    actor: str,
    effective: Effective = Effective.IMMEDIATE,
    now: datetime | None = None,
) -> Subscription:
    """Change the company's tier now or at the end of the period; audited.

    Asking for the tier the company already has (with nothing pending) changes nothing
    and writes no audit entry, so retried requests are harmless.
    """
    check = validation.Validator()
    company_id = check.company_id(company_id)
    tier = check.tier(new_tier)
    check.text("actor", actor, validation.ACTOR, 81, "kind[:id], e.g. user:<id>")
    if not isinstance(effective, Effective):
        check.fail("effective", "must be IMMEDIATE or END_OF_TERM")
    check.check()
    assert tier is not None
    at = store.now(now)
    async with store.shared() as conn:
        old = await _load(conn, company_id, for_update=True)
        if effective is Effective.IMMEDIATE:
            if old.tier is tier and old.pending_tier is None:
                return old
            new = replace(
                old, tier=tier, pending_tier=None, pending_effective_at=None, updated_at=at
            )
        else:
            if old.pending_tier is tier or (old.tier is tier and old.pending_tier is None):
                return old
            # Back to the current tier: cancelling the pending change is all that is left.
            pending = None if tier is old.tier else tier
            new = replace(
                old,
                pending_tier=pending,
                pending_effective_at=old.period_end if pending else None,
                updated_at=at,
            )
        await _save(conn, new)
        await audit.record(
            conn,
            at=at,
            actor=actor,
            action="subscription.tier_changed",
            company_id=company_id,
            target="subscription",
            before=old.audit_view(),
            after={**new.audit_view(), "effective": effective.value},
        )
    return new


async def mark_past_due(
    store: RelationalStore, company_id: str, *, actor: str, now: datetime | None = None
) -> Subscription:
    """Billing could not collect: unless paid before the period ends, it expires to free."""
    company_id = validation.company_id(company_id)
    actor = validation.actor(actor)
    at = store.now(now)
    async with store.shared() as conn:
        old = await _load(conn, company_id, for_update=True)
        if old.tier is Tier.FREE:
            raise FailedPrecondition("a free subscription cannot be past due")
        if old.status is SubscriptionStatus.PAST_DUE:
            return old
        new = replace(old, status=SubscriptionStatus.PAST_DUE, updated_at=at)
        await _save(conn, new)
        await audit.record(
            conn,
            at=at,
            actor=actor,
            action="subscription.past_due",
            company_id=company_id,
            target="subscription",
            before=old.audit_view(),
            after=new.audit_view(),
        )
    return new


@dataclass(frozen=True, slots=True)
class Rollover:
    """One subscription rolled into its next period, and why."""

    before: Subscription
    after: Subscription
    action: str
    """"renewed", "tier_changed" (a pending END_OF_TERM change) or "expired" (to free)."""


async def advance_subscription(
    store: RelationalStore,
    company_id: str,
    *,
    now: datetime | None = None,
    actor: str = "system:billing",
) -> Subscription:
    """Roll the subscription into the period containing `now` once its period has ended.

    A past-due subscription expires to free (the seed's downgrade-on-expiry); otherwise a
    pending END_OF_TERM change is applied, or the same tier simply renews. Before the
    period end this changes nothing, so a scheduler may call it as often as it likes.
    """
    rolled = await roll_over(store, company_id, now=now, actor=actor)
    return rolled.after if rolled else await get_subscription(store, company_id)


async def advance_subscriptions(
    store: RelationalStore, *, now: datetime | None = None, actor: str = "system:lifecycle"
) -> list[Rollover]:
    """roll_over for every company at one instant, one transaction each; the ones that moved."""
    at = store.now(now)
    # Only periods that have ended; every company has exactly one subscription row.
    query = (
        sa.select(subscriptions.c.company_id)
        .where(subscriptions.c.period_end <= at)
        .order_by(subscriptions.c.company_id)
    )
    async with store.shared(readonly=True) as conn:
        due = (await conn.execute(query)).scalars().all()
    rolled = [await roll_over(store, company_id, now=at, actor=actor) for company_id in due]
    return [r for r in rolled if r is not None]


async def roll_over(
    store: RelationalStore,
    company_id: str,
    *,
    now: datetime | None = None,
    actor: str = "system:billing",
) -> Rollover | None:
    """advance_subscription's work: the rollover, or None while the period runs."""
    company_id = validation.company_id(company_id)
    actor = validation.actor(actor)
    at = store.now(now)
    async with store.shared() as conn:
        old = await _load(conn, company_id, for_update=True)
        if at < old.period_end:
            return None
        if old.status is SubscriptionStatus.PAST_DUE:
            action, tier = "subscription.expired", Tier.FREE
        elif old.pending_tier is not None:
            action, tier = "subscription.tier_changed", old.pending_tier
        else:
            action, tier = "subscription.renewed", old.tier
        new = Subscription(
            company_id=company_id,
            tier=tier,
            status=SubscriptionStatus.ACTIVE,
            period_start=month_start(at),
            period_end=next_month_start(at),
            pending_tier=None,
            pending_effective_at=None,
            updated_at=at,
        )
        await _save(conn, new)
        await audit.record(
            conn,
            at=at,
            actor=actor,
            action=action,
            company_id=company_id,
            target="subscription",
            before=old.audit_view(),
            after=new.audit_view(),
        )
    return Rollover(old, new, action.removeprefix("subscription."))
