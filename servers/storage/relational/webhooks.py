"""Webhook endpoints a company registers, and the log of every delivery attempt.

The secret is generated here (Standard Webhooks' `whsec_` + base64 of 24 random
bytes), shown once when the endpoint is created, and kept in clear because every
delivery is signed with it. An endpoint whose deliveries keep failing for
DISABLE_AFTER is disabled, as Stripe and Svix do, with the reason recorded.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from mesh.errors import FailedPrecondition, NotFound
from servers.storage.relational import audit, validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.events import EVENT_TYPES
from servers.storage.relational.scope import TenantScope
from servers.storage.relational.tables import webhook_attempts, webhook_endpoints

MAX_ENDPOINTS = 10
MAX_ATTEMPTS_LISTED = 500
DISABLE_AFTER = timedelta(days=5)
"""Failing this long without one success disables an endpoint."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A webhook endpoint; `secret` only where the caller may see it."""

    endpoint_id: str
    company_id: str
    url: str
    event_types: tuple[str, ...]
    status: str
    disabled_reason: str | None
    created_at: datetime
    failing_since: datetime | None
    secret: str = ""

    def wants(self, event_type: str) -> bool:
        """Whether this endpoint receives events of `event_type`."""
        return self.status == "enabled" and (not self.event_types or event_type in self.event_types)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt of one event to one endpoint."""

    endpoint_id: str
    event_id: str
    company_id: str
    attempt: int
    succeeded: bool
    status_code: int | None
    error: str | None
    attempted_at: datetime
    duration_ms: int


def check_url(check: validation.Validator, url: str) -> str:
    """An https URL, or http to a loopback address (local receivers, tests)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or not parts.hostname or len(url) > 2048:
        check.fail("url", "must be an absolute https URL")
        return ""
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and _loopback(parts.hostname):
        return url
    check.fail("url", "must be https (plain http only to a loopback address)")
    return ""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _endpoint(row: sa.RowMapping, *, with_secret: bool = False) -> Endpoint:
    return Endpoint(
        row["id"], row["company_id"], row["url"], tuple(row["event_types"]), row["status"],
        row["disabled_reason"], row["created_at"], row["failing_since"],
        row["secret"] if with_secret else "",
    )  # fmt: skip


