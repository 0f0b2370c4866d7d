"""Revocation and tier changes are honoured on the very next call, in every server.

Billing authenticates through Storage over gRPC and keeps its own cache (strict on
the shared Redis; none on the embedded default), like any other process would.
"""

from __future__ import annotations

import grpc
import pytest
from tickmesh.billing.v1 import billing_pb2
from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import ENTERPRISE, PRO, StorageMesh


async def _limit_seen_by_billing(mesh: StorageMesh, api_key: str) -> str:
    call = mesh.billing_stub(api_key).GetTierCatalog(billing_pb2.GetTierCatalogRequest())
    await call
    trailing = dict(await call.trailing_metadata())  # type: ignore[arg-type]
    return str(trailing["ratelimit-limit"])


async def test_revocation_is_honoured_on_the_next_call(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant()
    for _ in range(3):  # warm every cache on the way
        await _limit_seen_by_billing(storage_mesh, tenant.api_key)

    await storage_mesh.storage_stub(tenant.api_key).RevokeApiKey(
        storage_pb2.RevokeApiKeyRequest(key_id=tenant.key_id)
    )

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _limit_seen_by_billing(storage_mesh, tenant.api_key)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in (caught.value.details() or "")


async def test_a_tier_change_applies_on_the_next_call(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant()
    assert await _limit_seen_by_billing(storage_mesh, tenant.api_key) == "1000"

    for tier, limit in ((PRO, "50000"), (ENTERPRISE, None)):
        await storage_mesh.operator.ChangeTier(
            storage_pb2.ChangeTierRequest(company_id=tenant.company_id, tier=tier, effect=1)
        )
        call = storage_mesh.billing_stub(tenant.api_key).GetTierCatalog(
            billing_pb2.GetTierCatalogRequest()
        )
        await call
        trailing = dict(await call.trailing_metadata())  # type: ignore[arg-type]
        assert trailing.get("ratelimit-limit") == limit, tier
