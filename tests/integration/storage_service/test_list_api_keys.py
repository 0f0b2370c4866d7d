"""ListApiKeys: a tenant sees its own company's keys (revoked ones too), never a secret."""

from __future__ import annotations

from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import StorageMesh


async def test_a_tenant_lists_its_own_keys_without_secrets(storage_mesh: StorageMesh) -> None:
    a = await storage_mesh.tenant(name="Keys A")
    b = await storage_mesh.tenant(name="Keys B")
    as_a = storage_mesh.storage_stub(a.api_key)
    issued = await as_a.IssueApiKey(
        storage_pb2.IssueApiKeyRequest(user_id=a.user_id, scopes=["market_data"])
    )
    await as_a.RevokeApiKey(storage_pb2.RevokeApiKeyRequest(key_id=issued.key_id))

    reply = await as_a.ListApiKeys(storage_pb2.ListApiKeysRequest())

    by_id = {k.key_id: k for k in reply.keys}
    assert set(by_id) == {a.key_id, issued.key_id}  # b's key is not among them
    assert b.key_id not in by_id
    second = by_id[issued.key_id]
    assert second.prefix == f"tm_{issued.key_id}" and list(second.scopes) == ["market_data"]
    assert second.HasField("revoked_at") and second.HasField("created_at")
    assert not by_id[a.key_id].HasField("revoked_at")
    # The secret part of a key appears nowhere in the reply.
    assert issued.api_key.rsplit("_", 1)[1] not in str(reply)
    assert a.api_key.rsplit("_", 1)[1] not in str(reply)
