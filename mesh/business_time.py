"""A request's business time: the `as_of` the workflow service's test clock sets.

Lifecycle RPCs (closing a period, rolling subscriptions, retention) take an optional
`as_of` so that the workflow service can run them at a business time other than now:
in test mode its clock runs ahead of the wall clock, and a month of billing runs in
seconds. Only a service caller (signed with the mesh secret) may set it: a tenant or
the operator moving time would close periods that have not ended.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mesh.errors import PermissionDenied
from mesh.tenancy.current import PrincipalKind, current_principal


def as_of(request: Any, field: str = "as_of") -> datetime | None:
    """The request's business time (aware UTC), None when unset (meaning now)."""
    if not request.HasField(field):
        return None
    if current_principal().kind is not PrincipalKind.SERVICE:
        raise PermissionDenied(
            f"{field} is set by the workflow service only; leave it unset for now",
            reason="AS_OF_FOR_SERVICES",
            metadata={"field": field},
        )
    return datetime.fromtimestamp(getattr(request, field).ToMicroseconds() / 1e6, UTC)
