"""Retention deletes only closed positions older than the tier keeps, and logs what it did."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from servers.storage.relational import audit, quota, retention, subscriptions, trading
from servers.storage.relational.engine import RelationalStore
from tests.integration.storage.conftest import T0, Tenant, new_position

TenantFactory = Callable[..., Awaitable[Tenant]]


async def test_free_tier_keeps_30_days_of_closed_positions(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory("free")
    old, edge, recent = await trading.record_positions(
        store,
        tenant.scope,
        tenant.account_id,
        [
            new_position(closed_days_ago=31),
            new_position(closed_days_ago=30),  # exactly at the cutoff: kept
            new_position(closed_days_ago=29),
        ],
        now=T0,
    )
    used = (await quota.get_usage(store, tenant.scope)).used_bytes
    result = await retention.apply_retention(store, tenant.scope.company_id, now=T0)
    assert (result.retention_days, result.deleted_positions) == (30, 1)
    assert result.cutoff == T0 - timedelta(days=30)
    assert result.freed_bytes == quota.position_bytes("EURUSD")
    left = {position.id for position in await trading.list_positions(store, tenant.scope)}
    # The open position opened 400 days ago stays: only closed ones expire.
    assert left == {edge.id, recent.id, tenant.open_position_id, tenant.closed_position_id}
    assert old.id not in left
    assert (await quota.get_usage(store, tenant.scope)).used_bytes == used - result.freed_bytes
    [entry] = await audit.list_audit(store, tenant.scope.company_id, action="retention.applied")
    assert entry.actor == "system:retention"
    assert entry.after is not None
    assert entry.after["deleted_positions"] == 1 and entry.after["retention_days"] == 30


async def test_retention_follows_the_tier(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory("free")
    await trading.record_positions(
        store,
        tenant.scope,
        tenant.account_id,
        [new_position(closed_days_ago=100), new_position(closed_days_ago=366)],
        now=T0,
    )
    await subscriptions.change_tier(
        store, tenant.scope.company_id, "pro", actor="system:test", now=T0
    )
    result = await retention.apply_retention(store, tenant.scope.company_id, now=T0)
    assert (result.retention_days, result.deleted_positions) == (365, 1)
    again = await retention.apply_retention(store, tenant.scope.company_id, now=T0)
    assert again.deleted_positions == 0
    entries = await audit.list_audit(store, tenant.scope.company_id, action="retention.applied")
    assert [entry.after and entry.after["deleted_positions"] for entry in entries] == [0, 1]


async def test_apply_retention_all_covers_every_company(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory("free")
    await trading.record_positions(
        store, tenant.scope, tenant.account_id, [new_position(closed_days_ago=45)], now=T0
    )
    results = await retention.apply_retention_all(store, now=T0)
    mine = [r for r in results if r.company_id == tenant.scope.company_id]
    assert [r.deleted_positions for r in mine] == [1]
