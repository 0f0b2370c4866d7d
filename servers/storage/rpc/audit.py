"""The audit trail read back: owners see their own company's, the operator every company's."""

from __future__ import annotations

import json
from typing import Any

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.errors import NotFound, PermissionDenied
from mesh.tenancy.current import current_principal
from servers.storage import convert
from servers.storage.relational import audit, users
from servers.storage.relational.scope import TenantScope
from servers.storage.rpc._base import OPERATOR, TENANT, StorageRpcs, require

# The trail shows who changed keys, users and tiers: only an owner may read it.
READER_ROLE = "owner"


class AuditRpcs(StorageRpcs):
    async def ListAuditEvents(
        self, request: storage_pb2.ListAuditEventsRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListAuditEventsResponse:
        require(OPERATOR, TENANT)
        company_id = await self._readable_company(request.company_id)
        since, until = _window(request)
        wanted = audit.AuditFilter(
            company_id=company_id,
            since=since,
            until=until,
            actor=request.actor or None,
            action=request.action or None,
        )
        start, size = convert.page_window(request)  # type: ignore[arg-type]  # same two fields
        page, more = await audit.page_audit(self._store, wanted, offset=start, limit=size)
        return storage_pb2.ListAuditEventsResponse(
            events=[_event(entry) for entry in page],
            next_page_token=str(start + size) if more else "",
        )

    async def _readable_company(self, requested: str) -> str | None:
        """The operator reads the named company (every one when unnamed); a tenant reads only
        its own, and only as an owner (the role read fresh, so a demoted owner loses it)."""
        principal = current_principal()
        if principal.tenant is None:
            return requested or None
        tenant = principal.tenant
        if requested and requested != tenant.company_id:
            # As company_in_reach: another company's id never reveals that it exists.
            raise NotFound(f"company {requested!r} not found")
        caller = await users.get_user(self._store, TenantScope(tenant.company_id), tenant.user_id)
        if caller.role != READER_ROLE:
            raise PermissionDenied(
                f"reading the audit trail needs role {READER_ROLE!r}; you are {caller.role!r}",
                reason="ROLE_REQUIRED",
                metadata={"required_role": READER_ROLE, "role": caller.role},
            )
        return tenant.company_id


def _window(request: storage_pb2.ListAuditEventsRequest) -> tuple[Any, Any]:
    return convert.event_window(request)  # type: ignore[arg-type]  # same since/until fields


def _json(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, default=str)


def _event(entry: audit.AuditEntry) -> storage_pb2.AuditEvent:
    return storage_pb2.AuditEvent(
        event_id=entry.id,
        at=convert.timestamp(entry.at),
        actor=entry.actor,
        action=entry.action,
        company_id=entry.company_id or "",
        target=entry.target,
        before_json=_json(entry.before),
        after_json=_json(entry.after),
    )
