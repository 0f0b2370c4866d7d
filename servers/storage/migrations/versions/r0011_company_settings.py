"""Per-company configuration: a user limit and a support level other than the tier's.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servers.storage.relational.tables import COMPANY_ID_LEN, SHARED
from servers.storage.relational.types import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create company_settings."""
    op.create_table(
        "company_settings",
        sa.Column("company_id", sa.String(COMPANY_ID_LEN), nullable=False),
        sa.Column("max_users", sa.Integer(), nullable=True),
        sa.Column("support_level", sa.String(16), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_company_settings")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            [f"{SHARED}.companies.id"],
            name=op.f("fk_company_settings_company_id_companies"),
        ),
        schema=SHARED,
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("company_settings", schema=SHARED)
