"""Support tickets: tenants open and follow theirs, the operator (support team) answers."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.business_time import as_of
from mesh.errors import FieldViolation, InvalidArgument
from mesh.tenancy.current import actor_label, current_principal
from servers.storage import convert
from servers.storage.relational import tickets
from servers.storage.relational.tickets import Author, Ticket, TicketStatus
from servers.storage.rpc._base import OPERATOR, SERVICE, TENANT, StorageRpcs, require


class TicketRpcs(StorageRpcs):
    async def OpenTicket(
        self, request: storage_pb2.OpenTicketRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.OpenTicketResponse:
        tenant = current_principal().require_tenant()
        require(TENANT)
        ticket = await tickets.open_ticket(
            self._store, tenant.company_id, tenant.user_id, request.subject, request.body
        )
        return storage_pb2.OpenTicketResponse(ticket=_ticket(ticket))

    async def ListTickets(
        self, request: storage_pb2.ListTicketsRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListTicketsResponse:
        require(TENANT, OPERATOR)
        status = None
        if request.status:
            try:
                status = TicketStatus(request.status)
            except ValueError:
                raise InvalidArgument(
                    f"status: expected open, answered or closed, got {request.status!r}",
                    violations=[FieldViolation("status", "open, answered or closed")],
                ) from None
        found = await tickets.list_tickets(
            self._store, company_id=_own_company() or request.company_id or None, status=status,
            limit=request.limit or tickets.MAX_LIST,
        )  # fmt: skip
        return storage_pb2.ListTicketsResponse(tickets=[_ticket(t) for t in found])

    async def GetTicket(
        self, request: storage_pb2.GetTicketRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.GetTicketResponse:
        require(TENANT, OPERATOR)
        found = await tickets.get_ticket(self._store, request.ticket_id, company_id=_own_company())
        return storage_pb2.GetTicketResponse(ticket=_ticket(found))

    async def ReplyTicket(
        self, request: storage_pb2.ReplyTicketRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ReplyTicketResponse:
        require(TENANT, OPERATOR)
        principal = current_principal()
        tenant = principal.tenant if principal.kind is TENANT else None
        author, author_id = (
            (Author.CUSTOMER, tenant.user_id)
            if tenant is not None
            else (Author.SUPPORT, "operator")
        )
        found = await tickets.reply(
            self._store, request.ticket_id, author, author_id, request.body,
            company_id=_own_company(),
        )  # fmt: skip
        return storage_pb2.ReplyTicketResponse(ticket=_ticket(found))

    async def CloseTicket(
        self, request: storage_pb2.CloseTicketRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.CloseTicketResponse:
        require(TENANT, OPERATOR)
        found = await tickets.close_ticket(
            self._store, request.ticket_id, actor_label(), company_id=_own_company()
        )
        return storage_pb2.CloseTicketResponse(ticket=_ticket(found))

    async def ReportMissedResponses(
        self, request: storage_pb2.ReportMissedResponsesRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ReportMissedResponsesResponse:
        require(SERVICE)
        reported = await tickets.report_missed_responses(self._store, now=as_of(request))
        return storage_pb2.ReportMissedResponsesResponse(reported=reported)


def _own_company() -> str | None:
    """A tenant's own company (it reads only its tickets); None for the support team."""
    principal = current_principal()
    return principal.require_tenant().company_id if principal.kind is TENANT else None


def _ticket(ticket: Ticket, at: datetime | None = None) -> storage_pb2.SupportTicket:
    return storage_pb2.SupportTicket(
        ticket_id=ticket.id, company_id=ticket.company_id, opened_by=ticket.opened_by,
        subject=ticket.subject, status=ticket.status.value, support_level=ticket.support_level,
        created_at=convert.timestamp(ticket.created_at),
        first_response_due_at=convert.timestamp(ticket.first_response_due_at),
        first_responded_at=convert.timestamp(ticket.first_responded_at),
        closed_at=convert.timestamp(ticket.closed_at),
        response_missed=ticket.response_missed(at or datetime.now(UTC)),
        messages=[
            storage_pb2.SupportMessage(
                message_id=m.id, author=m.author.value, author_id=m.author_id, body=m.body,
                created_at=convert.timestamp(m.created_at),
            )
            for m in ticket.messages
        ],
    )  # fmt: skip
