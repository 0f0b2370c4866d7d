"""Checks every tenant call against the permission table: the RPC must be one tenants may
call, and the key must hold the scope it needs (mesh.tenancy.permissions)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import grpc

from mesh.errors import PermissionDenied
from mesh.interceptors.base import CallInfo, MeshInterceptor
from mesh.tenancy.current import PrincipalKind, optional_principal
from mesh.tenancy.permissions import TENANT_RPCS, Scope, held_scopes, roles_with

log = logging.getLogger("tickmesh.permissions")


class PermissionInterceptor(MeshInterceptor):
    """Runs after AuthInterceptor (it needs the verified caller), before the quota (a
    refused call costs nothing). Relayed tenant calls are checked too: a service acting
    for a tenant (a chain step) can do no more than the tenant's key."""

    def __init__(self, extra: Mapping[str, Scope | None] | None = None) -> None:
        self._table = {**TENANT_RPCS, **(extra or {})}

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        principal = optional_principal()
        if principal is not None and principal.kind is PrincipalKind.TENANT:
            tenant = principal.require_tenant()
            if call.method not in self._table:
                self._denied(call, principal.tenant, "")
                raise PermissionDenied(
                    f"{call.method.rsplit('/', 1)[-1]} is for the operator and the mesh's "
                    "services, not for API keys",
                    reason="OPERATOR_ONLY",
                )
            scope = self._table[call.method]
            if scope is not None and scope.value not in held_scopes(tenant):
                self._denied(call, tenant, scope.value)
                raise _missing(scope, tenant.role, bool(tenant.scopes))
        yield

    @staticmethod
    def _denied(call: CallInfo, tenant: object, scope: str) -> None:
        # Each refusal is logged with who and what, for the audit trail's readers.
        log.info("permission denied", extra={
            "rpc": call.method, "scope": scope or "operator",
            "company_id": getattr(tenant, "company_id", ""),
            "user_id": getattr(tenant, "user_id", ""), "key_id": getattr(tenant, "key_id", ""),
        })  # fmt: skip


def _missing(scope: Scope, role: str, scoped_key: bool) -> PermissionDenied:
    roles = " or ".join(roles_with(scope))
    if scoped_key:
        why = f"this API key lacks scope {scope.value}"
    else:
        why = f"role {role} lacks scope {scope.value} (roles with it: {roles})"
    return PermissionDenied(
        f"{why}; ask an owner for a key with it",
        reason="MISSING_SCOPE",
        metadata={"scope": scope.value, "role": role, "roles_with_it": roles},
    )
