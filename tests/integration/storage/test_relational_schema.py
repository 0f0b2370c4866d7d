"""Company creation builds the tenant schema; migrations are idempotent and match the tables."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from mesh.tiers import Tier
from servers.storage.relational import companies, subscriptions
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    migrate,
)
from servers.storage.relational.provision import provision_tenants
from servers.storage.relational.tables import TENANT_TABLES, shared_metadata
from servers.storage.relational.tenant_schema import TENANT_SCHEMA_VERSION, upgrade_tenant_schemas
from tests.integration.storage.conftest import T0


async def tenant_objects(store: RelationalStore, company_id: str) -> tuple[set[str], set[str]]:
    """The table and index names that exist in one tenant's schema."""
    schema = f"tenant_{company_id}"
    async with store.tenant(company_id, readonly=True) as conn:
        if store.backend == "postgres":
            tables = await conn.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            )
            indexes = await conn.execute(
                sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = :s"), {"s": schema}
            )
        else:
            tables = await conn.exec_driver_sql(
                f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'"
            )
            indexes = await conn.exec_driver_sql(
                f"SELECT name FROM {schema}.sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        return set(tables.scalars()), set(indexes.scalars())


def expected_indexes() -> set[str]:
    return {str(index.name) for table in TENANT_TABLES for index in table.indexes}


async def test_create_company_creates_schema_tables_and_indexes(store: RelationalStore) -> None:
    company, subscription = await companies.create_company(store, "Schema Co", "pro", now=T0)
    assert len(company.id) == 12 and company.status is companies.CompanyStatus.ACTIVE
    assert subscription.tier is Tier.PRO
    assert subscription.period_start == T0
    assert subscription.period_end.isoformat() == "2026-04-01T00:00:00+00:00"
    tables, indexes = await tenant_objects(store, company.id)
    assert tables == {table.name for table in TENANT_TABLES}
    assert expected_indexes() <= indexes
    assert (await companies.get_company(store, company.id)).created_at == T0
    if store.tenant_dir is not None:
        assert store.tenant_file(company.id).is_file()


async def test_times_come_back_aware_utc(store: RelationalStore) -> None:
    company, _ = await companies.create_company(store, "Clock Co", now=T0)
    found = await companies.get_company(store, company.id)
    assert found.created_at.tzinfo is not None and found.created_at.utcoffset() == timedelta(0)
    sub = await subscriptions.get_subscription(store, company.id)
    assert sub.period_end.tzinfo is not None


async def test_migrate_is_idempotent(store: RelationalStore) -> None:
    schema = store.shared_schema or "tickmesh"
    head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()
    await migrate(store.engine, schema)
    await migrate(store.engine, schema)
    assert await current_revision(store.engine, schema) == head
    assert MIGRATIONS_DIR.is_dir()


async def test_migrations_match_the_table_definitions(store: RelationalStore) -> None:
    """Autogenerate finds nothing to add: the revision scripts build exactly tables.py."""
    # The copy names the real schema (none on SQLite: its main database).
    schema = store.shared_schema
    referred = schema or sa.schema.BLANK_SCHEMA
    target = sa.MetaData()
    for table in shared_metadata.sorted_tables:
        table.to_metadata(
            target,
            schema=schema,  # type: ignore[arg-type]  # None is accepted at runtime
            referred_schema_fn=lambda *_args: referred,  # type: ignore[arg-type]
        )

    def compare(connection: sa.Connection) -> list[object]:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": store.shared_schema is not None,
                "include_name": lambda name, kind, _parent: (
                    kind != "schema" or name == store.shared_schema
                ),
                "version_table_schema": store.shared_schema,
            },
        )
        return list(compare_metadata(context, target))

    async with store.engine.connect() as conn:
        diffs = await conn.run_sync(compare)
    assert diffs == []


async def test_tenant_schemas_are_at_head(store: RelationalStore) -> None:
    assert await upgrade_tenant_schemas(store) == 0
    assert TENANT_SCHEMA_VERSION == 1


async def test_provision_tenants_creates_schemas(store: RelationalStore) -> None:
    ids = await provision_tenants(store, 3, tier=Tier.PRO, concurrency=2)
    assert len(set(ids)) == 3
    for company_id in ids:
        tables, _ = await tenant_objects(store, company_id)
        assert tables == {table.name for table in TENANT_TABLES}
