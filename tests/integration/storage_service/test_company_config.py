"""A company's configuration: the tier's user limit and support level unless the operator
set others, honoured when a user is added and when a ticket is opened."""

from __future__ import annotations

import secrets

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import FREE, PRO, StorageMesh


def _user(role: str = "member") -> storage_pb2.CreateUserRequest:
    return storage_pb2.CreateUserRequest(
        email=f"u-{secrets.token_hex(4)}@example.com", name="A User", role=role
    )


async def test_a_company_at_its_user_limit_cannot_add_one(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant(FREE)
    owner = storage_mesh.storage_stub(tenant.api_key)
    config = (await owner.GetCompanyConfig(storage_pb2.GetCompanyConfigRequest())).config
    assert (config.max_users, config.users, config.max_users_set) == (1, 1, False)
    assert (config.support_level, config.first_response_hours) == ("community", 0)
    assert list(config.features) == ["basic_price"]

    with pytest.raises(grpc.aio.AioRpcError) as full:
        await owner.CreateUser(_user())
    assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "1 of its 1 users; tier pro allows more" in (full.value.details() or "")
    status = rpc_status.from_call(full.value)  # type: ignore[arg-type]
    info = error_details_pb2.ErrorInfo()
    assert status is not None and any(d.Unpack(info) for d in status.details)
    assert info.reason == "USER_LIMIT"

    # The operator raises this company's limit: one more fits, then it is full again.
    raised = await storage_mesh.operator.SetCompanyConfig(
        storage_pb2.SetCompanyConfigRequest(company_id=tenant.company_id, max_users=2)
    )
    assert (raised.config.max_users, raised.config.max_users_set) == (2, True)
    await owner.CreateUser(_user())
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await owner.CreateUser(_user())
    assert again.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    reset = await storage_mesh.operator.SetCompanyConfig(
        storage_pb2.SetCompanyConfigRequest(company_id=tenant.company_id, reset_max_users=True)
    )
    assert (reset.config.max_users, reset.config.users) == (1, 2)


async def test_a_support_level_set_for_a_company_sets_its_tickets_due_time(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    await storage_mesh.operator.SetCompanyConfig(
        storage_pb2.SetCompanyConfigRequest(company_id=tenant.company_id, support_level="phone")
    )
    owner = storage_mesh.storage_stub(tenant.api_key)
    ticket = (
        await owner.OpenTicket(storage_pb2.OpenTicketRequest(subject="Q", body="Question"))
    ).ticket
    assert ticket.support_level == "phone"
    due = ticket.first_response_due_at.ToDatetime() - ticket.created_at.ToDatetime()
    assert due.total_seconds() == 3600


async def test_only_the_operator_configures_and_tenants_read_only_their_own(
    storage_mesh: StorageMesh,
) -> None:
    tenant, other = await storage_mesh.tenant(PRO), await storage_mesh.tenant(PRO)
    owner = storage_mesh.storage_stub(tenant.api_key)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await owner.SetCompanyConfig(
            storage_pb2.SetCompanyConfigRequest(company_id=tenant.company_id, max_users=50)
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await owner.GetCompanyConfig(
            storage_pb2.GetCompanyConfigRequest(company_id=other.company_id)
        )
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    for bad in (
        storage_pb2.SetCompanyConfigRequest(company_id=tenant.company_id, max_users=0),
        storage_pb2.SetCompanyConfigRequest(company_id=tenant.company_id, support_level="vip"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await storage_mesh.operator.SetCompanyConfig(bad)
        assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
