"""Authentication at the edge: each bad credential gets UNAUTHENTICATED saying which."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from tests.integration.storage_service.conftest import StorageMesh

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


def _reason(err: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, "no rich status details"
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return str(info.reason)


async def _refusal(
    stub: storage_pb2_grpc.StorageServiceStub, metadata: tuple = ()
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetSubscription(storage_pb2.GetSubscriptionRequest(), metadata=metadata)
    return caught.value


async def test_missing_malformed_unknown_and_revoked_keys(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant()
    anonymous = storage_mesh.storage_stub()

    missing = await _refusal(anonymous)
    assert (missing.code(), _reason(missing)) == (UNAUTHENTICATED, "MISSING_CREDENTIALS")
    for header in ("Token abc", "Bearer", "Bearer two words", f"Basic {tenant.api_key}"):
        err = await _refusal(anonymous, (("authorization", header),))
        assert (err.code(), _reason(err)) == (UNAUTHENTICATED, "MALFORMED_CREDENTIALS"), header
    twice = await _refusal(
        anonymous,
        (("authorization", f"Bearer {tenant.api_key}"), ("authorization", "Bearer x")),
    )
    assert (twice.code(), _reason(twice)) == (UNAUTHENTICATED, "MALFORMED_CREDENTIALS")

    # Well-formed but unknown: right shape, wrong secret.
    forged_key = tenant.api_key[:-4] + ("AAAA" if not tenant.api_key.endswith("AAAA") else "BBBB")
    unknown = await _refusal(anonymous, (("authorization", f"Bearer {forged_key}"),))
    assert unknown.code() == UNAUTHENTICATED and "unknown" in (unknown.details() or "").lower()

    await storage_mesh.storage_stub(tenant.api_key).RevokeApiKey(
        storage_pb2.RevokeApiKeyRequest(key_id=tenant.key_id)
    )
    revoked = await _refusal(anonymous, (("authorization", f"Bearer {tenant.api_key}"),))
    assert revoked.code() == UNAUTHENTICATED and "revoked" in (revoked.details() or "").lower()
    assert _reason(revoked) != _reason(unknown)


async def test_a_client_cannot_claim_a_tier(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant()  # free
    stub = storage_mesh.storage_stub(tenant.api_key)
    claims = (
        ("x-tickmesh-tier", "enterprise"),
        ("tier", "enterprise"),
        ("x-tenant-tier", "TIER_ENTERPRISE"),
        ("x-company-id", "000000000000"),
    )
    call = stub.GetSubscription(storage_pb2.GetSubscriptionRequest(), metadata=claims)
    reply = await call
    assert reply.subscription.tier == 1 and reply.subscription.company_id == tenant.company_id
    trailing = dict(await call.trailing_metadata())  # type: ignore[arg-type]
    assert trailing["ratelimit-limit"] == "1000"  # free's daily quota, not enterprise's
