"""Events and webhooks: the outbox of what happened to each company, its webhook
endpoints, and every delivery attempt.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servers.storage.relational.tables import SHARED
from servers.storage.relational.types import JSONDoc, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create events, webhook_endpoints and webhook_attempts."""
    op.create_table(
        "events",
        sa.Column("seq", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("company_id", sa.String(12), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("data", JSONDoc, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("id", name=op.f("uq_events_id")),
        schema=SHARED,
    )
    op.create_index(
        op.f("ix_events_company_id_seq"), "events", ["company_id", "seq"], schema=SHARED
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("company_id", sa.String(12), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("event_types", JSONDoc, nullable=False),
        sa.Column("secret", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("failing_since", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            [f"{SHARED}.companies.id"],
            name=op.f("fk_webhook_endpoints_company_id_companies"),
        ),
        sa.CheckConstraint(
            "status IN ('enabled', 'disabled', 'deleted')", name=op.f("ck_webhook_endpoints_status")
        ),
        schema=SHARED,
    )
    op.create_index(
        op.f("ix_webhook_endpoints_company_id"), "webhook_endpoints", ["company_id"], schema=SHARED
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("endpoint_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("company_id", sa.String(12), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
        schema=SHARED,
    )
    op.create_index(
        op.f("ix_webhook_attempts_company_id_attempted_at"),
        "webhook_attempts", ["company_id", "attempted_at"], schema=SHARED,
    )  # fmt: skip
    op.create_index(
        op.f("ix_webhook_attempts_endpoint_id_event_id"),
        "webhook_attempts", ["endpoint_id", "event_id"], schema=SHARED,
    )  # fmt: skip


def downgrade() -> None:
    """Drop them."""
    op.drop_table("webhook_attempts", schema=SHARED)
    op.drop_table("webhook_endpoints", schema=SHARED)
    op.drop_table("events", schema=SHARED)
