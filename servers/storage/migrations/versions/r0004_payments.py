"""Payments: a payment method on file per company, every charge, and each invoice's
payment status.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servers.storage.migrations.alter import shared_schema
from servers.storage.relational.tables import SHARED
from servers.storage.relational.types import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Add invoices.payment_status; create payment_methods and payments."""
    op.add_column(
        "invoices",
        sa.Column("payment_status", sa.String(16), nullable=False, server_default="open"),
        schema=shared_schema(),
    )
    op.create_table(
        "payment_methods",
        sa.Column("company_id", sa.String(12), nullable=False),
        sa.Column("token", sa.String(100), nullable=False),
        sa.Column("brand", sa.String(20), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_payment_methods")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            [f"{SHARED}.companies.id"],
            name=op.f("fk_payment_methods_company_id_companies"),
        ),
        schema=SHARED,
    )
    op.create_table(
        "payments",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("company_id", sa.String(12), nullable=False),
        sa.Column("invoice_id", sa.String(64), nullable=False),
        sa.Column("amount_minor_units", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("reference", sa.String(100), nullable=True),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        schema=SHARED,
    )
    op.create_index(op.f("ix_payments_invoice_id"), "payments", ["invoice_id"], schema=SHARED)


def downgrade() -> None:
    """Drop them."""
    op.drop_table("payments", schema=SHARED)
    op.drop_table("payment_methods", schema=SHARED)
    op.drop_column("invoices", "payment_status", schema=shared_schema())
