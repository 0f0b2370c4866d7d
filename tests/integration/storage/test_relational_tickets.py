"""Support tickets: the tier's first-response promise, replies moving the status, one
missed-response event per ticket, and no company reading another's tickets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mesh.errors import InvalidArgument, NotFound
from servers.storage.relational import companies, events, subscriptions, tickets
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.tickets import Author, TicketStatus
from tests.integration.storage.conftest import T0


async def _company(store: RelationalStore, tier: str) -> str:
    company, _ = await companies.create_company(store, f"Tickets {tier}", tier, now=T0)
    return company.id


async def test_each_tier_gets_its_support_levels_promise(store: RelationalStore) -> None:
    due = {}
    for tier in ("free", "pro", "enterprise"):
        company = await _company(store, tier)
        ticket = await tickets.open_ticket(store, company, "u1", "Help", "It broke", now=T0)
        due[tier] = (ticket.support_level, ticket.first_response_due_at)
        assert ticket.status is TicketStatus.OPEN
        assert [(m.author, m.body) for m in ticket.messages] == [(Author.CUSTOMER, "It broke")]
    assert due == {
        "free": ("community", None),
        "pro": ("email", T0 + timedelta(hours=24)),
        "enterprise": ("phone", T0 + timedelta(hours=1)),
    }


async def test_replies_move_the_status_and_the_first_one_counts(store: RelationalStore) -> None:
    company = await _company(store, "pro")
    opened = await tickets.open_ticket(store, company, "u1", "Rates", "Stale?", now=T0)
    answered = await tickets.reply(
        store, opened.id, Author.SUPPORT, "operator", "Looking", now=T0 + timedelta(hours=2)
    )
    assert answered.status is TicketStatus.ANSWERED
    assert answered.first_responded_at == T0 + timedelta(hours=2)
    back = await tickets.reply(
        store, opened.id, Author.CUSTOMER, "u1", "Still stale", company_id=company,
        now=T0 + timedelta(hours=3),
    )  # fmt: skip
    assert back.status is TicketStatus.OPEN
    await tickets.reply(
        store, opened.id, Author.SUPPORT, "operator", "Fixed", now=T0 + timedelta(hours=4)
    )
    closed = await tickets.close_ticket(store, opened.id, "user:u1", company_id=company)
    assert closed.status is TicketStatus.CLOSED and closed.closed_at is not None
    assert closed.first_responded_at == T0 + timedelta(hours=2)  # the first reply stays first
    assert [m.author for m in closed.messages] == [
        Author.CUSTOMER, Author.SUPPORT, Author.CUSTOMER, Author.SUPPORT,
    ]  # fmt: skip
    listed = await tickets.list_tickets(store, company_id=company, status=TicketStatus.CLOSED)
    assert [t.id for t in listed] == [opened.id]


async def test_an_overdue_first_response_is_reported_once(store: RelationalStore) -> None:
    company = await _company(store, "enterprise")
    late = await tickets.open_ticket(store, company, "u1", "Down", "Feed down", now=T0)
    on_time = await tickets.open_ticket(store, company, "u1", "Q", "Question", now=T0)
    await tickets.reply(
        store, on_time.id, Author.SUPPORT, "operator", "Hi", now=T0 + timedelta(minutes=30)
    )

    async def reported() -> list[str]:
        found = await events.list_events(store, company_id=company)
        return [e.data["ticket_id"] for e in found if e.type == tickets.RESPONSE_MISSED]

    # (The store is shared with other tests: their tickets may be reported too.)
    await tickets.report_missed_responses(store, now=T0 + timedelta(minutes=59))
    assert await reported() == []
    assert await tickets.report_missed_responses(store, now=T0 + timedelta(hours=2)) >= 1
    await tickets.report_missed_responses(store, now=T0 + timedelta(hours=3))
    assert await reported() == [late.id]
    assert (await tickets.get_ticket(store, late.id)).response_missed(T0 + timedelta(hours=2))


async def test_tickets_of_another_company_are_not_found(store: RelationalStore) -> None:
    mine, theirs = await _company(store, "pro"), await _company(store, "pro")
    ticket = await tickets.open_ticket(store, theirs, "u9", "Theirs", "Private", now=T0)
    with pytest.raises(NotFound):
        await tickets.get_ticket(store, ticket.id, company_id=mine)
    with pytest.raises(NotFound):
        await tickets.reply(store, ticket.id, Author.CUSTOMER, "u1", "Hi", company_id=mine)
    with pytest.raises(NotFound):
        await tickets.close_ticket(store, ticket.id, "user:u1", company_id=mine)
    assert await tickets.list_tickets(store, company_id=mine) == []


async def test_bad_fields_are_named(store: RelationalStore) -> None:
    company = await _company(store, "free")
    with pytest.raises(InvalidArgument) as caught:
        await tickets.open_ticket(store, company, "u1", "x" * 201, "  ", now=T0)
    assert {v.field for v in caught.value.violations} == {"subject", "body"}
    with pytest.raises(InvalidArgument):
        await tickets.reply(store, "not-an-id", Author.SUPPORT, "operator", "Hi")
    assert (await subscriptions.get_subscription(store, company)).tier.value == "free"
