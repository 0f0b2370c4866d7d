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
