"""ListAuditEvents: an owner reads its own company's trail, the operator any company's or all."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import timestamp_pb2
from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import FREE, PRO, StorageMesh, Tenant

List = storage_pb2.ListAuditEventsRequest


def _at(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def _member_key(storage_mesh: StorageMesh, owner: Tenant) -> str:
    as_owner = storage_mesh.storage_stub(owner.api_key)
    member = await as_owner.CreateUser(
        storage_pb2.CreateUserRequest(email="member@example.com", name="M", role="member")
    )
    issued = await as_owner.IssueApiKey(storage_pb2.IssueApiKeyRequest(user_id=member.user.user_id))
    return issued.api_key


async def test_an_owner_reads_its_own_trail_filtered_and_paged(storage_mesh: StorageMesh) -> None:
    owner = await storage_mesh.tenant(PRO)  # pro: room for a member
    await storage_mesh.tenant(FREE)  # another company's events must not show
    await _member_key(storage_mesh, owner)
    as_owner = storage_mesh.storage_stub(owner.api_key)

    trail = await as_owner.ListAuditEvents(List())
    assert {e.company_id for e in trail.events} == {owner.company_id}
    actions = [e.action for e in trail.events]
    assert actions[-1] == "company.created"  # newest first
    assert actions.count("api_key.issued") == 2  # the owner's first key and the member's

    issued = await as_owner.ListAuditEvents(List(action="api_key.issued"))
    assert [e.actor for e in issued.events] == [f"user:{owner.user_id}", "operator"]
    by_owner = await as_owner.ListAuditEvents(List(actor=f"user:{owner.user_id}"))
    assert [e.action for e in by_owner.events] == ["api_key.issued"]
    assert by_owner.events[0].after_json.startswith("{")

    first = await as_owner.ListAuditEvents(List(page_size=1))
    rest = await as_owner.ListAuditEvents(List(page_size=100, page_token=first.next_page_token))
    assert first.next_page_token == "1" and rest.next_page_token == ""
    assert [e.event_id for e in [*first.events, *rest.events]] == [e.event_id for e in trail.events]

    newest = trail.events[0].at.ToDatetime(tzinfo=UTC)
    assert not (
        await as_owner.ListAuditEvents(List(until=_at(datetime(2000, 1, 1, tzinfo=UTC))))
    ).events
    since_newest = await as_owner.ListAuditEvents(List(since=_at(newest)))
    assert trail.events[0].event_id in [e.event_id for e in since_newest.events]


async def test_a_member_is_denied_naming_the_owner_role(storage_mesh: StorageMesh) -> None:
    owner = await storage_mesh.tenant(PRO)
    as_member = storage_mesh.storage_stub(await _member_key(storage_mesh, owner))
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await as_member.ListAuditEvents(List())
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Refused before the RPC runs: a member's key lacks user_admin, which owners hold.
    assert "role member lacks scope user_admin" in (denied.value.details() or "")
    assert "owner" in (denied.value.details() or "")


async def test_another_companys_trail_reads_as_not_found(storage_mesh: StorageMesh) -> None:
    owner = await storage_mesh.tenant(FREE)
    other = await storage_mesh.tenant(FREE)
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await storage_mesh.storage_stub(owner.api_key).ListAuditEvents(
            List(company_id=other.company_id)
        )
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_operator_reads_any_company_or_all(storage_mesh: StorageMesh) -> None:
    one = await storage_mesh.tenant(FREE)
    two = await storage_mesh.tenant(PRO)
    op = storage_mesh.operator
    named = await op.ListAuditEvents(List(company_id=two.company_id))
    assert {e.company_id for e in named.events} == {two.company_id}
    every = await op.ListAuditEvents(List(action="company.created"))
    assert {one.company_id, two.company_id} <= {e.company_id for e in every.events}


async def test_a_service_identity_is_not_an_audit_reader(storage_mesh: StorageMesh) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await storage_mesh.service_stub().ListAuditEvents(List())
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    "request_",
    [
        List(page_size=1001),
        List(page_token="x"),
        List(action="Not An Action"),
        List(company_id="z"),
    ],
)
async def test_bad_filters_are_refused(storage_mesh: StorageMesh, request_: List) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await storage_mesh.operator.ListAuditEvents(request_)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
