"""API keys: issued and revoked for a company, and resolved to a tenant for other services."""

from __future__ import annotations

from datetime import UTC

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.telemetry.server import annotate_tenant
from mesh.tenancy.authenticator import tenant_to_proto
from mesh.tenancy.current import actor_label, company_in_reach, current_principal
from servers.storage import convert
from servers.storage.relational import api_keys
from servers.storage.relational.scope import TenantScope
from servers.storage.rpc._base import OPERATOR, SERVICE, TENANT, StorageRpcs, require, tenant_scope


class KeyRpcs(StorageRpcs):
    async def IssueApiKey(
        self, request: storage_pb2.IssueApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.IssueApiKeyResponse:
        require(TENANT, OPERATOR)
        scope = TenantScope(company_in_reach(request.company_id))
        expires = request.expires_at if request.HasField("expires_at") else None
        issued = await api_keys.issue_api_key(
            self._store, scope, request.user_id, actor=actor_label(),
            scopes=frozenset(request.scopes) if request.scopes else None,
            issuer=current_principal().tenant,
            expires_at=expires.ToDatetime(tzinfo=UTC) if expires is not None else None,
        )  # fmt: skip
        return convert.issued_key(issued, self._store.now(None))

    async def RevokeApiKey(
        self, request: storage_pb2.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.RevokeApiKeyResponse:
        scope = tenant_scope()
        record = await api_keys.revoke_api_key(
            self._store, scope, request.key_id, actor=actor_label()
        )
        # Before answering, so the revoked key fails on its next call anywhere.
        await self._tenancy.invalidate_company(scope.company_id)
        return storage_pb2.RevokeApiKeyResponse(revoked_at=convert.timestamp(record.revoked_at))

    async def ListApiKeys(
        self, request: storage_pb2.ListApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListApiKeysResponse:
        records = await api_keys.list_api_keys(self._store, tenant_scope())
        return storage_pb2.ListApiKeysResponse(keys=[convert.api_key(k) for k in records])

    async def AuthenticateKey(
        self, request: storage_pb2.AuthenticateKeyRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.AuthenticateKeyResponse:
        require(SERVICE)
        tenant = await api_keys.tenant_for_key(self._store, request.api_key)
        # The caller is a service acting for no one yet: name the tenant on the span here.
        annotate_tenant(tenant)
        return storage_pb2.AuthenticateKeyResponse(tenant=tenant_to_proto(tenant))
