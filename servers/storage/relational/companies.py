"""Companies: creation (with subscription, quota ledger and tenant schema), lookup, deactivation."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from mesh.errors import NotFound
from mesh.tiers import Tier
from servers.storage.relational import audit, subscriptions, validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.subscriptions import Subscription
from servers.storage.relational.tables import COMPANY_ID_LEN, companies, storage_usage
from servers.storage.relational.tables import subscriptions as subscription_rows
from servers.storage.relational.tenant_schema import create_tenant_schema

# 48 random bits; a collision with an existing company is retried, never merged.
_CREATE_ATTEMPTS = 3
# Past any real count of companies, and below the BIGINT every backend's OFFSET takes.
_MAX_OFFSET = 2**62


class CompanyStatus(enum.StrEnum):
    """Companies are deactivated, never deleted (their schema stays for audit and billing)."""

    ACTIVE = "active"
    DEACTIVATED = "deactivated"


@dataclass(frozen=True, slots=True)
class Company:
    """A tenant."""

    id: str
    name: str
    status: CompanyStatus
    created_at: datetime
    deactivated_at: datetime | None

    @property
    def schema(self) -> str:
        """Its tenant schema."""
        return f"tenant_{self.id}"


def new_company_id() -> str:
    """12 lowercase hex characters: identifier-safe in `tenant_<id>` on every backend."""
    return secrets.token_hex(COMPANY_ID_LEN // 2)


def _from_row(row: sa.RowMapping) -> Company:
    return Company(
        id=row["id"],
        name=row["name"],
        status=CompanyStatus(row["status"]),
        created_at=row["created_at"],
        deactivated_at=row["deactivated_at"],
    )


async def create_company(
    store: RelationalStore,
    name: str,
    tier: Tier | str = Tier.FREE,
    *,
    actor: str = "system:storage",
    now: datetime | None = None,
) -> tuple[Company, Subscription]:
    """Create a company, its subscription, its quota ledger and its `tenant_<id>` schema.

    On PostgreSQL all of it is one transaction (DDL is transactional there). On SQLite
    the tenant file is attached first and the DDL and rows commit together.
    """
    check = validation.Validator()
    name = check.name(name)
    parsed_tier = check.tier(tier)
    check.text("actor", actor, validation.ACTOR, 81, "kind[:id], e.g. user:<id>")
    check.check()
    assert parsed_tier is not None
    at = store.now(now)
    for attempt in range(_CREATE_ATTEMPTS):
        company_id = new_company_id()
        try:
            async with store.tenant(company_id, create=True) as conn:
                version = await create_tenant_schema(conn, company_id)
                await conn.execute(
                    companies.insert().values(
                        id=company_id,
                        name=name,
                        status=CompanyStatus.ACTIVE.value,
                        created_at=at,
                        tenant_schema_version=version,
                    )
                )
                subscription = await subscriptions.insert_first(conn, company_id, parsed_tier, at)
                await conn.execute(
                    storage_usage.insert().values(
                        company_id=company_id, used_bytes=0, row_count=0, updated_at=at
                    )
                )
                company = Company(company_id, name, CompanyStatus.ACTIVE, at, None)
                await audit.record(
                    conn,
                    at=at,
                    actor=actor,
                    action="company.created",
                    company_id=company_id,
                    target="company",
                    after={"name": name, "tier": parsed_tier.value},
                )
        except sa.exc.IntegrityError:
            if attempt + 1 == _CREATE_ATTEMPTS:
                raise
            continue
        store.remember_company(company_id)
        return company, subscription
    raise AssertionError("unreachable")


async def get_company(store: RelationalStore, company_id: str) -> Company:
    """The company; NotFound when it does not exist."""
    company_id = validation.company_id(company_id)
    async with store.shared(readonly=True) as conn:
        row = (
            (await conn.execute(sa.select(companies).where(companies.c.id == company_id)))
            .mappings()
            .one_or_none()
        )
    if row is None:
        raise NotFound(f"company {company_id} not found", metadata={"company_id": company_id})
    return _from_row(row)


async def list_companies(
    store: RelationalStore, *, status: CompanyStatus | None = None
) -> list[Company]:
    """Every company (optionally only those with `status`), oldest first."""
    query = sa.select(companies).order_by(companies.c.created_at, companies.c.id)
    if status is not None:
        query = query.where(companies.c.status == CompanyStatus(status).value)
    async with store.shared(readonly=True) as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [_from_row(row) for row in rows]


async def list_companies_with_tiers(
    store: RelationalStore, *, offset: int, limit: int
) -> tuple[list[tuple[Company, Tier]], bool]:
    """Up to `limit` companies from the `offset`-th on, oldest first, each with its current
    tier, and whether more follow; one query, each company joined to its subscription."""
    # An inner join drops no company: each gets its subscription in the transaction that
    # creates it, and neither is ever deleted.
    query = (
        sa.select(companies, subscription_rows.c.tier)
        .join(subscription_rows, subscription_rows.c.company_id == companies.c.id)
        .order_by(companies.c.created_at, companies.c.id)
        .offset(min(offset, _MAX_OFFSET))
        .limit(limit + 1)  # the extra row only says whether another page follows
    )
    async with store.shared(readonly=True) as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [(_from_row(row), Tier(row["tier"])) for row in rows[:limit]], len(rows) > limit


async def deactivate_company(
    store: RelationalStore, company_id: str, *, actor: str, now: datetime | None = None
) -> Company:
    """Deactivate a company: its keys stop authenticating; its data stays (never dropped)."""
    company_id = validation.company_id(company_id)
    actor = validation.actor(actor)
    at = store.now(now)
    async with store.shared() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(companies).where(companies.c.id == company_id).with_for_update()
                )
            )
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise NotFound(f"company {company_id} not found", metadata={"company_id": company_id})
        old = _from_row(row)
        if old.status is CompanyStatus.DEACTIVATED:
            return old
        await conn.execute(
            companies.update()
            .where(companies.c.id == company_id)
            .values(status=CompanyStatus.DEACTIVATED.value, deactivated_at=at)
        )
        await audit.record(
            conn,
            at=at,
            actor=actor,
            action="company.deactivated",
            company_id=company_id,
            target="company",
            before={"status": old.status.value},
            after={"status": CompanyStatus.DEACTIVATED.value},
        )
    return Company(old.id, old.name, CompanyStatus.DEACTIVATED, old.created_at, at)


async def existing_company_ids(store: RelationalStore, company_ids: set[str]) -> set[str]:
    """The subset of `company_ids` that are companies (one query; malformed ids are unknown)."""
    wellformed = {c for c in company_ids if validation.COMPANY_ID.fullmatch(c)}
    if not wellformed:
        return set()
    query = sa.select(companies.c.id).where(companies.c.id.in_(sorted(wellformed)))
    async with store.shared(readonly=True) as conn:
        return set((await conn.execute(query)).scalars())
