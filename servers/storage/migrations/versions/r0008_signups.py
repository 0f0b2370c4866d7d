"""Self-service sign-ups: a verification token per new company's owner.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servers.storage.relational.tables import COMPANY_ID_LEN, ENTITY_ID_LEN, SHARED
from servers.storage.relational.types import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create signups."""
    op.create_table(
        "signups",
        sa.Column("id", sa.String(ENTITY_ID_LEN), nullable=False),
        sa.Column("company_id", sa.String(COMPANY_ID_LEN), nullable=False),
        sa.Column("user_id", sa.String(ENTITY_ID_LEN), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signups")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_signups_token_hash")),
        schema=SHARED,
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("signups", schema=SHARED)
