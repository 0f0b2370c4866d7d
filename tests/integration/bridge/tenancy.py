"""Test tenants for the Bridge tests, through the real auth and quota interceptors.

The Bridge runs with the mesh's own AuthInterceptor and QuotaInterceptor; only the
API-key lookup (Storage.AuthenticateKey in production) is replaced by
`resolve_test_key`, which reads the tenant out of a test key: `test.<company>.<user>.<tier>`.
"""

from __future__ import annotations

from mesh.errors import Unauthenticated
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier

PREFIX = "test."


def test_key(company: str, user: str, tier: Tier) -> str:
    """The API key that authenticates as this tenant under resolve_test_key."""
    return f"{PREFIX}{company}.{user}.{tier.value}"


def tenant_metadata(company: str, user: str, tier: Tier) -> tuple[tuple[str, str]]:
    """The metadata of a call made by this tenant."""
    return (("authorization", f"Bearer {test_key(company, user, tier)}"),)


async def resolve_test_key(api_key: str) -> TenantContext:
    """The key lookup of the Bridge's test tenancy."""
    if not api_key.startswith(PREFIX) or api_key.count(".") != 3:
        raise Unauthenticated("unknown test key", reason="API_KEY_UNKNOWN")
    _, company, user, tier = api_key.split(".")
    return TenantContext(company, user, Tier.parse(tier), key_id=f"key-{user}")
