"""Concurrent writers share one quota exactly; many tenants share pooled connections safely."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from mesh.errors import ResourceExhausted
from servers.storage.relational import companies, quota, trading, users
from servers.storage.relational.engine import SQLITE_ATTACH_LIMIT, RelationalStore
from servers.storage.relational.scope import TenantScope
from tests.integration.storage.conftest import T0, Tenant, new_position


async def test_concurrent_writers_cannot_overrun_the_quota(
    store: RelationalStore,
    tenant_factory: Callable[..., Awaitable[Tenant]],
    quota_limit: Callable[[int | None], None],
) -> None:
    tenant = await tenant_factory()
    used = (await quota.get_usage(store, tenant.scope)).used_bytes
    quota_limit(used + 5 * quota.position_bytes("EURUSD"))

    async def write() -> bool:
        try:
            await trading.record_positions(
                store, tenant.scope, tenant.account_id, [new_position()], now=T0
            )
        except ResourceExhausted:
            return False
        return True

    outcomes = await asyncio.gather(*(write() for _ in range(12)))
    assert outcomes.count(True) == 5
    assert len(await trading.list_positions(store, tenant.scope)) == 2 + 5


async def test_more_tenants_than_sqlite_can_attach(store: RelationalStore) -> None:
    """SQLite attaches at most 10 files per connection; tenants rotate through them."""
    scopes = []
    for index in range(SQLITE_ATTACH_LIMIT + 4):
        company, _ = await companies.create_company(store, f"Rotation {index}", now=T0)
        scope = TenantScope(company.id)
        await users.create_user(store, scope, f"u{index}@example.com", f"User {index}", now=T0)
        scopes.append(scope)

    async def emails(scope: TenantScope) -> list[str]:
        return [user.email for user in await users.list_users(store, scope)]

    for _ in range(2):
        found = await asyncio.gather(*(emails(scope) for scope in scopes))
        assert found == [[f"u{index}@example.com"] for index in range(len(scopes))]
