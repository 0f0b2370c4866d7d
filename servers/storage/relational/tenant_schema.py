"""Tenant DDL: create one `tenant_<id>` schema at the current version, upgrade old ones.

Why not Alembic per tenant: Alembic keeps one version table per target and loads
env.py and every script on each run, tens of milliseconds per schema; with thousands
of tenants that dominates company creation and startup. Instead the tenant tables
(tables.tenant_metadata) are created directly, inside create_company's transaction
(atomic with the company row on PostgreSQL), with schema_translate_map pointing the
one Table definition at the new schema, and `companies.tenant_schema_version`
records the version. A later change to the tenant tables appends a step to
TENANT_STEPS; `upgrade_tenant_schemas()` walks the companies below head.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateIndex, CreateSchema, CreateTable

from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.scope import tenant_schema_name
from servers.storage.relational.tables import companies, tenant_metadata

TenantStep = Callable[[AsyncConnection, str], Awaitable[None]]


async def _v1_create_tables(conn: AsyncConnection, company_id: str) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(CreateSchema(tenant_schema_name(company_id), if_not_exists=True))
    # IF NOT EXISTS makes a retried or half-done creation safe to run again.
    for table in tenant_metadata.sorted_tables:
        await conn.execute(CreateTable(table, if_not_exists=True))
        for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
            await conn.execute(CreateIndex(index, if_not_exists=True))


# Step n brings a tenant schema from version n-1 to n; run on a tenant() connection.
TENANT_STEPS: dict[int, TenantStep] = {1: _v1_create_tables}
TENANT_SCHEMA_VERSION = max(TENANT_STEPS)


async def create_tenant_schema(conn: AsyncConnection, company_id: str) -> int:
    """Create the tenant schema at head on a tenant(create=True) connection; return the version."""
    for version in sorted(TENANT_STEPS):
        await TENANT_STEPS[version](conn, company_id)
    return TENANT_SCHEMA_VERSION


async def upgrade_tenant_schemas(store: RelationalStore) -> int:
    """Bring every tenant schema below head up to head; return how many were upgraded."""
    async with store.shared(readonly=True) as conn:
        behind = await conn.execute(
            sa.select(companies.c.id, companies.c.tenant_schema_version).where(
                companies.c.tenant_schema_version < TENANT_SCHEMA_VERSION
            )
        )
        rows = behind.all()
    for company_id, version in rows:
        async with store.tenant(company_id) as conn:
            for step in range(version + 1, TENANT_SCHEMA_VERSION + 1):
                await TENANT_STEPS[step](conn, company_id)
            await conn.execute(
                companies.update()
                .where(companies.c.id == company_id)
                .values(tenant_schema_version=TENANT_SCHEMA_VERSION)
            )
    return len(rows)
