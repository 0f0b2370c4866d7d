"""Table definitions: the shared schema and the per-tenant schema, each behind a placeholder name.

Both schemas are written with placeholder names that every connection translates
(`schema_translate_map`): SHARED becomes the deployment's shared schema on PostgreSQL
(`tickmesh` by default, a throwaway name in tests) and the main database on SQLite;
TENANT becomes `tenant_<company_id>` for exactly one company per connection. A
statement run without the map names a schema that does not exist and fails loudly,
so no query can silently reach the wrong tenant.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from servers.storage.relational.types import ExactDecimal, JSONDoc, UTCDateTime

SHARED = "__tickmesh_shared__"
TENANT = "__tickmesh_tenant__"
DEFAULT_SHARED_SCHEMA = "tickmesh"
"""What SHARED becomes on PostgreSQL unless the deployment names another schema."""
SHARED_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
"""The shared schema names accepted: a plain identifier, since it is spliced into DDL."""

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Integer primary keys that autoincrement on both: SQLite only does so for INTEGER.
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

COMPANY_ID_LEN = 12
ENTITY_ID_LEN = 16

shared_metadata = sa.MetaData(schema=SHARED, naming_convention=_NAMING)
tenant_metadata = sa.MetaData(schema=TENANT, naming_convention=_NAMING)

# ---- shared schema -------------------------------------------------------------

companies = sa.Table(
    "companies",
    shared_metadata,
    sa.Column("id", sa.String(COMPANY_ID_LEN), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("deactivated_at", UTCDateTime(), nullable=True),
    # Which tenant DDL version this company's schema is at (see tenant_schema.py).
    sa.Column("tenant_schema_version", sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('active', 'deactivated')", name="status"),
)

subscriptions = sa.Table(
    "subscriptions",
    shared_metadata,
    sa.Column(
        "company_id", sa.String(COMPANY_ID_LEN), sa.ForeignKey(companies.c.id), primary_key=True
    ),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("period_start", UTCDateTime(), nullable=False),
    sa.Column("period_end", UTCDateTime(), nullable=False),
    # An END_OF_TERM change waits here until the period it was requested in ends.
    sa.Column("pending_tier", sa.String(16), nullable=True),
    sa.Column("pending_effective_at", UTCDateTime(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("tier IN ('free', 'pro', 'enterprise')", name="tier"),
    sa.CheckConstraint("status IN ('active', 'past_due')", name="status"),
    sa.CheckConstraint(
        "(pending_tier IS NULL) = (pending_effective_at IS NULL)", name="pending_pair"
    ),
)

api_keys = sa.Table(
    "api_keys",
    shared_metadata,
    sa.Column("id", sa.String(ENTITY_ID_LEN), primary_key=True),
    sa.Column(
        "company_id", sa.String(COMPANY_ID_LEN), sa.ForeignKey(companies.c.id), nullable=False
    ),
    # The user lives in the tenant schema; a cross-schema (on SQLite: cross-file) foreign
    # key is impossible, so issue_api_key checks the user in the same transaction.
    sa.Column("user_id", sa.String(ENTITY_ID_LEN), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    # What the key may do (mesh.tenancy.permissions.Scope); NULL: every scope of its
    # user's role (keys issued before scopes existed).
    sa.Column("scopes", JSONDoc, nullable=True),
    # When the key stops authenticating; NULL: never.
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Index(None, "company_id", "user_id"),
)

audit_log = sa.Table(
    "audit_log",
    shared_metadata,
    sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    # No foreign key: the trail must be writable for anything, and companies are never deleted.
    sa.Column("company_id", sa.String(COMPANY_ID_LEN), nullable=True),
    sa.Column("target", sa.String(100), nullable=False),
    sa.Column("before", JSONDoc, nullable=True),
    sa.Column("after", JSONDoc, nullable=True),
    sa.Index(None, "company_id", "at"),
)

storage_usage = sa.Table(
    "storage_usage",
    shared_metadata,
    sa.Column(
        "company_id", sa.String(COMPANY_ID_LEN), sa.ForeignKey(companies.c.id), primary_key=True
    ),
    sa.Column("used_bytes", sa.BigInteger(), nullable=False),
    sa.Column("row_count", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("used_bytes >= 0 AND row_count >= 0", name="non_negative"),
)

invoices = sa.Table(
    "invoices",
    shared_metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "company_id", sa.String(COMPANY_ID_LEN), sa.ForeignKey(companies.c.id), nullable=False
    ),
    sa.Column("billing_period", sa.String(7), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("total_minor_units", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("issued_at", UTCDateTime(), nullable=False),
    # The invoice exactly as Billing rated it (serialized tickmesh.common.v1.Invoice):
    # Storage keeps it byte for byte, so a closed invoice never changes.
    sa.Column("body", sa.LargeBinary(), nullable=False),
    # One closed invoice per company and period: closing twice finds the first.
    sa.UniqueConstraint("company_id", "billing_period"),
    # Mutable beside the immutable body: open, paid, past_due or void.
    sa.Column("payment_status", sa.String(16), nullable=False, server_default="open"),
)

events = sa.Table(
    "events",
    shared_metadata,
    # The order events happened in: the webhook dispatcher reads them after a cursor.
    sa.Column("seq", _SERIAL, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("company_id", sa.String(COMPANY_ID_LEN), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("data", JSONDoc, nullable=False),
    # Set by emitters that may send one event twice (a retried RPC): at most one row each.
    sa.Column("dedupe_key", sa.String(128), nullable=True),
    sa.Index(None, "company_id", "seq"),
    sa.Index(None, "dedupe_key", unique=True),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    shared_metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "company_id", sa.String(COMPANY_ID_LEN), sa.ForeignKey(companies.c.id), nullable=False
    ),
    sa.Column("url", sa.String(2048), nullable=False),
    # Event types it receives; empty: every type.
    sa.Column("event_types", JSONDoc, nullable=False),
    # The signing secret (Standard Webhooks `whsec_...`): needed in clear to sign.
    sa.Column("secret", sa.String(80), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("disabled_reason", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Start of the current run of failed deliveries (None after a success): failing for
    # days disables the endpoint.
    sa.Column("failing_since", UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('enabled', 'disabled', 'deleted')", name="status"),
    sa.Index(None, "company_id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    shared_metadata,
    sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", sa.String(40), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("company_id", sa.String(COMPANY_ID_LEN), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("succeeded", sa.Boolean(), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("error", sa.String(300), nullable=True),
    sa.Column("attempted_at", UTCDateTime(), nullable=False),
    sa.Column("duration_ms", sa.Integer(), nullable=False),
    sa.Index(None, "company_id", "attempted_at"),
    sa.Index(None, "endpoint_id", "event_id"),
)

payment_methods = sa.Table(
    "payment_methods",
    shared_metadata,
    sa.Column(
        "company_id", sa.String(COMPANY_ID_LEN), sa.ForeignKey(companies.c.id), primary_key=True
    ),
    # The gateway's token and display details only: card data never reaches tickmesh.
    sa.Column("token", sa.String(100), nullable=False),
    sa.Column("brand", sa.String(20), nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("exp_month", sa.Integer(), nullable=False),
    sa.Column("exp_year", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

payments = sa.Table(
    "payments",
    shared_metadata,
    sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
    sa.Column("company_id", sa.String(COMPANY_ID_LEN), nullable=False),
    sa.Column("invoice_id", sa.String(64), nullable=False),
    sa.Column("amount_minor_units", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("reference", sa.String(100), nullable=True),
    sa.Column("attempted_at", UTCDateTime(), nullable=False),
    sa.Index(None, "invoice_id"),
)

chain_versions = sa.Table(
    "chain_versions",
    shared_metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    # The Workflow service's serialized ChainDefinition: Storage keeps it, never reads it.
    sa.Column("definition", sa.LargeBinary(), nullable=False),
    sa.Column("registered_at", UTCDateTime(), nullable=False),
)

# Self-service sign-ups awaiting (or past) their owner's e-mail verification.
signups = sa.Table(
    "signups",
    shared_metadata,
    sa.Column("id", sa.String(ENTITY_ID_LEN), primary_key=True),
    sa.Column("company_id", sa.String(COMPANY_ID_LEN), nullable=False),
    sa.Column("user_id", sa.String(ENTITY_ID_LEN), nullable=False),
    # sha256 of the whole token, as for API keys: the table cannot verify anyone.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("verified_at", UTCDateTime(), nullable=True),
)

# Per-company configuration set by the operator; a missing row or NULL: the tier's.
company_settings = sa.Table(
    "company_settings",
    shared_metadata,
    sa.Column(
        "company_id", sa.String(COMPANY_ID_LEN), sa.ForeignKey(companies.c.id), primary_key=True
    ),
    sa.Column("max_users", sa.Integer(), nullable=True),
    sa.Column("support_level", sa.String(16), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# Support tickets and their messages (shared: the support team works across companies).
support_tickets = sa.Table(
    "support_tickets",
    shared_metadata,
    sa.Column("id", sa.String(ENTITY_ID_LEN), primary_key=True),
    sa.Column("company_id", sa.String(COMPANY_ID_LEN), nullable=False),
    sa.Column("opened_by", sa.String(ENTITY_ID_LEN), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("support_level", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # The tier's promise when the ticket was opened; NULL: none (community support).
    sa.Column("first_response_due_at", UTCDateTime(), nullable=True),
    sa.Column("first_responded_at", UTCDateTime(), nullable=True),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
    # When support.response_missed was emitted for it (once).
    sa.Column("missed_reported_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'answered', 'closed')", name="status"),
    sa.Index(None, "company_id", "updated_at"),
)

support_messages = sa.Table(
    "support_messages",
    shared_metadata,
    sa.Column("id", sa.String(ENTITY_ID_LEN), primary_key=True),
    sa.Column(
        "ticket_id", sa.String(ENTITY_ID_LEN), sa.ForeignKey(support_tickets.c.id), nullable=False
    ),
    sa.Column("author", sa.String(16), nullable=False),
    sa.Column("author_id", sa.String(64), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("author IN ('customer', 'support')", name="author"),
    sa.Index(None, "ticket_id", "created_at"),
)

# ---- per-tenant schema (tenant_<company_id>) -------------------------------------

users = sa.Table(
    "users",
    tenant_metadata,
    sa.Column("id", sa.String(ENTITY_ID_LEN), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("role IN ('owner', 'admin', 'member')", name="role"),
)

broker_accounts = sa.Table(
    "broker_accounts",
    tenant_metadata,
    sa.Column("id", sa.String(ENTITY_ID_LEN), primary_key=True),
    sa.Column("user_id", sa.String(ENTITY_ID_LEN), sa.ForeignKey(users.c.id), nullable=False),
    sa.Column("broker", sa.String(32), nullable=False),
    sa.Column("account_number", sa.String(32), nullable=False),
    sa.Column("account_type", sa.String(8), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("leverage", sa.Integer(), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("broker", "account_number"),
    sa.Index(None, "user_id"),
    sa.CheckConstraint("account_type IN ('demo', 'live')", name="account_type"),
)

trading_positions = sa.Table(
    "trading_positions",
    tenant_metadata,
    sa.Column("id", sa.String(ENTITY_ID_LEN), primary_key=True),
    sa.Column(
        "account_id", sa.String(ENTITY_ID_LEN), sa.ForeignKey(broker_accounts.c.id), nullable=False
    ),
    # Denormalized from the account so the seed's (user, symbol, status) index serves lookups.
    sa.Column("user_id", sa.String(ENTITY_ID_LEN), sa.ForeignKey(users.c.id), nullable=False),
    sa.Column("symbol", sa.String(20), nullable=False),
    sa.Column("side", sa.String(4), nullable=False),
    sa.Column("volume", ExactDecimal(12, 2), nullable=False),
    sa.Column("open_price", ExactDecimal(12, 5), nullable=False),
    sa.Column("stop_loss", ExactDecimal(12, 5), nullable=True),
    sa.Column("take_profit", ExactDecimal(12, 5), nullable=True),
    sa.Column("close_price", ExactDecimal(12, 5), nullable=True),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
    sa.Column("status", sa.String(8), nullable=False),
    sa.CheckConstraint("side IN ('buy', 'sell')", name="side"),
    sa.CheckConstraint(
        "(status = 'open' AND closed_at IS NULL AND close_price IS NULL)"
        " OR (status = 'closed' AND closed_at IS NOT NULL AND close_price IS NOT NULL)",
        name="status",
    ),
    sa.Index(None, "user_id", "symbol", "status"),
    sa.Index(None, "account_id", "opened_at"),
    # Retention deletes by (status, closed_at); this keeps that a range scan.
    sa.Index(None, "status", "closed_at"),
)

TENANT_TABLES: tuple[sa.Table, ...] = (users, broker_accounts, trading_positions)
