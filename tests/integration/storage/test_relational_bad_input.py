"""Bad input is refused with InvalidArgument naming the field before any SQL: nothing is written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from mesh.errors import InvalidArgument
from servers.storage.relational import (
    api_keys,
    audit,
    companies,
    retention,
    subscriptions,
    trading,
    users,
)
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.scope import TenantScope
from tests.integration.storage.conftest import T0, RowCounts, Tenant, make_tenant, new_position

BAD_IDS = {
    "empty": "",
    "overlong": "a" * 1000,
    "sql": "x'; DROP TABLE companies;--",
    "upper": "ABCDEF012345",
    "path": "../../etc/passwd",
    "not_a_string": None,
}
NOT_A_DECIMAL: Any = "abc"
Call = Callable[[RelationalStore, Tenant, Any], Awaitable[object]]

# (operation, field, call taking the bad value)
ID_CASES: list[tuple[str, str, Call]] = [
    ("get_company", "company_id", lambda s, t, v: companies.get_company(s, v)),
    ("get_subscription", "company_id", lambda s, t, v: subscriptions.get_subscription(s, v)),
    (
        "change_tier",
        "company_id",
        lambda s, t, v: subscriptions.change_tier(s, v, "pro", actor="system:test"),
    ),
    (
        "deactivate",
        "company_id",
        lambda s, t, v: companies.deactivate_company(s, v, actor="system:test"),
    ),
    ("retention", "company_id", lambda s, t, v: retention.apply_retention(s, v, now=T0)),
    ("list_audit", "company_id", lambda s, t, v: audit.list_audit(s, v)),
    ("scope", "tenant.company_id", lambda s, t, v: users.list_users(s, TenantScope(v))),
    ("get_user", "user_id", lambda s, t, v: users.get_user(s, t.scope, v)),
    ("issue_key", "user_id", lambda s, t, v: api_keys.issue_api_key(s, t.scope, v, now=T0)),
    (
        "revoke_key",
        "key_id",
        lambda s, t, v: api_keys.revoke_api_key(s, t.scope, v, actor="system:test"),
    ),
    (
        "broker_account",
        "user_id",
        lambda s, t, v: trading.create_broker_account(s, t.scope, v, "fxcm", "1"),
    ),
    (
        "record",
        "account_id",
        lambda s, t, v: trading.record_positions(s, t.scope, v, [new_position()]),
    ),
    ("close", "position_id", lambda s, t, v: trading.close_position(s, t.scope, v, Decimal("1.1"))),
    ("get_position", "position_id", lambda s, t, v: trading.get_position(s, t.scope, v)),
    (
        "list_positions",
        "account_id",
        lambda s, t, v: trading.list_positions(s, t.scope, account_id=v),
    ),
]


def _position(**changes: object) -> list[trading.NewPosition]:
    return [replace(new_position(), **changes)]


# (label, field, call) for values other than ids
VALUE_CASES: list[tuple[str, str, Callable[[RelationalStore, Tenant], Awaitable[object]]]] = [
    ("company_name_empty", "name", lambda s, t: companies.create_company(s, "  ", "free")),
    ("company_name_long", "name", lambda s, t: companies.create_company(s, "n" * 101, "free")),
    (
        "company_name_sql",
        "name",
        lambda s, t: companies.create_company(s, "x'; DROP TABLE companies;--"),
    ),
    ("company_name_control", "name", lambda s, t: companies.create_company(s, "evil\x00name")),
    ("tier_unknown", "tier", lambda s, t: companies.create_company(s, "Tier Co", "platinum")),
    ("tier_empty", "tier", lambda s, t: companies.create_company(s, "Tier Co", "")),
    (
        "tier_sql",
        "tier",
        lambda s, t: companies.create_company(s, "Tier Co", "free'; DROP TABLE x"),
    ),
    ("tier_long", "tier", lambda s, t: companies.create_company(s, "Tier Co", "pro" * 500)),
    (
        "change_tier_unknown",
        "tier",
        lambda s, t: subscriptions.change_tier(s, t.scope.company_id, "gold", actor="system:test"),
    ),
    (
        "change_tier_actor",
        "actor",
        lambda s, t: subscriptions.change_tier(s, t.scope.company_id, "pro", actor="'; --"),
    ),
    ("email_bad", "email", lambda s, t: users.create_user(s, t.scope, "not-an-email", "Bob")),
    ("email_long", "email", lambda s, t: users.create_user(s, t.scope, "a" * 250 + "@x.io", "Bob")),
    (
        "user_name_sql",
        "name",
        lambda s, t: users.create_user(s, t.scope, "b@x.io", "Bob'; DROP TABLE users"),
    ),
    ("role_unknown", "role", lambda s, t: users.create_user(s, t.scope, "b@x.io", "Bob", "root")),
    (
        "broker_sql",
        "broker",
        lambda s, t: trading.create_broker_account(s, t.scope, t.user_id, "fx'; --", "1"),
    ),
    (
        "account_number_long",
        "account_number",
        lambda s, t: trading.create_broker_account(s, t.scope, t.user_id, "fxcm", "9" * 33),
    ),
    (
        "batch_empty",
        "positions",
        lambda s, t: trading.record_positions(s, t.scope, t.account_id, []),
    ),
    (
        "batch_too_big",
        "positions",
        lambda s, t: trading.record_positions(s, t.scope, t.account_id, [new_position()] * 1001),
    ),
    (
        "symbol_sql",
        "positions[0].symbol",
        lambda s, t: trading.record_positions(
            s, t.scope, t.account_id, _position(symbol="EURUSD';--")
        ),
    ),
    (
        "side_unknown",
        "positions[0].side",
        lambda s, t: trading.record_positions(s, t.scope, t.account_id, _position(side="long")),
    ),
    (
        "volume_float",
        "positions[0].volume",
        lambda s, t: trading.record_positions(s, t.scope, t.account_id, _position(volume=1.5)),
    ),
    (
        "volume_negative",
        "positions[0].volume",
        lambda s, t: trading.record_positions(
            s, t.scope, t.account_id, _position(volume=Decimal("-1"))
        ),
    ),
    (
        "price_too_precise",
        "positions[0].open_price",
        lambda s, t: trading.record_positions(
            s, t.scope, t.account_id, _position(open_price=Decimal("1.123456"))
        ),
    ),
    (
        "price_too_big",
        "positions[0].open_price",
        lambda s, t: trading.record_positions(
            s, t.scope, t.account_id, _position(open_price=Decimal("10000000"))
        ),
    ),
    (
        "opened_naive",
        "positions[0].opened_at",
        lambda s, t: trading.record_positions(
            s, t.scope, t.account_id, _position(opened_at=datetime(2026, 1, 1))
        ),
    ),
    (
        "closed_without_price",
        "positions[0].closed_at",
        lambda s, t: trading.record_positions(s, t.scope, t.account_id, _position(closed_at=T0)),
    ),
    (
        "close_price_text",
        "close_price",
        lambda s, t: trading.close_position(s, t.scope, t.open_position_id, NOT_A_DECIMAL),
    ),
    ("list_limit", "limit", lambda s, t: trading.list_positions(s, t.scope, limit=0)),
    ("list_status", "status", lambda s, t: trading.list_positions(s, t.scope, status="deleted")),
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tenant(store: RelationalStore) -> Tenant:
    """One tenant for the whole matrix: every case must leave it unchanged anyway."""
    return await make_tenant(store)


async def _refused(
    row_counts: Callable[..., Awaitable[RowCounts]],
    tenant: Tenant,
    field: str,
    call: Callable[[], Awaitable[object]],
) -> None:
    before = await row_counts(tenant.scope.company_id)
    with pytest.raises(InvalidArgument) as caught:
        await call()
    assert field in [violation.field for violation in caught.value.violations]
    assert await row_counts(tenant.scope.company_id) == before


@pytest.mark.parametrize(
    ("field", "call", "bad"),
    [
        pytest.param(field, call, bad, id=f"{operation}-{label}")
        for operation, field, call in ID_CASES
        for label, bad in BAD_IDS.items()
        # None is a legitimate "no filter" there, not a bad id.
        if not (operation == "list_positions" and bad is None)
    ],
)
async def test_bad_ids_are_invalid_arguments(
    store: RelationalStore,
    tenant: Tenant,
    row_counts: Callable[..., Awaitable[RowCounts]],
    field: str,
    call: Call,
    bad: object,
) -> None:
    await _refused(row_counts, tenant, field, lambda: call(store, tenant, bad))


@pytest.mark.parametrize(
    ("field", "call"),
    [(field, call) for _, field, call in VALUE_CASES],
    ids=[c[0] for c in VALUE_CASES],
)
async def test_bad_values_are_invalid_arguments(
    store: RelationalStore,
    tenant: Tenant,
    row_counts: Callable[..., Awaitable[RowCounts]],
    field: str,
    call: Callable[[RelationalStore, Tenant], Awaitable[object]],
) -> None:
    await _refused(row_counts, tenant, field, lambda: call(store, tenant))
