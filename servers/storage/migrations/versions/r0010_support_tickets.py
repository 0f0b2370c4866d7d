"""Support tickets and their messages, with each ticket's first-response promise.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servers.storage.relational.tables import COMPANY_ID_LEN, ENTITY_ID_LEN, SHARED
from servers.storage.relational.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create support_tickets and support_messages."""
    op.create_table(
        "support_tickets",
        sa.Column("id", sa.String(ENTITY_ID_LEN), nullable=False),
        sa.Column("company_id", sa.String(COMPANY_ID_LEN), nullable=False),
        sa.Column("opened_by", sa.String(ENTITY_ID_LEN), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("support_level", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("first_response_due_at", UTCDateTime(), nullable=True),
        sa.Column("first_responded_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("missed_reported_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_tickets")),
        sa.CheckConstraint(
            "status IN ('open', 'answered', 'closed')", name=op.f("ck_support_tickets_status")
        ),
        schema=SHARED,
    )
    op.create_index(
        op.f("ix_support_tickets_company_id_updated_at"),
        "support_tickets", ["company_id", "updated_at"], schema=SHARED,
    )  # fmt: skip
    op.create_table(
        "support_messages",
        sa.Column("id", sa.String(ENTITY_ID_LEN), nullable=False),
        sa.Column("ticket_id", sa.String(ENTITY_ID_LEN), nullable=False),
        sa.Column("author", sa.String(16), nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_messages")),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            [f"{SHARED}.support_tickets.id"],
            name=op.f("fk_support_messages_ticket_id_support_tickets"),
        ),
        sa.CheckConstraint(
            "author IN ('customer', 'support')", name=op.f("ck_support_messages_author")
        ),
        schema=SHARED,
    )
    op.create_index(
        op.f("ix_support_messages_ticket_id_created_at"),
        "support_messages", ["ticket_id", "created_at"], schema=SHARED,
    )  # fmt: skip


def downgrade() -> None:
    """Drop them."""
    op.drop_table("support_messages", schema=SHARED)
    op.drop_table("support_tickets", schema=SHARED)
