"""The audit trail: who did what to which company, with the state before and after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from servers.storage.relational import events, validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.tables import audit_log

MAX_LIST = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited change."""

    id: int
    at: datetime
    actor: str
    action: str
    company_id: str | None
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


async def record(
    conn: AsyncConnection,
    *,
    at: datetime,
    actor: str,
    action: str,
    company_id: str | None,
    target: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append an entry inside the caller's transaction, so it commits with the change itself."""
    await conn.execute(
        audit_log.insert().values(
            at=at,
            actor=actor,
            action=action,
            company_id=company_id,
            target=target,
            before=before,
            after=after,
        )
    )
    await events.from_audit(
        conn, at=at, action=action, company_id=company_id, target=target, before=before,
        after=after,
    )  # fmt: skip


async def list_audit(
    store: RelationalStore,
    company_id: str,
    *,
    action: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The company's audit entries, newest first."""
    check = validation.Validator()
    company_id = check.company_id(company_id)
    limit = check.count(limit, "limit", low=1, high=MAX_LIST)
    if action is not None:
        check.text("action", action, validation.ACTION, 64, "a dotted lower-case action name")
    check.check()
    query = sa.select(audit_log).where(audit_log.c.company_id == company_id)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    query = query.order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    async with store.shared(readonly=True) as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [AuditEntry(**row) for row in rows]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What ListAuditEvents asks for; None is "any". company_id None means every company."""

    company_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None


async def page_audit(
    store: RelationalStore, wanted: AuditFilter, *, offset: int, limit: int
) -> tuple[list[AuditEntry], bool]:
    """One page of matching entries, newest first, and whether more follow."""
    check = validation.Validator()
    if wanted.company_id is not None:
        check.company_id(wanted.company_id)
    limit = check.count(limit, "page_size", low=1, high=MAX_LIST)
    if wanted.action is not None:
        check.text(
            "action", wanted.action, validation.ACTION, 64, "a dotted lower-case action name"
        )
    check.check()
    c = audit_log.c
    query = sa.select(audit_log)
    if wanted.company_id is not None:
        query = query.where(c.company_id == wanted.company_id)
    if wanted.since is not None:
        query = query.where(c.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(c.at < wanted.until)
    if wanted.actor is not None:
        query = query.where(c.actor == wanted.actor)
    if wanted.action is not None:
        query = query.where(c.action == wanted.action)
    # One row beyond the page tells whether another page follows without a COUNT.
    query = query.order_by(c.at.desc(), c.id.desc()).offset(offset).limit(limit + 1)
    async with store.shared(readonly=True) as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [AuditEntry(**row) for row in rows[:limit]], len(rows) > limit
