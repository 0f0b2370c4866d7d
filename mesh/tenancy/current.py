"""Who the current call acts for, as the auth interceptor established it.

Handlers and domain glue read the caller from here, never from request
fields or raw metadata, so a client cannot name its own tenant or tier.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from mesh.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from mesh.tenancy.context import TenantContext


class PrincipalKind(enum.StrEnum):
    """How a caller proved who it is."""

    TENANT = "tenant"  # an API key (directly, or relayed by a service as a signed context)
    SERVICE = "service"  # another tickmesh service, with a signed context and no tenant
    OPERATOR = "operator"  # the operator key


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller of one RPC."""

    kind: PrincipalKind
    tenant: TenantContext | None = None
    service: str | None = None  # the calling service, when relayed by one

    @property
    def direct_tenant(self) -> TenantContext | None:
        """The tenant when it called with its own key; None when relayed or not a tenant.

        Quotas and API-call metering count only these: a call a service relays for a
        tenant was counted where it entered the mesh.
        """
        if self.kind is PrincipalKind.TENANT and not self.service:
            return self.tenant
        return None

    def require_tenant(self) -> TenantContext:
        """The tenant this call acts for; UNAUTHENTICATED when it acts for none."""
        if self.tenant is None:
            raise Unauthenticated(
                "this RPC acts for a tenant: send 'authorization: Bearer <api key>'",
                reason="TENANT_REQUIRED",
            )
        return self.tenant

    def require(self, *kinds: PrincipalKind) -> None:
        """PERMISSION_DENIED unless the caller is one of `kinds`."""
        if self.kind not in kinds:
            allowed = " or ".join(k.value for k in kinds)
            raise PermissionDenied(
                f"this RPC is for {allowed} callers, not {self.kind.value}",
                reason="CALLER_NOT_ALLOWED",
                metadata={"allowed": allowed},
            )


_principal: ContextVar[Principal | None] = ContextVar("tickmesh_principal", default=None)


def current_principal() -> Principal:
    """The verified caller; UNAUTHENTICATED when the call carried no credential."""
    principal = _principal.get()
    if principal is None:
        raise Unauthenticated(
            "missing credentials: send 'authorization: Bearer <api key>'",
            reason="MISSING_CREDENTIALS",
        )
    return principal


def current_tenant() -> TenantContext:
    """The tenant the current call acts for (see Principal.require_tenant)."""
    return current_principal().require_tenant()


def actor_label() -> str:
    """The current caller as the audit trail names it: "user:<id>" for a tenant,
    "<kind>:<service>" when a service relayed the call, else the bare kind ("operator"
    for the operator key used directly)."""
    principal = current_principal()
    if principal.tenant is not None:
        return f"user:{principal.tenant.user_id}"
    if principal.service:
        return f"{principal.kind.value}:{principal.service}"
    return principal.kind.value


def company_in_reach(requested: str) -> str:
    """The company the current call may act on: a tenant's own (another company's id
    reads as NOT_FOUND, never revealing it exists), any named one for operators and
    services (for whom it is required)."""
    principal = current_principal()
    if principal.kind is PrincipalKind.TENANT:
        own = principal.require_tenant().company_id
        if requested and requested != own:
            raise NotFound(f"company {requested!r} not found")
        return own
    if not requested:
        raise InvalidArgument(
            "company_id is required for operator and service callers",
            violations=[FieldViolation("company_id", "required")],
        )
    return requested


def optional_principal() -> Principal | None:
    """The verified caller, or None for an anonymous call (health, reflection)."""
    return _principal.get()


@contextmanager
def principal_scope(principal: Principal | None) -> Iterator[None]:
    """Run the enclosed code as `principal` (the auth interceptor's job; tests use it too)."""
    token = _principal.set(principal)
    try:
        yield
    finally:
        _principal.reset(token)
