"""Alembic environment: runs on the caller's connection, or opens one for the CLI."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from servers.storage.relational.engine import postgres_url, sqlite_url
from servers.storage.relational.migrate import prepare_connection
from servers.storage.relational.tables import DEFAULT_SHARED_SCHEMA, shared_metadata

config = context.config


def run_migrations(connection: Connection, shared_schema: str | None) -> None:
    """Run the revision scripts on `connection` (its schema_translate_map is already set)."""
    context.configure(
        connection=connection,
        target_metadata=shared_metadata,
        version_table_schema=shared_schema,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_cli() -> None:
    """`alembic -x url=... | -x data_dir=...`: the same steps migrate() takes."""
    args = context.get_x_argument(as_dictionary=True)
    if "url" in args:
        engine = create_async_engine(postgres_url(args["url"]))
    elif "data_dir" in args:
        engine = create_async_engine(sqlite_url(Path(args["data_dir"]) / "tickmesh.db"))
    else:
        raise SystemExit("pass -x url=<postgresql url> or -x data_dir=<embedded store dir>")
    try:
        async with engine.begin() as conn:
            schema = await prepare_connection(conn, args.get("schema", DEFAULT_SHARED_SCHEMA))
            await conn.run_sync(run_migrations, schema)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    # The shared schema's name is resolved per connection, so there is no fixed SQL to print.
    raise SystemExit("offline (--sql) mode is not supported")
if "connection" in config.attributes:
    run_migrations(config.attributes["connection"], config.attributes["shared_schema"])
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    asyncio.run(run_from_cli())
