"""The permission table: every RPC of every contract classified, and the role x RPC matrix
through the interceptor itself (every tenant RPC, every role, a scoped key)."""

from __future__ import annotations

import itertools

import grpc
import pytest
from tickmesh.billing.v1 import billing_pb2
from tickmesh.bridge.v1 import bridge_pb2, history_pb2
from tickmesh.common.v1 import metrics_pb2
from tickmesh.hub.v1 import hub_pb2
from tickmesh.ingestion.v1 import ingestion_pb2
from tickmesh.storage.v1 import storage_pb2
from tickmesh.workflow.v1 import chains_pb2, lifecycle_pb2, webhooks_pb2

from mesh.errors import PermissionDenied
from mesh.interceptors.base import CallInfo
from mesh.interceptors.permissions import PermissionInterceptor
from mesh.tenancy.context import TenantContext
from mesh.tenancy.current import Principal, PrincipalKind, principal_scope
from mesh.tenancy.permissions import (
    NOT_FOR_TENANTS,
    ROLE_SCOPES,
    TENANT_RPCS,
    Role,
    Scope,
    check_manages,
)
from mesh.tiers import Tier

CONTRACTS = (billing_pb2, bridge_pb2, history_pb2, hub_pb2, ingestion_pb2, storage_pb2,
             lifecycle_pb2, webhooks_pb2, chains_pb2, metrics_pb2)  # fmt: skip


def every_method() -> list[str]:
    return [
        f"/{service.full_name}/{method.name}"
        for module in CONTRACTS
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    ]


def test_every_rpc_of_every_contract_is_classified_once() -> None:
    methods = set(every_method())
    unclassified = methods - set(TENANT_RPCS) - NOT_FOR_TENANTS
    assert not unclassified, f"classify these in mesh/tenancy/permissions.py: {unclassified}"
    assert not set(TENANT_RPCS) & NOT_FOR_TENANTS
    assert set(TENANT_RPCS) | NOT_FOR_TENANTS == methods  # nothing stale either


def _call(method: str) -> CallInfo:
    return CallInfo(method=method, invocation_metadata=(), request_streaming=False,
                    response_streaming=False)  # fmt: skip


async def _allowed(method: str, tenant: TenantContext) -> bool:
    interceptor = PermissionInterceptor()
    with principal_scope(Principal(PrincipalKind.TENANT, tenant=tenant)):
        try:
            async with interceptor.around(_call(method), None):  # type: ignore[arg-type]
                return True
        except PermissionDenied:
            return False


def _tenant(role: Role, scopes: frozenset[str] = frozenset()) -> TenantContext:
    return TenantContext("c" * 12, "u" * 16, Tier.ENTERPRISE, "k" * 16, role.value, scopes)


@pytest.mark.parametrize(("method", "role"), list(itertools.product(sorted(TENANT_RPCS), Role)))
async def test_every_tenant_rpc_against_every_role(method: str, role: Role) -> None:
    scope = TENANT_RPCS[method]
    expected = scope is None or scope in ROLE_SCOPES[role]
    assert await _allowed(method, _tenant(role)) is expected


@pytest.mark.parametrize("method", sorted(TENANT_RPCS))
async def test_a_key_scoped_to_market_data_reaches_only_market_data(method: str) -> None:
    scope = TENANT_RPCS[method]
    scoped = _tenant(Role.OWNER, frozenset({Scope.MARKET_DATA.value}))
    assert await _allowed(method, scoped) is (scope in (None, Scope.MARKET_DATA))


@pytest.mark.parametrize("method", sorted(NOT_FOR_TENANTS))
async def test_operator_rpcs_are_refused_to_every_key(method: str) -> None:
    for role in Role:
        assert not await _allowed(method, _tenant(role))


async def test_the_denial_names_the_missing_scope_and_the_roles_that_have_it() -> None:
    member = Principal(PrincipalKind.TENANT, tenant=_tenant(Role.MEMBER))
    change_tier = _call("/tickmesh.billing.v1.BillingService/ChangeTier")
    with principal_scope(member), pytest.raises(PermissionDenied) as denied:
        async with PermissionInterceptor().around(change_tier, None):  # type: ignore[arg-type]
            pass
    status = denied.value.to_status()
    assert status.code == grpc.StatusCode.PERMISSION_DENIED
    assert "role member lacks scope billing (roles with it: owner or admin)" in status.details


def test_only_owners_make_owners() -> None:
    check_manages(_tenant(Role.OWNER), "owner")
    check_manages(_tenant(Role.ADMIN), "admin")
    for role, target in ((Role.ADMIN, "owner"), (Role.MEMBER, "member")):
        with pytest.raises(PermissionDenied):
            check_manages(_tenant(role), target)
