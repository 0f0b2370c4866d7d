"""Events reported by other services carry a dedupe key: one row per key.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servers.storage.migrations.alter import shared_schema
from servers.storage.relational.tables import SHARED

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add events.dedupe_key, unique where set (NULLs never collide)."""
    op.add_column(
        "events", sa.Column("dedupe_key", sa.String(128), nullable=True), schema=shared_schema()
    )
    op.create_index(
        op.f("ix_events_dedupe_key"), "events", ["dedupe_key"], unique=True, schema=SHARED
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_index(op.f("ix_events_dedupe_key"), table_name="events", schema=SHARED)
    op.drop_column("events", "dedupe_key", schema=shared_schema())
