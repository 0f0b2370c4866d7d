"""A company's configuration: how many users it may have and its support level, each the
tier's unless the operator set another for this company; and the data features its
tier includes (a company has exactly its tier's: the Bridge projects per tier).

Storage is the only reader (adding a user, opening a ticket) and reads it in the same
transaction as the change it governs, so there is nothing to cache or invalidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.errors import QuotaViolation, ResourceExhausted
from mesh.tiers import Tier, limits
from servers.storage.relational import audit, validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.tables import company_settings, subscriptions, users

SUPPORT_LEVELS = ("community", "email", "phone")
MAX_USERS_LIMIT = 100_000
UNSET = object()
"""Leave a setting as it is (set_config)."""


@dataclass(frozen=True, slots=True)
class CompanyConfig:
    """What applies to a company now, and which parts the operator set."""

    company_id: str
    tier: Tier
    max_users: int | None
    """Effective limit; None: unlimited."""
    max_users_set: bool
    support_level: str
    support_level_set: bool
    features: tuple[str, ...]
    users: int


async def _read(conn: AsyncConnection, company_id: str) -> CompanyConfig:
    tier = Tier(
        str(
            await conn.scalar(
                sa.select(subscriptions.c.tier).where(subscriptions.c.company_id == company_id)
            )
        )
    )
    row = (
        (
            await conn.execute(
                sa.select(company_settings).where(company_settings.c.company_id == company_id)
            )
        )
        .mappings()
        .one_or_none()
    )
    tier_limits = limits(tier)
    max_users = row["max_users"] if row is not None else None
    support = row["support_level"] if row is not None else None
    count = await conn.scalar(sa.select(sa.func.count()).select_from(users)) or 0
    return CompanyConfig(
        company_id, tier,
        max_users if max_users is not None else tier_limits.max_users, max_users is not None,
        support or tier_limits.support_level, support is not None,
        tuple(sorted(f.value for f in tier_limits.features)), int(count),
    )  # fmt: skip


async def get_config(store: RelationalStore, company_id: str) -> CompanyConfig:
    """The company's configuration (NotFound for an unknown company, via its schema)."""
    async with store.tenant(company_id, readonly=True) as conn:
        return await _read(conn, company_id)


async def check_room_for_user(conn: AsyncConnection, company_id: str) -> None:
    """RESOURCE_EXHAUSTED when the company has as many users as it may (inside the
    transaction that would add one, on the company's tenant connection)."""
    config = await _read(conn, company_id)
    if config.max_users is None or config.users < config.max_users:
        return
    upgrade = next(
        (t for t in Tier if t.rank > config.tier.rank and _more_users(t, config.max_users)), None
    )
    hint = f"; tier {upgrade.value} allows more" if upgrade and not config.max_users_set else ""
    raise ResourceExhausted(
        f"your company has {config.users} of its {config.max_users} users{hint}",
        reason="USER_LIMIT",
        violations=[QuotaViolation(company_id, f"at most {config.max_users} users")],
        metadata={"max_users": str(config.max_users), "tier": config.tier.value},
    )


def _more_users(tier: Tier, than: int) -> bool:
    allowed = limits(tier).max_users
    return allowed is None or allowed > than


async def set_config(
    store: RelationalStore,
    company_id: str,
    *,
    max_users: int | object | None = UNSET,
    support_level: str | object | None = UNSET,
    actor: str = "operator",
    now: datetime | None = None,
) -> CompanyConfig:
    """Set (or with None, reset to the tier's) a company's user limit or support level."""
    check = validation.Validator()
    bad_limit = not isinstance(max_users, int) or not 1 <= max_users <= MAX_USERS_LIMIT
    if max_users is not UNSET and max_users is not None and bad_limit:
        check.fail("max_users", f"must be 1 to {MAX_USERS_LIMIT}")
    if support_level is not UNSET and support_level is not None:
        check.choice(support_level, "support_level", SUPPORT_LEVELS)
    check.check()
    at = store.now(now)
    async with store.tenant(company_id) as conn:
        before = await _read(conn, company_id)
        row = (
            (
                await conn.execute(
                    sa.select(company_settings).where(company_settings.c.company_id == company_id)
                )
            )
            .mappings()
            .one_or_none()
        )
        values = {
            "max_users": row["max_users"] if row is not None else None,
            "support_level": row["support_level"] if row is not None else None,
        }
        if max_users is not UNSET:
            values["max_users"] = max_users
        if support_level is not UNSET:
            values["support_level"] = support_level
        if row is None:
            await conn.execute(
                company_settings.insert().values(company_id=company_id, updated_at=at, **values)
            )
        else:
            await conn.execute(
                company_settings.update()
                .where(company_settings.c.company_id == company_id)
                .values(updated_at=at, **values)
            )
        await audit.record(
            conn, at=at, actor=actor, action="company.configured", company_id=company_id,
            target="company",
            before={"max_users": before.max_users, "support_level": before.support_level},
            after=values,
        )  # fmt: skip
        return await _read(conn, company_id)
