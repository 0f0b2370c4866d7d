"""Invoices: one closed invoice per company and billing period.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servers.storage.relational.tables import SHARED
from servers.storage.relational.types import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the invoices table."""
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("company_id", sa.String(12), nullable=False),
        sa.Column("billing_period", sa.String(7), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_minor_units", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            [f"{SHARED}.companies.id"],
            name=op.f("fk_invoices_company_id_companies"),
        ),
        sa.UniqueConstraint(
            "company_id", "billing_period", name=op.f("uq_invoices_company_id_billing_period")
        ),
        schema=SHARED,
    )


def downgrade() -> None:
    """Drop the invoices table."""
    op.drop_table("invoices", schema=SHARED)
