"""API key expiry: a key may stop authenticating at a time set when it is issued.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servers.storage.migrations.alter import shared_schema
from servers.storage.relational.types import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add api_keys.expires_at (NULL: never expires, as every key before)."""
    op.add_column(
        "api_keys", sa.Column("expires_at", UTCDateTime(), nullable=True), schema=shared_schema()
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_column("api_keys", "expires_at", schema=shared_schema())
