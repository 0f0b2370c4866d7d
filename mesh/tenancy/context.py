"""The authenticated tenant a request acts for: company, user, tier and API key id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mesh.tiers import Tier


@dataclass(frozen=True, slots=True)
class TenantContext:
    """Who a request acts for. Only the mesh sets it (from a key or a signed context)."""

    company_id: str
    user_id: str
    tier: Tier
    key_id: str
    role: str = "member"
    """The user's role (mesh.tenancy.permissions.Role); least power unless told."""
    scopes: frozenset[str] = frozenset()
    """The key's scopes; empty: every scope of the role."""
    key_expires_at_us: int = 0
    """When the key stops authenticating (Unix microseconds); 0: never."""

    def __post_init__(self) -> None:
        # Every quota and every per-tenant schema is keyed by company: an empty one
        # would silently pool tenants together, so refuse it at construction.
        if not self.company_id:
            raise ValueError("TenantContext needs a company_id")

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready dict (used by the shared auth cache; not a wire format)."""
        return {
            "company_id": self.company_id,
            "user_id": self.user_id,
            "tier": self.tier.value,
            "key_id": self.key_id,
            "role": self.role,
            "scopes": ",".join(sorted(self.scopes)),
            "key_expires_at_us": str(self.key_expires_at_us),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> TenantContext:
        """The inverse of to_dict; raises KeyError/ValueError on a bad dict."""
        scopes = data.get("scopes", "")
        return cls(
            company_id=data["company_id"],
            user_id=data["user_id"],
            tier=Tier.parse(data["tier"]),
            key_id=data["key_id"],
            # Entries cached before roles existed read as the least power.
            role=data.get("role", "member"),
            scopes=frozenset(scopes.split(",")) if scopes else frozenset(),
            key_expires_at_us=int(data.get("key_expires_at_us", 0)),
        )
