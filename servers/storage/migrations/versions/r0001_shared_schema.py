"""The shared schema: companies, subscriptions, api_keys, audit_log, storage_usage.

Revision ID: 0001
Revises:
Create Date: 2025-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servers.storage.relational.tables import SHARED
from servers.storage.relational.types import JSONDoc, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the shared tables (schema=SHARED is translated to the real schema per run)."""
    op.create_table(
        "companies",
        sa.Column("id", sa.String(12), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("deactivated_at", UTCDateTime(), nullable=True),
        sa.Column("tenant_schema_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
        sa.CheckConstraint("status IN ('active', 'deactivated')", name=op.f("ck_companies_status")),
        schema=SHARED,
    )
    op.create_table(
        "subscriptions",
        sa.Column("company_id", sa.String(12), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("pending_tier", sa.String(16), nullable=True),
        sa.Column("pending_effective_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_subscriptions")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            [f"{SHARED}.companies.id"],
            name=op.f("fk_subscriptions_company_id_companies"),
        ),
        sa.CheckConstraint(
            "tier IN ('free', 'pro', 'enterprise')", name=op.f("ck_subscriptions_tier")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'past_due')", name=op.f("ck_subscriptions_status")
        ),
        sa.CheckConstraint(
            "(pending_tier IS NULL) = (pending_effective_at IS NULL)",
            name=op.f("ck_subscriptions_pending_pair"),
        ),
        schema=SHARED,
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("company_id", sa.String(12), nullable=False),
        sa.Column("user_id", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            [f"{SHARED}.companies.id"],
            name=op.f("fk_api_keys_company_id_companies"),
        ),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        schema=SHARED,
    )
    op.create_index(
        op.f("ix_api_keys_company_id_user_id"), "api_keys", ["company_id", "user_id"], schema=SHARED
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("company_id", sa.String(12), nullable=True),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("before", JSONDoc, nullable=True),
        sa.Column("after", JSONDoc, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        schema=SHARED,
    )
    op.create_index(
        op.f("ix_audit_log_company_id_at"), "audit_log", ["company_id", "at"], schema=SHARED
    )
    op.create_table(
        "storage_usage",
        sa.Column("company_id", sa.String(12), nullable=False),
        sa.Column("used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_storage_usage")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            [f"{SHARED}.companies.id"],
            name=op.f("fk_storage_usage_company_id_companies"),
        ),
        sa.CheckConstraint(
            "used_bytes >= 0 AND row_count >= 0", name=op.f("ck_storage_usage_non_negative")
        ),
        schema=SHARED,
    )


def downgrade() -> None:
    """Drop the shared tables (tenant schemas are left alone: they are never dropped)."""
    for table in ("storage_usage", "audit_log", "api_keys", "subscriptions", "companies"):
        op.drop_table(table, schema=SHARED)
