"""Support tickets over gRPC: a tenant asks, the support team (operator) answers, other
companies see nothing, and only a service may run the overdue check."""

from __future__ import annotations

import grpc
import pytest
from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import ENTERPRISE, PRO, StorageMesh


async def test_a_tenant_asks_and_support_answers(storage_mesh: StorageMesh) -> None:
    tenant, other = await storage_mesh.tenant(ENTERPRISE), await storage_mesh.tenant(PRO)
    mine = storage_mesh.storage_stub(tenant.api_key)
    opened = (
        await mine.OpenTicket(storage_pb2.OpenTicketRequest(subject="Feed", body="Gaps at 9:00"))
    ).ticket
    assert (opened.status, opened.support_level) == ("open", "phone")
    assert opened.HasField("first_response_due_at") and not opened.response_missed

    queue = await storage_mesh.operator.ListTickets(storage_pb2.ListTicketsRequest(status="open"))
    assert opened.ticket_id in {t.ticket_id for t in queue.tickets}
    answered = (
        await storage_mesh.operator.ReplyTicket(
            storage_pb2.ReplyTicketRequest(ticket_id=opened.ticket_id, body="Replayed")
        )
    ).ticket
    assert answered.status == "answered" and answered.HasField("first_responded_at")
    seen = (await mine.GetTicket(storage_pb2.GetTicketRequest(ticket_id=opened.ticket_id))).ticket
    assert [(m.author, m.body) for m in seen.messages] == [
        ("customer", "Gaps at 9:00"), ("support", "Replayed"),
    ]  # fmt: skip

    theirs = storage_mesh.storage_stub(other.api_key)
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await theirs.GetTicket(storage_pb2.GetTicketRequest(ticket_id=opened.ticket_id))
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await theirs.ListTickets(storage_pb2.ListTicketsRequest())).tickets == []
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await mine.ListTickets(storage_pb2.ListTicketsRequest(status="pending"))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    closed = (
        await mine.CloseTicket(storage_pb2.CloseTicketRequest(ticket_id=opened.ticket_id))
    ).ticket
    assert closed.status == "closed"


async def test_only_a_service_runs_the_overdue_check(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant(PRO)
    for stub in (storage_mesh.operator, storage_mesh.storage_stub(tenant.api_key)):
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await stub.ReportMissedResponses(storage_pb2.ReportMissedResponsesRequest())
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    reply = await storage_mesh.service_stub("workflow").ReportMissedResponses(
        storage_pb2.ReportMissedResponsesRequest()
    )
    assert reply.reported == 0
