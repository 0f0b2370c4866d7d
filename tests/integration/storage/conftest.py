"""Fixtures for the relational store, run against both PostgreSQL and embedded SQLite."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa

from servers.storage.relational import api_keys, companies, trading, users
from servers.storage.relational.engine import RelationalStore, open_store, tier_storage_quota
from servers.storage.relational.provision import destroy_store
from servers.storage.relational.scope import TenantScope
from servers.storage.relational.tables import TENANT_TABLES, shared_metadata
from tests.support.backing import POSTGRES_URL, require_postgres

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=["postgres", "sqlite"])
async def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RelationalStore]:
    """A migrated store for this test session, on each backend.

    On PostgreSQL the shared tables go into a schema unique to this session and every
    tenant schema gets a fresh random id, so parallel sessions never collide; all of
    them are dropped at the end.
    """
    data_dir = tmp_path_factory.mktemp(f"relational-{request.param}")
    if request.param == "postgres":
        await require_postgres()
        opened = await open_store(
            POSTGRES_URL, data_dir, shared_schema=f"tmtest_{secrets.token_hex(6)}"
        )
    else:
        opened = await open_store(None, data_dir)
    yield opened
    await destroy_store(opened)


@pytest.fixture
def quota_limit(store: RelationalStore) -> Iterator[Callable[[int | None], None]]:
    """Set every tier's storage quota to a small number for one test."""

    def set_limit(limit: int | None) -> None:
        store.quota_for = lambda _tier: limit

    yield set_limit
    store.quota_for = tier_storage_quota


@dataclass
class Tenant:
    """A company with one user, key, broker account, open and closed position."""

    scope: TenantScope
    user_id: str
    key_id: str
    key: str
    account_id: str
    open_position_id: str
    closed_position_id: str


def new_position(
    symbol: str = "EURUSD", *, closed_days_ago: int | None = None
) -> trading.NewPosition:
    """A position opened a year before T0, closed `closed_days_ago` before T0 if given."""
    closed_at = None if closed_days_ago is None else T0 - timedelta(days=closed_days_ago)
    return trading.NewPosition(
        symbol=symbol,
        side="buy",
        volume=Decimal("1.25"),
        open_price=Decimal("1.08123"),
        opened_at=T0 - timedelta(days=400),
        stop_loss=Decimal("1.07000"),
        close_price=None if closed_at is None else Decimal("1.09001"),
        closed_at=closed_at,
    )


async def make_tenant(store: RelationalStore, tier: str = "free") -> Tenant:
    """A fresh company populated with one of everything."""
    company, _ = await companies.create_company(store, "Acme Trading Ltd.", tier, now=T0)
    scope = TenantScope(company.id)
    user = await users.create_user(store, scope, "Ann@Example.com", "Ann Lee", "owner", now=T0)
    key_id, key, _ = await api_keys.issue_api_key(store, scope, user.id, now=T0)
    account = await trading.create_broker_account(
        store, scope, user.id, "ic_markets", "5550001", account_type="live", now=T0
    )
    opened, closed = await trading.record_positions(
        store, scope, account.id, [new_position(), new_position(closed_days_ago=1)], now=T0
    )
    return Tenant(scope, user.id, key_id, key, account.id, opened.id, closed.id)


@pytest.fixture
def tenant_factory(store: RelationalStore) -> Callable[..., Awaitable[Tenant]]:
    """make_tenant bound to the store."""

    async def make(tier: str = "free") -> Tenant:
        return await make_tenant(store, tier)

    return make


RowCounts = dict[str, int]


@pytest.fixture
def row_counts(store: RelationalStore) -> Callable[..., Awaitable[RowCounts]]:
    """Count the rows of every shared table and of the given tenants' tables."""

    async def count(*company_ids: str) -> RowCounts:
        found: RowCounts = {}
        async with store.shared(readonly=True) as conn:
            for table in shared_metadata.sorted_tables:
                found[table.name] = int(
                    await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0
                )
        for company_id in company_ids:
            async with store.tenant(company_id, readonly=True) as conn:
                for table in TENANT_TABLES:
                    found[f"{company_id}.{table.name}"] = int(
                        await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0
                    )
        return found

    return count


@pytest.fixture
def data_dir(store: RelationalStore) -> Path | None:
    """The SQLite tenant directory (None on PostgreSQL)."""
    return store.tenant_dir
