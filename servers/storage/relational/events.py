"""Events: what happened to a company, in order, for its webhooks (an outbox).

An event is written in the same transaction as the change it reports, so an event
exists exactly when its change committed: the webhook dispatcher (in the Workflow
service) reads them after a cursor and delivers each to the company's endpoints.
Most events are the audited changes themselves (see `from_audit`), so every place
that audits a change emits its event without knowing about webhooks.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.errors import NotFound
from servers.storage.relational import validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.tables import companies, events

_DEDUPE_KEY = re.compile(r"[A-Za-z0-9:._-]{1,128}")

MAX_LIST = 500

EVENT_TYPES = (
    "tier.changed",
    "tier.change_scheduled",
    "subscription.expiring",
    "subscription.expired",
    "invoice.issued",
    "key.revoked",
    "quota.warning",
    "quota.exhausted",
    "payment.failed",
    "sla.violated",
    "support.response_missed",
)
"""Every type an endpoint can subscribe to (some are emitted by later features)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One event, as the dispatcher and the webhook payload carry it."""

    seq: int
    event_id: str
    company_id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


async def emit(
    conn: AsyncConnection,
    *,
    at: datetime,
    company_id: str,
    type: str,
    data: dict[str, Any],
    dedupe_key: str | None = None,
) -> str:
    """Append an event inside the caller's transaction; its id (`evt_...`)."""
    event_id = "evt_" + secrets.token_hex(12)
    await conn.execute(
        events.insert().values(
            id=event_id,
            company_id=company_id,
            type=type,
            occurred_at=at,
            data=data,
            dedupe_key=dedupe_key,
        )
    )
    return event_id


def audit_event(
    action: str, target: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[str, dict[str, Any]] | None:
    """The event an audited change is, if any: its type and data."""
    before, after = before or {}, after or {}
    if action in ("subscription.tier_changed", "subscription.expired"):
        if after.get("tier") != before.get("tier"):
            kind = "subscription.expired" if action == "subscription.expired" else "tier.changed"
            return kind, {"from_tier": before.get("tier"), "to_tier": after.get("tier")}
        if after.get("pending_tier"):
            return "tier.change_scheduled", {
                "from_tier": after.get("tier"),
                "to_tier": after["pending_tier"],
                "effective_at": after.get("pending_effective_at"),
            }
        return None
    if action == "subscription.past_due":
        # Unpaid: it expires to free when the period ends, unless paid before.
        return "subscription.expiring", {
            "tier": after.get("tier"),
            "expires_at": after.get("period_end"),
        }
    if action == "api_key.revoked":
        return "key.revoked", {"key_id": target.removeprefix("api_key:")}
    return None


async def from_audit(
    conn: AsyncConnection,
    *,
    at: datetime,
    action: str,
    company_id: str | None,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Emit the event an audited change is, if it is one."""
    found = audit_event(action, target, before, after)
    if found is not None and company_id:
        await emit(conn, at=at, company_id=company_id, type=found[0], data=found[1])


REPORTED_TYPES = ("quota.warning", "quota.exhausted", "sla.violated")
"""The types other services report (EmitEvent): what they observe, Storage does not."""


async def report(
    store: RelationalStore,
    *,
    company_id: str,
    type: str,
    data: dict[str, Any],
    dedupe_key: str,
    now: datetime | None = None,
) -> tuple[str, bool]:
    """Record an event another service observed, once per `dedupe_key`: its id, and
    whether it was recorded before (a retried report)."""
    check = validation.Validator()
    company_id = check.company_id(company_id)
    check.choice(type, "type", REPORTED_TYPES)
    check.text("dedupe_key", dedupe_key, _DEDUPE_KEY, 128, "letters, digits and :._-")
    check.check()
    async with store.shared(readonly=True) as conn:
        known = await conn.scalar(sa.select(companies.c.id).where(companies.c.id == company_id))
        seen = await conn.scalar(sa.select(events.c.id).where(events.c.dedupe_key == dedupe_key))
    if known is None:
        raise NotFound(f"no company {company_id}")
    if seen is not None:
        return str(seen), True
    try:
        async with store.shared() as conn:
            event_id = await emit(
                conn, at=store.now(now), company_id=company_id, type=type, data=data,
                dedupe_key=dedupe_key,
            )  # fmt: skip
    except sa.exc.IntegrityError:  # a concurrent report of the same key won
        async with store.shared(readonly=True) as conn:
            seen = await conn.scalar(
                sa.select(events.c.id).where(events.c.dedupe_key == dedupe_key)
            )
        return str(seen), True
    return event_id, False


async def list_events(
    store: RelationalStore, *, after_seq: int = 0, limit: int = MAX_LIST, company_id: str = ""
) -> list[Event]:
    """Events after `after_seq`, oldest first (one company's, or every company's)."""
    query = (
        sa.select(events)
        .where(events.c.seq > after_seq)
        .order_by(events.c.seq)
        .limit(max(1, min(limit, MAX_LIST)))
    )
    if company_id:
        query = query.where(events.c.company_id == company_id)
    async with store.shared(readonly=True) as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        Event(r["seq"], r["id"], r["company_id"], r["type"], r["occurred_at"], r["data"])
        for r in rows
    ]


async def get_event(store: RelationalStore, event_id: str) -> Event | None:
    """One event by id."""
    async with store.shared(readonly=True) as conn:
        row = (
            (await conn.execute(sa.select(events).where(events.c.id == event_id)))
            .mappings()
            .first()
        )
    if row is None:
        return None
    return Event(row["seq"], row["id"], row["company_id"], row["type"], row["occurred_at"],
                 row["data"])  # fmt: skip
