"""TenantScope: the one company a tenant-data call may touch."""

from __future__ import annotations

from dataclasses import dataclass

from servers.storage.relational import validation


@dataclass(frozen=True, slots=True)
class TenantScope:
    """The verified company of the caller.

    The servicer builds this ONLY from the authenticated tenant context (the key it
    resolved or the signed metadata it verified), never from a request field: every
    tenant-data function reads and writes `tenant_<company_id>` of this scope and nothing
    else, so a request naming another company's ids finds nothing.
    """

    company_id: str

    def __post_init__(self) -> None:
        validation.company_id(self.company_id, "tenant.company_id")

    @property
    def schema(self) -> str:
        """The tenant's schema name (identifier-safe: the id is 12 hex characters)."""
        return tenant_schema_name(self.company_id)


def tenant_schema_name(company_id: str) -> str:
    """`tenant_<company_id>`; the id is re-checked because the result is spliced into DDL."""
    if not validation.COMPANY_ID.fullmatch(company_id):
        raise ValueError(f"not a company id: {company_id!r}")
    return f"tenant_{company_id}"
