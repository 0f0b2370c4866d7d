"""API keys: issued once in plaintext, stored only as a hash, authenticated, revoked."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from mesh.errors import InvalidArgument, NotFound, Unauthenticated
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier
from servers.storage.relational import api_keys, companies
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.tables import shared_metadata
from tests.integration.storage.conftest import T0, Tenant

TenantFactory = Callable[..., Awaitable[Tenant]]


async def test_key_authenticates_to_its_tenant(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory("pro")
    assert tenant.key.startswith(f"tm_{tenant.key_id}_")
    result = await api_keys.authenticate_key(store, tenant.key, now=T0)
    # The company's first user is its owner; a key issued with no scopes holds the role's.
    assert result == api_keys.AuthResult(
        tenant.scope.company_id, tenant.user_id, Tier.PRO, tenant.key_id, "owner"
    )
    [key] = await api_keys.list_api_keys(store, tenant.scope)
    assert key.last_used_at == T0
    assert key.prefix == f"tm_{tenant.key_id}"


async def test_storage_resolves_its_own_keys_to_a_tenant_context(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory("enterprise")
    assert await api_keys.tenant_for_key(store, tenant.key) == TenantContext(
        tenant.scope.company_id, tenant.user_id, Tier.ENTERPRISE, tenant.key_id, "owner"
    )


async def test_plaintext_is_stored_nowhere(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    secret = tenant.key.split("_", 2)[2]
    dump = []
    async with store.shared(readonly=True) as conn:
        for table in shared_metadata.sorted_tables:
            dump += [repr(tuple(row)) for row in await conn.execute(sa.select(table))]
        stored = await conn.scalar(
            sa.select(api_keys.api_keys.c.key_hash).where(api_keys.api_keys.c.id == tenant.key_id)
        )
    text = "\n".join(dump)
    assert secret not in text and tenant.key not in text
    assert stored == hashlib.sha256(tenant.key.encode()).hexdigest()


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "tm_",
        "Bearer tm_0123456789abcdef_" + "a" * 43,
        "tm_0123456789ABCDEF_" + "a" * 43,
        "tm_0123456789abcdef_" + "a" * 42,
        "tm_0123456789abcdef_" + "a" * 43 + "'; DROP TABLE api_keys;--",
        "x" * 10_000,
    ],
)
async def test_malformed_keys(store: RelationalStore, presented: str) -> None:
    with pytest.raises(Unauthenticated, match="malformed") as caught:
        await api_keys.authenticate_key(store, presented, now=T0)
    assert caught.value.reason == "API_KEY_MALFORMED"


async def test_unknown_keys(store: RelationalStore, tenant_factory: TenantFactory) -> None:
    tenant = await tenant_factory()
    never_issued = "tm_0123456789abcdef_" + "A" * 43
    right_id_wrong_secret = f"tm_{tenant.key_id}_" + "B" * 43
    for presented in (never_issued, right_id_wrong_secret):
        with pytest.raises(Unauthenticated, match="unknown") as caught:
            await api_keys.authenticate_key(store, presented, now=T0)
        assert caught.value.reason == "API_KEY_UNKNOWN"


async def test_revoked_key_is_refused(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    revoked = await api_keys.revoke_api_key(
        store, tenant.scope, tenant.key_id, actor="system:test", now=T0 + timedelta(hours=1)
    )
    assert revoked.revoked_at == T0 + timedelta(hours=1)
    with pytest.raises(Unauthenticated, match="revoked") as caught:
        await api_keys.authenticate_key(store, tenant.key, now=T0 + timedelta(hours=2))
    assert caught.value.reason == "API_KEY_REVOKED"
    # Revoking again is harmless and keeps the first revocation time.
    again = await api_keys.revoke_api_key(store, tenant.scope, tenant.key_id, actor="system:test")
    assert again.revoked_at == revoked.revoked_at
    # A wrong secret for a revoked id still says "unknown": only the holder learns "revoked".
    with pytest.raises(Unauthenticated, match="unknown"):
        await api_keys.authenticate_key(store, f"tm_{tenant.key_id}_" + "C" * 43, now=T0)


async def test_a_key_expires_at_its_time_and_says_so(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    expires = T0 + timedelta(days=30)
    issued = await api_keys.issue_api_key(
        store, tenant.scope, tenant.user_id, now=T0, expires_at=expires
    )
    assert issued.expires_at == expires
    result = await api_keys.authenticate_key(
        store, issued.plaintext, now=expires - timedelta(seconds=1)
    )
    assert result.expires_at == expires
    # Storage's own resolution (real time) carries the expiry to every cache of it.
    tomorrow = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    lasting = await api_keys.issue_api_key(store, tenant.scope, tenant.user_id, expires_at=tomorrow)
    context = await api_keys.tenant_for_key(store, lasting.plaintext)
    assert context.key_expires_at_us == int(tomorrow.timestamp() * 1_000_000)
    with pytest.raises(Unauthenticated, match="expired") as caught:
        await api_keys.authenticate_key(store, issued.plaintext, now=expires)
    assert caught.value.reason == "API_KEY_EXPIRED"
    listed = {key.id: key for key in await api_keys.list_api_keys(store, tenant.scope)}
    assert listed[issued.key_id].expires_at == expires
    assert listed[tenant.key_id].expires_at is None  # keys without one never expire


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=-1), timedelta(days=3654)])
async def test_an_expiry_must_be_ahead_and_plausible(
    store: RelationalStore, tenant_factory: TenantFactory, offset: timedelta
) -> None:
    tenant = await tenant_factory()
    with pytest.raises(InvalidArgument) as caught:
        await api_keys.issue_api_key(
            store, tenant.scope, tenant.user_id, now=T0, expires_at=T0 + offset
        )
    assert [v.field for v in caught.value.violations] == ["expires_at"]


async def test_deactivated_company_keys_are_refused(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    await companies.deactivate_company(store, tenant.scope.company_id, actor="system:test")
    with pytest.raises(Unauthenticated, match="deactivated"):
        await api_keys.authenticate_key(store, tenant.key, now=T0)


async def test_issue_for_unknown_user_is_not_found(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    with pytest.raises(NotFound):
        await api_keys.issue_api_key(store, tenant.scope, "0123456789abcdef", now=T0)
    with pytest.raises(NotFound):
        await api_keys.revoke_api_key(
            store, tenant.scope, "0123456789abcdef", actor="system:test", now=T0
        )