async def create_endpoint(
    store: RelationalStore,
    scope: TenantScope,
    url: str,
    event_types: list[str],
    *,
    actor: str,
    now: datetime | None = None,
) -> Endpoint:
    """Register an endpoint; the returned one carries its secret (shown only now)."""
    check = validation.Validator()
    url = check_url(check, url)
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        check.fail("event_types", f"unknown {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    check.check()
    at = store.now(now)
    endpoint = Endpoint(
        "we_" + secrets.token_hex(12), scope.company_id, url, tuple(sorted(set(event_types))),
        "enabled", None, at, None,
        "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
    )  # fmt: skip
    async with store.shared() as conn:
        count = (
            await conn.execute(
                sa.select(sa.func.count()).where(
                    webhook_endpoints.c.company_id == scope.company_id,
                    webhook_endpoints.c.status != "deleted",
                )
            )
        ).scalar_one()
        if count >= MAX_ENDPOINTS:
            raise FailedPrecondition(f"at most {MAX_ENDPOINTS} webhook endpoints per company")
        await conn.execute(webhook_endpoints.insert().values(
            id=endpoint.endpoint_id, company_id=endpoint.company_id, url=endpoint.url,
            event_types=list(endpoint.event_types), secret=endpoint.secret,
            status=endpoint.status, created_at=at,
        ))  # fmt: skip
        await audit.record(
            conn, at=at, actor=actor, action="webhook.created", company_id=scope.company_id,
            target=f"webhook:{endpoint.endpoint_id}",
            after={"url": url, "event_types": list(endpoint.event_types)},
        )  # fmt: skip
    return endpoint


async def list_endpoints(
    store: RelationalStore, company_id: str, *, with_secret: bool = False
) -> list[Endpoint]:
    """The company's endpoints (deleted ones left out), oldest first."""
    query = (
        sa.select(webhook_endpoints)
        .where(
            webhook_endpoints.c.company_id == company_id,
            webhook_endpoints.c.status != "deleted",
        )
        .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
    )
    async with store.shared(readonly=True) as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [_endpoint(r, with_secret=with_secret) for r in rows]


async def get_endpoint(
    store: RelationalStore, endpoint_id: str, *, company_id: str = "", with_secret: bool = False
) -> Endpoint:
    """One endpoint (of `company_id`, when given); NOT_FOUND otherwise."""
    query = sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    if company_id:
        query = query.where(webhook_endpoints.c.company_id == company_id)
    async with store.shared(readonly=True) as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None or row["status"] == "deleted":
        raise NotFound(f"webhook endpoint {endpoint_id!r} not found")
    return _endpoint(row, with_secret=with_secret)


async def delete_endpoint(
    store: RelationalStore, scope: TenantScope, endpoint_id: str, *, actor: str,
    now: datetime | None = None,
) -> None:  # fmt: skip
    """Stop delivering to an endpoint; its delivery log stays."""
    await get_endpoint(store, endpoint_id, company_id=scope.company_id)
    at = store.now(now)
    async with store.shared() as conn:
        await conn.execute(
            webhook_endpoints.update()
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(status="deleted")
        )
        await audit.record(
            conn, at=at, actor=actor, action="webhook.deleted", company_id=scope.company_id,
            target=f"webhook:{endpoint_id}",
        )  # fmt: skip


async def record_attempt(store: RelationalStore, attempt: Attempt) -> Endpoint:
    """Log one attempt and update the endpoint's failure run; an endpoint failing for
    DISABLE_AFTER is disabled. The endpoint as it is after."""
    async with store.shared() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(webhook_endpoints)
                    .where(webhook_endpoints.c.id == attempt.endpoint_id)
                    .with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"webhook endpoint {attempt.endpoint_id!r} not found")
        await conn.execute(webhook_attempts.insert().values(
            endpoint_id=attempt.endpoint_id, event_id=attempt.event_id,
            company_id=attempt.company_id, attempt=attempt.attempt,
            succeeded=attempt.succeeded, status_code=attempt.status_code,
            error=(attempt.error or None) and attempt.error[:300],
            attempted_at=attempt.attempted_at, duration_ms=attempt.duration_ms,
        ))  # fmt: skip
        changes: dict[str, Any] = {}
        if attempt.succeeded:
            changes["failing_since"] = None
        elif row["failing_since"] is None:
            changes["failing_since"] = attempt.attempted_at
        elif row["status"] == "enabled" and (
            attempt.attempted_at - row["failing_since"] >= DISABLE_AFTER
        ):
            changes |= {
                "status": "disabled",
                "disabled_reason": f"every delivery failed for {DISABLE_AFTER.days} days",
            }
            await audit.record(
                conn, at=attempt.attempted_at, actor="system:webhooks",
                action="webhook.disabled", company_id=attempt.company_id,
                target=f"webhook:{attempt.endpoint_id}", after=changes,
            )  # fmt: skip
        if changes:
            await conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.id == attempt.endpoint_id)
                .values(**changes)
            )
    merged = {**row, **changes}
    return Endpoint(
        merged["id"], merged["company_id"], merged["url"], tuple(merged["event_types"]),
        merged["status"], merged["disabled_reason"], merged["created_at"],
        merged["failing_since"],
    )  # fmt: skip


async def list_attempts(
    store: RelationalStore, company_id: str, *, endpoint_id: str = "", event_id: str = ""
) -> list[Attempt]:
    """The company's delivery attempts, newest first (one endpoint's or event's)."""
    query = (
        sa.select(webhook_attempts)
        .where(webhook_attempts.c.company_id == company_id)
        .order_by(webhook_attempts.c.id.desc())
        .limit(MAX_ATTEMPTS_LISTED)
    )
    if endpoint_id:
        query = query.where(webhook_attempts.c.endpoint_id == endpoint_id)
    if event_id:
        query = query.where(webhook_attempts.c.event_id == event_id)
    async with store.shared(readonly=True) as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        Attempt(r["endpoint_id"], r["event_id"], r["company_id"], r["attempt"], r["succeeded"],
                r["status_code"], r["error"], r["attempted_at"], r["duration_ms"])
        for r in rows
    ]  # fmt: skip
