"""Service-to-service calls: only a valid signed caller context is trusted."""

from __future__ import annotations

import time

import grpc
import pytest
from tickmesh.storage.v1 import storage_pb2

from mesh.tenancy.authenticator import relayed_caller
from mesh.tenancy.context import TenantContext
from mesh.tenancy.current import Principal, PrincipalKind
from mesh.tenancy.signing import METADATA_KEY, ContextSigner
from mesh.tiers import Tier
from tests.integration.storage_service.conftest import StorageMesh


def _signer(
    mesh: StorageMesh, *, secret: str | None = None, clock: float | None = None
) -> ContextSigner:
    key = (secret or mesh.config.mesh_secret or "").encode()
    if clock is None:
        return ContextSigner(key)
    return ContextSigner(key, ttl_s=30, clock=lambda: clock)


async def _authenticate(mesh: StorageMesh, envelope: bytes | None, api_key: str) -> object:
    metadata = () if envelope is None else ((METADATA_KEY, envelope),)
    return await mesh.storage_stub().AuthenticateKey(
        storage_pb2.AuthenticateKeyRequest(api_key=api_key), metadata=metadata
    )


async def test_a_valid_signature_is_trusted(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant()
    envelope = _signer(storage_mesh).sign(relayed_caller("bridge", None))
    reply = await _authenticate(storage_mesh, envelope, tenant.api_key)
    assert reply.tenant.company_id == tenant.company_id  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", ["absent", "forged", "tampered", "expired", "garbage"])
async def test_bad_signatures_are_refused(storage_mesh: StorageMesh, case: str) -> None:
    tenant = await storage_mesh.tenant()
    payload = relayed_caller("bridge", None)
    envelope: bytes | None
    if case == "absent":
        envelope = None
    elif case == "forged":
        envelope = _signer(storage_mesh, secret="not-the-mesh-secret").sign(payload)
    elif case == "tampered":
        good = bytearray(_signer(storage_mesh).sign(payload))
        good[15] ^= 0x01
        envelope = bytes(good)
    elif case == "expired":
        envelope = _signer(storage_mesh, clock=time.time() - 3600).sign(payload)
    else:
        envelope = b"\x00not an envelope"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _authenticate(storage_mesh, envelope, tenant.api_key)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, case


async def test_a_forged_relay_cannot_raise_a_tier(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant()  # free
    claim = Principal(
        PrincipalKind.TENANT,
        tenant=TenantContext(tenant.company_id, tenant.user_id, Tier.ENTERPRISE, tenant.key_id),
    )
    forged = _signer(storage_mesh, secret="an-attackers-guessed-secret").sign(
        relayed_caller("bridge", claim)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await storage_mesh.storage_stub(tenant.api_key).GetSubscription(
            storage_pb2.GetSubscriptionRequest(), metadata=((METADATA_KEY, forged),)
        )
    # A bad signed context is refused outright, even next to a valid API key.
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
