"""Bad input through the Storage RPCs: a precise status each, and nothing written."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import StorageMesh

INVALID = grpc.StatusCode.INVALID_ARGUMENT
SQL = "x'; DROP TABLE companies; --"
LONG = "x" * 5_000


async def _refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


def _violated_fields(err: grpc.aio.AioRpcError) -> set[str]:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    fields: set[str] = set()
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields |= {v.field for v in bad.field_violations}
    return fields


async def _counts(mesh: StorageMesh) -> int:
    listed = await mesh.operator.ListCompanies(storage_pb2.ListCompaniesRequest(page_size=1000))
    return len(listed.companies)


def _company(**fields: object) -> storage_pb2.CreateCompanyRequest:
    base: dict[str, object] = {
        "name": "Good Name", "tier": 1, "owner_email": "o@example.com", "owner_name": "Owner",
    }  # fmt: skip
    return storage_pb2.CreateCompanyRequest(**(base | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "violated"),
    [
        ({"name": ""}, "name"),
        ({"name": LONG}, "name"),
        ({"name": SQL}, "name"),
        ({"tier": 0}, "tier"),
        ({"tier": 42}, "tier"),
        ({"owner_email": ""}, "owner_email"),
        ({"owner_email": "not-an-email"}, "owner_email"),
        ({"owner_name": LONG}, "owner_name"),
    ],
)
async def test_create_company_refuses_bad_fields(
    storage_mesh: StorageMesh, fields: dict[str, object], violated: str
) -> None:
    before = await _counts(storage_mesh)
    err = await _refused(storage_mesh.operator.CreateCompany(_company(**fields)))
    assert err.code() == INVALID and violated in _violated_fields(err)
    assert await _counts(storage_mesh) == before


async def test_ids_and_tiers_are_validated_before_any_sql(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant()
    as_tenant, op = storage_mesh.storage_stub(tenant.api_key), storage_mesh.operator
    users_before = await as_tenant.ListUsers(storage_pb2.ListUsersRequest())
    cases = [
        op.GetCompany(storage_pb2.GetCompanyRequest(company_id=SQL)),
        op.GetCompany(storage_pb2.GetCompanyRequest(company_id="")),
        op.GetCompany(storage_pb2.GetCompanyRequest(company_id=LONG)),
        op.ChangeTier(
            storage_pb2.ChangeTierRequest(company_id=tenant.company_id, tier=9, effect=1)
        ),
        op.ChangeTier(
            storage_pb2.ChangeTierRequest(company_id=tenant.company_id, tier=2, effect=0)
        ),
        op.ChangeTier(storage_pb2.ChangeTierRequest(company_id=SQL, tier=2, effect=1)),
        as_tenant.CreateUser(storage_pb2.CreateUserRequest(email="", name="N")),
        as_tenant.CreateUser(storage_pb2.CreateUserRequest(email="a@b.co", name=LONG)),
        as_tenant.CreateUser(storage_pb2.CreateUserRequest(email="a@b.co", name="N", role="god")),
        as_tenant.IssueApiKey(storage_pb2.IssueApiKeyRequest(user_id=SQL)),
        as_tenant.IssueApiKey(storage_pb2.IssueApiKeyRequest(user_id="")),
        as_tenant.RevokeApiKey(storage_pb2.RevokeApiKeyRequest(key_id="")),
        as_tenant.RevokeApiKey(storage_pb2.RevokeApiKeyRequest(key_id=SQL)),
        as_tenant.CreateBrokerAccount(
            storage_pb2.CreateBrokerAccountRequest(
                user_id=tenant.user_id, broker=SQL, account_number="1"
            )
        ),
        as_tenant.RecordPositions(storage_pb2.RecordPositionsRequest()),
        as_tenant.ListPositions(storage_pb2.ListPositionsRequest(account_id=SQL)),
    ]
    for index, call in enumerate(cases):
        err = await _refused(call)
        assert err.code() == INVALID, (index, err.code(), err.details())
    users_after = await as_tenant.ListUsers(storage_pb2.ListUsersRequest())
    assert users_after == users_before
    sub = await as_tenant.GetSubscription(storage_pb2.GetSubscriptionRequest())
    assert sub.subscription.tier == 1  # no ChangeTier went through


async def test_an_oversize_request_is_refused_by_the_transport(storage_mesh: StorageMesh) -> None:
    err = await _refused(
        storage_mesh.operator.CreateCompany(_company(name="x" * (5 * 1024 * 1024)))
    )
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # grpc's 4 MiB receive limit


async def test_a_request_over_its_methods_limit_is_refused_before_anything_reads_it(
    storage_mesh: StorageMesh,
) -> None:
    before = await _counts(storage_mesh)
    # 100 KiB: under the transport's 4 MiB, over the 64 KiB a company's creation accepts.
    err = await _refused(storage_mesh.operator.CreateCompany(_company(name="x" * 100_000)))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info = _error_info(err)
    assert info.reason == "MESSAGE_TOO_LARGE"
    assert info.metadata["limit_bytes"] == str(64 * 1024)
    assert "CreateCompany" in (err.details() or "")
    assert await _counts(storage_mesh) == before
    # Refused before authentication: a caller with no credentials hears the same.
    anonymous = storage_mesh.storage_stub(None)
    err = await _refused(anonymous.CreateCompany(_company(name="x" * 100_000)))
    assert _error_info(err).reason == "MESSAGE_TOO_LARGE"


def _error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    raise AssertionError(f"no ErrorInfo in {err}")
