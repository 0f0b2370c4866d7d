"""Bring the shared schema to Alembic head, programmatically, on PostgreSQL or SQLite."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from servers.storage.relational.tables import DEFAULT_SHARED_SCHEMA, SHARED, SHARED_SCHEMA_NAME

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Any constant works; it only has to be the same in every process that migrates.
_MIGRATION_LOCK_KEY = 0x7469636B6D657368  # "tickmesh"


def alembic_config(shared_schema: str | None) -> Config:
    """An Alembic Config for our migrations, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["shared_schema"] = shared_schema
    return config


async def prepare_connection(conn: AsyncConnection, shared_schema: str) -> str | None:
    """Lock out concurrent migrators, create the shared schema, map the SHARED placeholder.

    Returns the real shared schema name (None on SQLite, whose shared tables are in main).
    """
    if conn.dialect.name != "postgresql":
        await conn.execution_options(schema_translate_map={SHARED: None})
        return None
    if not SHARED_SCHEMA_NAME.fullmatch(shared_schema):
        raise ValueError(f"shared schema {shared_schema!r} is not a plain identifier")
    # Two servers starting together would otherwise both try to create the same tables.
    await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    await conn.execute(sa.schema.CreateSchema(shared_schema, if_not_exists=True))
    await conn.execution_options(schema_translate_map={SHARED: shared_schema})
    return shared_schema


async def migrate(engine: AsyncEngine, shared_schema: str = DEFAULT_SHARED_SCHEMA) -> None:
    """Upgrade the shared schema to head; a no-op when it is already there."""
    async with engine.begin() as conn:
        schema = await prepare_connection(conn, shared_schema)
        config = alembic_config(schema)
        await conn.run_sync(_upgrade, config)


def _upgrade(connection: sa.Connection, config: Config) -> None:
    # env.py runs on this connection, inside our transaction, so the lock and the schema
    # translation above apply to the migration too.
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def current_revision(
    engine: AsyncEngine, shared_schema: str = DEFAULT_SHARED_SCHEMA
) -> str | None:
    """The shared schema's Alembic revision, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    schema = shared_schema if engine.dialect.name == "postgresql" else None

    def read(connection: sa.Connection) -> str | None:
        context = MigrationContext.configure(connection, opts={"version_table_schema": schema})
        return context.get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)
