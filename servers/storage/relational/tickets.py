"""Support tickets: a company's questions, the support team's answers, and its support
level's first-response promise (mesh.tiers: community has none, email a day, phone an
hour; the level is the tier's unless the operator set another for the company).

A ticket is `open` while it waits for support, `answered` once support replied last,
`closed` when either side closes it (a reply reopens it). Its first-response due time
is fixed when it is opened, from the company's level then; a ticket still without a
support reply past that time is reported once as `support.response_missed`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.errors import NotFound
from mesh.tiers import FIRST_RESPONSE_HOURS
from servers.storage.relational import audit, company_config, events, validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.ids import new_entity_id
from servers.storage.relational.tables import support_messages, support_tickets

MAX_SUBJECT = 200
MAX_BODY = 20_000
MAX_LIST = 200
RESPONSE_MISSED = "support.response_missed"


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class Author(enum.StrEnum):
    CUSTOMER = "customer"
    SUPPORT = "support"


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a ticket."""

    id: str
    author: Author
    author_id: str
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket and, when read one by one, its messages (oldest first)."""

    id: str
    company_id: str
    opened_by: str
    subject: str
    status: TicketStatus
    support_level: str
    created_at: datetime
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    closed_at: datetime | None
    messages: tuple[Message, ...] = ()

    def response_missed(self, at: datetime) -> bool:
        """True when the first support reply is (or was) later than promised."""
        due = self.first_response_due_at
        if due is None:
            return False
        answered = self.first_responded_at
        return answered > due if answered is not None else at > due


def _ticket(row: sa.RowMapping, messages: tuple[Message, ...] = ()) -> Ticket:
    return Ticket(
        row["id"], row["company_id"], row["opened_by"], row["subject"],
        TicketStatus(row["status"]), row["support_level"], row["created_at"],
        row["first_response_due_at"], row["first_responded_at"], row["closed_at"], messages,
    )  # fmt: skip


def _check_text(check: validation.Validator, field: str, value: object, max_len: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        check.fail(field, "must not be empty")
    elif len(text) > max_len:
        check.fail(field, f"must be at most {max_len} characters")
    return text


async def open_ticket(
    store: RelationalStore,
    company_id: str,
    user_id: str,
    subject: str,
    body: str,
    *,
    now: datetime | None = None,
) -> Ticket:
    """Open a ticket with its first message; the response target is the tier's now."""
    check = validation.Validator()
    subject = _check_text(check, "subject", subject, MAX_SUBJECT)
    body = _check_text(check, "body", body, MAX_BODY)
    check.check()
    at = store.now(now)
    # The company's level: its tier's, unless the operator set another for it.
    level = (await company_config.get_config(store, company_id)).support_level
    hours = FIRST_RESPONSE_HOURS[level]
    due = at + timedelta(hours=hours) if hours is not None else None
    ticket_id = new_entity_id()
    async with store.shared() as conn:
        await conn.execute(
            support_tickets.insert().values(
                id=ticket_id,
                company_id=company_id,
                opened_by=user_id,
                subject=subject,
                status=TicketStatus.OPEN.value,
                support_level=level,
                created_at=at,
                updated_at=at,
                first_response_due_at=due,
            )
        )
        await _add_message(conn, ticket_id, Author.CUSTOMER, user_id, body, at)
        await audit.record(
            conn, at=at, actor=f"user:{user_id}", action="ticket.opened",
            company_id=company_id, target=f"ticket:{ticket_id}", after={"subject": subject},
        )  # fmt: skip
    return await get_ticket(store, ticket_id, company_id=company_id)


