"""API key scopes: what each key may do, within its user's role.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servers.storage.migrations.alter import shared_schema
from servers.storage.relational.types import JSONDoc

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add api_keys.scopes (NULL: the role's every scope, as before)."""
    op.add_column("api_keys", sa.Column("scopes", JSONDoc, nullable=True), schema=shared_schema())


def downgrade() -> None:
    """Drop it."""
    op.drop_column("api_keys", "scopes", schema=shared_schema())
