"""What every Storage RPC group shares: its dependencies and who may call it.

Tenant RPCs act on the caller's own company from the verified principal; a company
id in a tenant's request is never trusted (another company's id reads as NOT_FOUND,
see company_in_reach). Operator and service RPCs name the company explicitly.
"""

from __future__ import annotations

from mesh.tenancy.current import PrincipalKind, current_principal
from mesh.tenancy_stack import Tenancy
from servers.storage.analytics.engine import AnalyticsStore
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.scope import TenantScope

OPERATOR, SERVICE, TENANT = PrincipalKind.OPERATOR, PrincipalKind.SERVICE, PrincipalKind.TENANT


def require(*kinds: PrincipalKind) -> None:
    """PERMISSION_DENIED unless the caller is one of `kinds`."""
    current_principal().require(*kinds)


def tenant_scope() -> TenantScope:
    """The calling tenant's own company; PERMISSION_DENIED for any other caller."""
    principal = current_principal()
    principal.require(TENANT)
    return TenantScope(principal.require_tenant().company_id)


class StorageRpcs:
    """The stores the RPCs read and write, and the tenancy whose caches a change invalidates."""

    def __init__(self, store: RelationalStore, analytics: AnalyticsStore, tenancy: Tenancy) -> None:
        self._store = store
        self._analytics = analytics
        self._tenancy = tenancy
