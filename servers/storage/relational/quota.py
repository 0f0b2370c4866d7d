"""Storage quota: per-company byte accounting, checked and reserved in the writing transaction.

Accounting, not measurement: each tenant row is charged an estimate when written and
credited when deleted, kept in shared `storage_usage`. The estimates are the bytes a
row really costs in PostgreSQL 15 (heap + every index + alignment), measured with
pg_total_relation_size over 20,000 rows per table, split into a fixed part and the
variable-length text that appears in the heap and again in an index. Measuring the
relations on every write would be far too slow, and SQLite files cannot be sized per
tenant row; `reconcile_usage()` recomputes the ledger from the rows if it ever drifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.errors import NotFound, QuotaViolation, ResourceExhausted
from mesh.tiers import Tier
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.scope import TenantScope
from servers.storage.relational.tables import (
    broker_accounts,
    storage_usage,
    subscriptions,
    trading_positions,
    users,
)

# Fixed bytes per row, measured (see the module docstring).
USER_ROW_BYTES = 184
BROKER_ACCOUNT_ROW_BYTES = 235
POSITION_ROW_BYTES = 334


def user_bytes(email: str, name: str) -> int:
    """Estimated bytes of one users row (email is stored again in its unique index).

    Counts characters, not UTF-8 bytes, so reconcile_usage() can recompute it in SQL.
    """
    return USER_ROW_BYTES + 2 * len(email) + len(name)


def broker_account_bytes(broker: str, account_number: str) -> int:
    """Estimated bytes of one broker_accounts row (both texts are in the unique index too)."""
    return BROKER_ACCOUNT_ROW_BYTES + 2 * (len(broker) + len(account_number))


def position_bytes(symbol: str) -> int:
    """Estimated bytes of one trading_positions row (the symbol is indexed too)."""
    return POSITION_ROW_BYTES + 2 * len(symbol)


@dataclass(frozen=True, slots=True)
class StorageUsage:
    """A company's accounted storage against its tier's quota."""

    company_id: str
    tier: Tier
    used_bytes: int
    row_count: int
    limit_bytes: int | None  # None: unlimited


async def subscribed_tier(conn: AsyncConnection, company_id: str) -> Tier:
    """The company's current tier, read inside the caller's transaction."""
    tier = await conn.scalar(
        sa.select(subscriptions.c.tier).where(subscriptions.c.company_id == company_id)
    )
    if tier is None:
        raise NotFound(f"company {company_id} not found", metadata={"company_id": company_id})
    return Tier(tier)


async def reserve(
    store: RelationalStore,
    conn: AsyncConnection,
    company_id: str,
    nbytes: int,
    nrows: int,
    now: datetime,
) -> None:
    """Charge a write to the company's quota inside its transaction, or raise ResourceExhausted.

    Call before writing the rows: the refusal then rolls back a transaction that wrote
    nothing. The check and the charge are one conditional UPDATE, so concurrent writers
    cannot both slip under the limit.
    """
    tier = await subscribed_tier(conn, company_id)
    limit = store.quota_for(tier)
    update = (
        storage_usage.update()
        .where(storage_usage.c.company_id == company_id)
        .values(
            used_bytes=storage_usage.c.used_bytes + nbytes,
            row_count=storage_usage.c.row_count + nrows,
            updated_at=now,
        )
    )
    if limit is not None:
        update = update.where(storage_usage.c.used_bytes + nbytes <= limit)
    result = await conn.execute(update)
    if result.rowcount == 1:
        return
    used = int(
        await conn.scalar(
            sa.select(storage_usage.c.used_bytes).where(storage_usage.c.company_id == company_id)
        )
        or 0
    )
    raise ResourceExhausted(
        f"storage quota of the {tier.value} tier exceeded: {used} of {limit} bytes used,"
        f" this write needs {nbytes} more",
        violations=[
            QuotaViolation(
                subject=f"company:{company_id}",
                description=f"storage bytes: used {used}, limit {limit}, write {nbytes}",
            )
        ],
        metadata={"quota": "storage_bytes", "tier": tier.value},
    )


async def release(
    conn: AsyncConnection, company_id: str, nbytes: int, nrows: int, now: datetime
) -> None:
    """Credit deleted rows back to the company's quota inside its transaction."""
    await conn.execute(
        storage_usage.update()
        .where(storage_usage.c.company_id == company_id)
        .values(
            used_bytes=sa.func.max(storage_usage.c.used_bytes - nbytes, 0)
            if conn.dialect.name == "sqlite"
            else sa.func.greatest(storage_usage.c.used_bytes - nbytes, 0),
            row_count=storage_usage.c.row_count - nrows,
            updated_at=now,
        )
    )


async def get_usage(store: RelationalStore, scope: TenantScope) -> StorageUsage:
    """The scope's accounted storage and its quota."""
    async with store.tenant(scope.company_id, readonly=True) as conn:
        row = (
            await conn.execute(
                sa.select(
                    storage_usage.c.used_bytes, storage_usage.c.row_count, subscriptions.c.tier
                )
                .join(subscriptions, subscriptions.c.company_id == storage_usage.c.company_id)
                .where(storage_usage.c.company_id == scope.company_id)
            )
        ).one()
    tier = Tier(row.tier)
    return StorageUsage(
        scope.company_id, tier, int(row.used_bytes), int(row.row_count), store.quota_for(tier)
    )


async def reconcile_usage(
    store: RelationalStore, scope: TenantScope, *, now: datetime | None = None
) -> StorageUsage:
    """Recompute the ledger from the tenant's rows (after a crash or an estimate change)."""
    at = store.now(now)
    length = sa.func.length
    # sum() is numeric (Decimal) on PostgreSQL and int on SQLite: int() both.
    parts = (
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(2 * length(users.c.email) + length(users.c.name)), 0),
        ),
        sa.select(
            sa.func.count(),
            sa.func.coalesce(
                sa.func.sum(
                    2
                    * (length(broker_accounts.c.broker) + length(broker_accounts.c.account_number))
                ),
                0,
            ),
        ),
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(2 * length(trading_positions.c.symbol)), 0),
        ),
    )
    fixed = (USER_ROW_BYTES, BROKER_ACCOUNT_ROW_BYTES, POSITION_ROW_BYTES)
    async with store.tenant(scope.company_id) as conn:
        total_bytes = total_rows = 0
        for query, per_row in zip(parts, fixed, strict=True):
            count, variable = (await conn.execute(query)).one()
            total_rows += int(count)
            total_bytes += int(count) * per_row + int(variable)
        await conn.execute(
            storage_usage.update()
            .where(storage_usage.c.company_id == scope.company_id)
            .values(used_bytes=total_bytes, row_count=total_rows, updated_at=at)
        )
    return await get_usage(store, scope)
