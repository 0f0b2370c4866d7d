"""What migrations that ALTER the shared schema's tables share."""

from __future__ import annotations

from alembic import op

from servers.storage.relational.tables import SHARED


def shared_schema() -> str | None:
    """The shared schema's real name for an ALTER TABLE. Alembic renders ALTER itself,
    outside the connection's schema_translate_map (CREATE TABLE goes through it), so the
    placeholder is translated by hand."""
    translate = op.get_bind().get_execution_options().get("schema_translate_map", {})
    schema: str | None = translate.get(SHARED, SHARED)
    return schema
