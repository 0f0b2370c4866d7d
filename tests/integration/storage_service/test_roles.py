"""Roles and scopes on real servers: a member cannot issue keys, make owners or change the
tier; an admin cannot make owners; a key is held to its scopes; each denial names what is
missing."""

from __future__ import annotations

import grpc
import pytest
from tickmesh.billing.v1 import billing_pb2
from tickmesh.common.v1 import billing_pb2 as common_billing_pb2
from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import PRO, StorageMesh

IMMEDIATE = common_billing_pb2.CHANGE_EFFECT_IMMEDIATE

pytestmark = pytest.mark.parametrize("storage_mesh", ["real"], indirect=True)


async def _denied(call: object) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, caught.value.details()
    return caught.value.details() or ""


async def _user_key(mesh: StorageMesh, owner_key: str, role: str, **scopes: list[str]) -> str:
    """A new user of `role` in the owner's company, and a key for it."""
    owner = mesh.storage_stub(owner_key)
    user = await owner.CreateUser(
        storage_pb2.CreateUserRequest(
            email=f"{role}-{len(scopes)}@example.com", name=role.title(), role=role
        )
    )
    key = await owner.IssueApiKey(
        storage_pb2.IssueApiKeyRequest(user_id=user.user.user_id, scopes=scopes.get("scopes", []))
    )
    return str(key.api_key)


async def test_a_member_cannot_issue_keys_make_owners_or_change_the_tier(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(PRO)  # pro: room for more users
    member_key = await _user_key(storage_mesh, tenant.api_key, "member")
    member = storage_mesh.storage_stub(member_key)
    why = await _denied(member.IssueApiKey(storage_pb2.IssueApiKeyRequest(user_id=tenant.user_id)))
    assert "role member lacks scope user_admin (roles with it: owner or admin)" in why
    why = await _denied(
        member.CreateUser(
            storage_pb2.CreateUserRequest(email="boss@example.com", name="Boss", role="owner")
        )
    )
    assert "user_admin" in why
    why = await _denied(
        storage_mesh.billing_stub(member_key).ChangeTier(
            billing_pb2.ChangeTierRequest(tier=PRO, effect=IMMEDIATE)
        )
    )
    assert "role member lacks scope billing" in why
    # What a member is for still works: its own company, its usage.
    company = await member.GetCompany(storage_pb2.GetCompanyRequest())
    assert company.company.company_id == tenant.company_id
    await member.GetStorageUsage(storage_pb2.GetStorageUsageRequest())


async def test_only_owners_make_owners_and_keys_stay_within_scopes(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(PRO)  # pro: room for more users
    admin_key = await _user_key(storage_mesh, tenant.api_key, "admin")
    admin = storage_mesh.storage_stub(admin_key)
    why = await _denied(
        admin.CreateUser(
            storage_pb2.CreateUserRequest(email="boss@example.com", name="Boss", role="owner")
        )
    )
    assert "only an owner can" in why
    # An admin may not issue a key acting as the owner either.
    why = await _denied(admin.IssueApiKey(storage_pb2.IssueApiKeyRequest(user_id=tenant.user_id)))
    assert "only an owner can" in why
    # A key scoped to market data: listing users needs user_admin.
    bot_key = await _user_key(storage_mesh, tenant.api_key, "member", scopes=["market_data"])
    why = await _denied(storage_mesh.storage_stub(bot_key).GetStorageUsage(
        storage_pb2.GetStorageUsageRequest()
    ))  # fmt: skip
    assert "this API key lacks scope usage_read" in why
    # A member's key cannot get a scope its role does not have.
    owner = storage_mesh.storage_stub(tenant.api_key)
    user = await owner.CreateUser(
        storage_pb2.CreateUserRequest(email="m2@example.com", name="M Two", role="member")
    )
    why = await _denied(owner.IssueApiKey(
        storage_pb2.IssueApiKeyRequest(user_id=user.user.user_id, scopes=["billing"])
    ))  # fmt: skip
    assert "role member cannot hold scope billing" in why
    # The owner can do what it grants.
    await owner.CreateUser(
        storage_pb2.CreateUserRequest(email="co-owner@example.com", name="Co", role="owner")
    )
