"""Tenant isolation through the Storage RPCs: tenant A's key never reads or changes B's rows."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import timestamp_pb2
from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import StorageMesh, Tenant

NOT_FOUND = grpc.StatusCode.NOT_FOUND


def _stamp(year: int, month: int, day: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime(year, month, day, tzinfo=UTC))
    return stamp


async def _code(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code()


async def _with_trading_data(mesh: StorageMesh, tenant: Tenant) -> str:
    stub = mesh.storage_stub(tenant.api_key)
    account = await stub.CreateBrokerAccount(
        storage_pb2.CreateBrokerAccountRequest(
            user_id=tenant.user_id, broker="ic_markets", account_number="1001"
        )
    )
    await stub.RecordPositions(
        storage_pb2.RecordPositionsRequest(
            positions=[
                storage_pb2.Position(
                    account_id=account.account.account_id,
                    symbol="EURUSD",
                    side="buy",
                    volume="0.10",
                    open_price="1.08510",
                    opened_at=_stamp(2026, 11, 2),
                )
            ]
        )
    )
    return str(account.account.account_id)


async def test_a_tenant_sees_only_its_own_rows(storage_mesh: StorageMesh) -> None:
    a, b = await storage_mesh.tenant(), await storage_mesh.tenant(name="Beta Capital")
    b_account = await _with_trading_data(storage_mesh, b)
    await _with_trading_data(storage_mesh, a)
    as_a = storage_mesh.storage_stub(a.api_key)

    company = await as_a.GetCompany(storage_pb2.GetCompanyRequest())
    assert company.company.company_id == a.company_id
    assert (
        await _code(as_a.GetCompany(storage_pb2.GetCompanyRequest(company_id=b.company_id)))
        == NOT_FOUND
    )

    listed = await as_a.ListUsers(storage_pb2.ListUsersRequest())
    assert [u.user_id for u in listed.users] == [a.user_id]

    sub = await as_a.GetSubscription(storage_pb2.GetSubscriptionRequest())
    assert sub.subscription.company_id == a.company_id

    positions = await as_a.ListPositions(storage_pb2.ListPositionsRequest(include_closed=True))
    assert len(positions.positions) == 1
    assert all(p.account_id != b_account for p in positions.positions)
    only_b = await as_a.ListPositions(storage_pb2.ListPositionsRequest(account_id=b_account))
    assert list(only_b.positions) == []


async def test_a_tenant_cannot_change_another_tenants_rows(storage_mesh: StorageMesh) -> None:
    a, b = await storage_mesh.tenant(), await storage_mesh.tenant(name="Beta Capital")
    b_account = await _with_trading_data(storage_mesh, b)
    as_a, as_b = storage_mesh.storage_stub(a.api_key), storage_mesh.storage_stub(b.api_key)
    before = await as_b.GetStorageUsage(storage_pb2.GetStorageUsageRequest())

    refused = [
        as_a.IssueApiKey(storage_pb2.IssueApiKeyRequest(user_id=b.user_id)),
        as_a.IssueApiKey(
            storage_pb2.IssueApiKeyRequest(user_id=b.user_id, company_id=b.company_id)
        ),
        as_a.RevokeApiKey(storage_pb2.RevokeApiKeyRequest(key_id=b.key_id)),
        as_a.CreateBrokerAccount(
            storage_pb2.CreateBrokerAccountRequest(
                user_id=b.user_id, broker="fxcm", account_number="666"
            )
        ),
        as_a.RecordPositions(
            storage_pb2.RecordPositionsRequest(
                positions=[
                    storage_pb2.Position(
                        account_id=b_account,
                        symbol="EURUSD",
                        side="sell",
                        volume="1",
                        open_price="1.1",
                        opened_at=_stamp(2026, 11, 3),
                    )
                ]
            )
        ),
    ]
    for call in refused:
        assert await _code(call) == NOT_FOUND

    # B is untouched: its key still works, its storage and rows are unchanged.
    after = await as_b.GetStorageUsage(storage_pb2.GetStorageUsageRequest())
    assert after.used_bytes == before.used_bytes
    mine = await as_b.ListPositions(storage_pb2.ListPositionsRequest(include_closed=True))
    assert len(mine.positions) == 1
    users = await as_b.ListUsers(storage_pb2.ListUsersRequest())
    assert [u.user_id for u in users.users] == [b.user_id]


async def test_operator_and_service_rpcs_refuse_tenant_keys(storage_mesh: StorageMesh) -> None:
    a, b = await storage_mesh.tenant(), await storage_mesh.tenant(name="Beta Capital")
    as_a = storage_mesh.storage_stub(a.api_key)
    calls = [
        as_a.CreateCompany(storage_pb2.CreateCompanyRequest(name="Mine", tier=1)),
        as_a.ListCompanies(storage_pb2.ListCompaniesRequest()),
        as_a.ChangeTier(storage_pb2.ChangeTierRequest(company_id=b.company_id, tier=3, effect=1)),
        as_a.ChangeTier(storage_pb2.ChangeTierRequest(company_id=a.company_id, tier=3, effect=1)),
        as_a.ApplyRetention(storage_pb2.ApplyRetentionRequest(company_id=b.company_id)),
        as_a.AuthenticateKey(storage_pb2.AuthenticateKeyRequest(api_key=b.api_key)),
    ]
    for call in calls:
        assert await _code(call) == grpc.StatusCode.PERMISSION_DENIED
    subs = await storage_mesh.storage_stub(b.api_key).GetSubscription(
        storage_pb2.GetSubscriptionRequest()
    )
    assert subs.subscription.tier == 1  # still free: A's ChangeTier never happened
