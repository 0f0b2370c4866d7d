"""Tenant isolation: A's scope can neither see nor change any of B's rows, for every operation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from mesh.errors import NotFound
from servers.storage.relational import api_keys, quota, retention, trading, users
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.scope import TenantScope
from tests.integration.storage.conftest import T0, RowCounts, Tenant, new_position

Case = Callable[[RelationalStore, Tenant, Tenant], Awaitable[None]]
CASES: dict[str, Case] = {}


def case(function: Case) -> Case:
    CASES[function.__name__] = function
    return function


@case
async def get_user(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    with pytest.raises(NotFound):
        await users.get_user(store, a.scope, b.user_id)


@case
async def list_users(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    assert [user.id for user in await users.list_users(store, a.scope)] == [a.user_id]


@case
async def create_user_same_email(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    # Emails are unique per tenant: B's user does not block A from using the same address.
    created = await users.create_user(store, a.scope, "shared@example.com", "A Person", now=T0)
    other = await users.create_user(store, b.scope, "shared@example.com", "B Person", now=T0)
    assert created.id != other.id


@case
async def issue_api_key(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    with pytest.raises(NotFound):
        await api_keys.issue_api_key(store, a.scope, b.user_id, now=T0)


@case
async def revoke_api_key(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    with pytest.raises(NotFound):
        await api_keys.revoke_api_key(store, a.scope, b.key_id, actor="system:test", now=T0)
    assert (await api_keys.authenticate_key(store, b.key, now=T0)).company_id == b.scope.company_id


@case
async def list_api_keys(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    assert [key.id for key in await api_keys.list_api_keys(store, a.scope)] == [a.key_id]
    assert await api_keys.list_api_keys(store, a.scope, user_id=b.user_id) == []


@case
async def create_broker_account(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    with pytest.raises(NotFound):
        await trading.create_broker_account(store, a.scope, b.user_id, "fxcm", "42", now=T0)


@case
async def list_broker_accounts(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    found = await trading.list_broker_accounts(store, a.scope)
    assert [account.id for account in found] == [a.account_id]
    assert await trading.list_broker_accounts(store, a.scope, user_id=b.user_id) == []


@case
async def record_positions(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    with pytest.raises(NotFound):
        await trading.record_positions(store, a.scope, b.account_id, [new_position()], now=T0)


@case
async def close_position(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    with pytest.raises(NotFound):
        await trading.close_position(store, a.scope, b.open_position_id, Decimal("1.1"), now=T0)
    still_open = await trading.get_position(store, b.scope, b.open_position_id)
    assert still_open.status is trading.PositionStatus.OPEN


@case
async def get_position(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    with pytest.raises(NotFound):
        await trading.get_position(store, a.scope, b.closed_position_id)


@case
async def list_positions(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    mine = {position.id for position in await trading.list_positions(store, a.scope)}
    assert mine == {a.open_position_id, a.closed_position_id}
    assert await trading.list_positions(store, a.scope, account_id=b.account_id) == []
    assert await trading.list_positions(store, a.scope, user_id=b.user_id) == []


@case
async def storage_usage(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    before = await quota.get_usage(store, b.scope)
    await trading.record_positions(store, a.scope, a.account_id, [new_position()] * 5, now=T0)
    assert await quota.get_usage(store, b.scope) == before


@case
async def reconcile_usage(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    mine = await quota.reconcile_usage(store, a.scope, now=T0)
    assert mine.row_count == 4  # A's user, account and two positions; nothing of B's


@case
async def apply_retention(store: RelationalStore, a: Tenant, b: Tenant) -> None:
    await trading.record_positions(
        store, b.scope, b.account_id, [new_position(closed_days_ago=90)], now=T0
    )
    result = await retention.apply_retention(store, a.scope.company_id, now=T0)
    assert result.deleted_positions == 0
    assert len(await trading.list_positions(store, b.scope)) == 3


@pytest.mark.parametrize("name", sorted(CASES))
async def test_scope_a_cannot_reach_tenant_b(
    store: RelationalStore,
    tenant_factory: Callable[..., Awaitable[Tenant]],
    row_counts: Callable[..., Awaitable[RowCounts]],
    name: str,
) -> None:
    # Pro: room for a second user (a free company is its owner alone).
    a, b = await tenant_factory("pro"), await tenant_factory("pro")
    before = await row_counts(b.scope.company_id)
    await CASES[name](store, a, b)
    after = await row_counts(b.scope.company_id)
    b_rows = {
        table: count for table, count in after.items() if table.startswith(b.scope.company_id)
    }
    if name not in {"create_user_same_email", "apply_retention"}:  # those write to B on purpose
        assert b_rows == {t: c for t, c in before.items() if t.startswith(b.scope.company_id)}


async def test_unknown_company_scope_is_not_found(
    store: RelationalStore, row_counts: Callable[..., Awaitable[RowCounts]]
) -> None:
    ghost = TenantScope("0123456789ab")
    before = await row_counts()
    with pytest.raises(NotFound):
        await users.list_users(store, ghost)
    with pytest.raises(NotFound):
        await users.create_user(store, ghost, "x@example.com", "X", now=T0)
    assert await row_counts() == before
    if store.tenant_dir is not None:  # a stale id never conjures an empty tenant file
        assert not store.tenant_file(ghost.company_id).exists()