async def reply(
    store: RelationalStore,
    ticket_id: str,
    author: Author,
    author_id: str,
    body: str,
    *,
    company_id: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Add a reply. A support reply answers the ticket (the first one is its first
    response); a customer's puts it back in support's queue. Reopens a closed ticket."""
    check = validation.Validator()
    ticket_id = check.entity_id(ticket_id, "ticket_id")
    body = _check_text(check, "body", body, MAX_BODY)
    check.check()
    at = store.now(now)
    async with store.shared() as conn:
        row = await _row(conn, ticket_id, company_id)
        changes: dict[str, object] = {"updated_at": at, "closed_at": None}
        if author is Author.SUPPORT:
            changes["status"] = TicketStatus.ANSWERED.value
            if row["first_responded_at"] is None:
                changes["first_responded_at"] = at
        else:
            changes["status"] = TicketStatus.OPEN.value
        await conn.execute(
            support_tickets.update().where(support_tickets.c.id == ticket_id).values(**changes)
        )
        await _add_message(conn, ticket_id, author, author_id, body, at)
    return await get_ticket(store, ticket_id, company_id=company_id)


async def close_ticket(
    store: RelationalStore,
    ticket_id: str,
    actor: str,
    *,
    company_id: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Close a ticket (closing a closed one changes nothing)."""
    ticket_id = validation.entity_id(ticket_id, "ticket_id")
    at = store.now(now)
    async with store.shared() as conn:
        row = await _row(conn, ticket_id, company_id)
        if row["status"] != TicketStatus.CLOSED.value:
            await conn.execute(
                support_tickets.update()
                .where(support_tickets.c.id == ticket_id)
                .values(status=TicketStatus.CLOSED.value, closed_at=at, updated_at=at)
            )
            await audit.record(
                conn, at=at, actor=actor, action="ticket.closed", company_id=row["company_id"],
                target=f"ticket:{ticket_id}", before={"status": row["status"]},
                after={"status": TicketStatus.CLOSED.value},
            )  # fmt: skip
    return await get_ticket(store, ticket_id, company_id=company_id)


async def get_ticket(
    store: RelationalStore, ticket_id: str, *, company_id: str | None = None
) -> Ticket:
    """One ticket with its messages; NotFound also for another company's (tenants pass
    their own `company_id`, the support team None)."""
    ticket_id = validation.entity_id(ticket_id, "ticket_id")
    async with store.shared(readonly=True) as conn:
        row = await _row(conn, ticket_id, company_id)
        found = (
            await conn.execute(
                sa.select(support_messages)
                .where(support_messages.c.ticket_id == ticket_id)
                .order_by(support_messages.c.created_at, support_messages.c.id)
            )
        ).mappings()
        messages = tuple(
            Message(m["id"], Author(m["author"]), m["author_id"], m["body"], m["created_at"])
            for m in found
        )
    return _ticket(row, messages)


async def list_tickets(
    store: RelationalStore,
    *,
    company_id: str | None = None,
    status: TicketStatus | None = None,
    limit: int = MAX_LIST,
) -> list[Ticket]:
    """Tickets, most recently updated first (one company's, or all for support)."""
    query = sa.select(support_tickets).order_by(
        support_tickets.c.updated_at.desc(), support_tickets.c.id
    )
    if company_id is not None:
        query = query.where(support_tickets.c.company_id == company_id)
    if status is not None:
        query = query.where(support_tickets.c.status == status.value)
    async with store.shared(readonly=True) as conn:
        rows = (await conn.execute(query.limit(max(1, min(limit, MAX_LIST))))).mappings().all()
    return [_ticket(row) for row in rows]


async def report_missed_responses(store: RelationalStore, *, now: datetime | None = None) -> int:
    """Emit `support.response_missed` once for every ticket whose first response is
    overdue (or came late); how many were newly reported."""
    at = store.now(now)
    overdue = (
        sa.select(support_tickets)
        .where(support_tickets.c.first_response_due_at < at)
        .where(support_tickets.c.missed_reported_at.is_(None))
        .where(
            sa.or_(
                support_tickets.c.first_responded_at.is_(None),
                support_tickets.c.first_responded_at > support_tickets.c.first_response_due_at,
            )
        )
    )
    reported = 0
    async with store.shared() as conn:
        for row in (await conn.execute(overdue)).mappings().all():
            claimed = await conn.execute(
                support_tickets.update()
                .where(support_tickets.c.id == row["id"])
                .where(support_tickets.c.missed_reported_at.is_(None))
                .values(missed_reported_at=at)
            )
            if claimed.rowcount != 1:
                continue
            due = row["first_response_due_at"]
            await events.emit(
                conn, at=at, company_id=row["company_id"], type=RESPONSE_MISSED,
                data={
                    "ticket_id": row["id"], "subject": row["subject"],
                    "support_level": row["support_level"], "due_at": due.isoformat(),
                    "responded_at": row["first_responded_at"].isoformat()
                    if row["first_responded_at"] is not None else None,
                },
            )  # fmt: skip
            reported += 1
    return reported


async def _add_message(
    conn: AsyncConnection, ticket_id: str, author: Author, author_id: str, body: str, at: datetime
) -> None:
    await conn.execute(
        support_messages.insert().values(
            id=new_entity_id(),
            ticket_id=ticket_id,
            author=author.value,
            author_id=author_id,
            body=body,
            created_at=at,
        )
    )


async def _row(conn: AsyncConnection, ticket_id: str, company_id: str | None) -> sa.RowMapping:
    query = sa.select(support_tickets).where(support_tickets.c.id == ticket_id)
    if company_id is not None:
        query = query.where(support_tickets.c.company_id == company_id)
    row = (await conn.execute(query)).mappings().one_or_none()
    if row is None:
        raise NotFound(f"no ticket {ticket_id}")
    return row
