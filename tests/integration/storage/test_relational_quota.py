"""Storage quota: each row is charged; a write over the limit is refused and writes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from mesh.errors import ResourceExhausted
from mesh.tiers import MB, Tier
from servers.storage.relational import quota, retention, trading, users
from servers.storage.relational.engine import RelationalStore
from tests.integration.storage.conftest import T0, RowCounts, Tenant, new_position

TenantFactory = Callable[..., Awaitable[Tenant]]


async def test_usage_follows_the_catalog_quota(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    free, enterprise = await tenant_factory("free"), await tenant_factory("enterprise")
    usage = await quota.get_usage(store, free.scope)
    assert usage.limit_bytes == 100 * MB and usage.tier is Tier.FREE
    assert usage.row_count == 4
    assert usage.used_bytes == (
        quota.user_bytes("ann@example.com", "Ann Lee")
        + quota.broker_account_bytes("ic_markets", "5550001")
        + 2 * quota.position_bytes("EURUSD")
    )
    assert (await quota.get_usage(store, enterprise.scope)).limit_bytes is None


async def test_write_over_quota_is_refused_and_writes_nothing(
    store: RelationalStore,
    tenant_factory: TenantFactory,
    row_counts: Callable[..., Awaitable[RowCounts]],
    quota_limit: Callable[[int | None], None],
) -> None:
    tenant = await tenant_factory()
    used = (await quota.get_usage(store, tenant.scope)).used_bytes
    row = quota.position_bytes("EURUSD")
    quota_limit(used + 2 * row)
    before = await row_counts(tenant.scope.company_id)
    with pytest.raises(ResourceExhausted) as caught:
        await trading.record_positions(
            store, tenant.scope, tenant.account_id, [new_position()] * 3, now=T0
        )
    [violation] = caught.value.violations
    assert violation.subject == f"company:{tenant.scope.company_id}"
    assert f"used {used}" in violation.description
    assert f"limit {used + 2 * row}" in violation.description
    assert await row_counts(tenant.scope.company_id) == before
    assert (await quota.get_usage(store, tenant.scope)).used_bytes == used
    # Exactly up to the limit is fine; then every tenant write is refused.
    await trading.record_positions(
        store, tenant.scope, tenant.account_id, [new_position()] * 2, now=T0
    )
    with pytest.raises(ResourceExhausted):
        await trading.record_positions(store, tenant.scope, tenant.account_id, [new_position()])
    with pytest.raises(ResourceExhausted):
        await users.create_user(store, tenant.scope, "new@example.com", "New Person", now=T0)
    with pytest.raises(ResourceExhausted):
        await trading.create_broker_account(store, tenant.scope, tenant.user_id, "fxcm", "77")


async def test_unlimited_quota_never_refuses(
    store: RelationalStore,
    tenant_factory: TenantFactory,
    quota_limit: Callable[[int | None], None],
) -> None:
    tenant = await tenant_factory()
    quota_limit(None)
    await trading.record_positions(
        store, tenant.scope, tenant.account_id, [new_position()] * 1000, now=T0
    )
    assert (await quota.get_usage(store, tenant.scope)).row_count == 1004


async def test_ledger_matches_a_recount(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory()
    await trading.record_positions(
        store,
        tenant.scope,
        tenant.account_id,
        [new_position("GBPJPY", closed_days_ago=60), new_position("XAUUSD.m")],
        now=T0,
    )
    await retention.apply_retention(store, tenant.scope.company_id, now=T0)
    kept = await quota.get_usage(store, tenant.scope)
    assert kept == await quota.reconcile_usage(store, tenant.scope, now=T0)
