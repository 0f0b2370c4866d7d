"""The relational layer's pure parts: input validation, scopes and column types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from mesh.errors import InvalidArgument
from mesh.tiers import Tier
from servers.storage.relational import validation
from servers.storage.relational.scope import TenantScope, tenant_schema_name
from servers.storage.relational.types import ExactDecimal, UTCDateTime


def test_validator_collects_every_violation() -> None:
    check = validation.Validator()
    check.company_id("", "company_id")
    check.tier("gold")
    check.email("nope")
    with pytest.raises(InvalidArgument) as caught:
        check.check()
    assert [v.field for v in caught.value.violations] == ["company_id", "tier", "email"]


@pytest.mark.parametrize("value", ["Free", " PRO ", Tier.ENTERPRISE])
def test_tiers_parse_case_insensitively(value: object) -> None:
    check = validation.Validator()
    assert check.tier(value) in set(Tier)
    check.check()


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (Decimal("1.25"), True),
        ("0.01", True),
        (Decimal("1.255"), False),
        (1.25, False),
        (True, False),
        (Decimal("NaN"), False),
        (Decimal("0"), False),
        ("1e3", True),
        (Decimal("9999999999.99"), True),
        (Decimal("10000000000"), False),
    ],
)
def test_decimals_are_exact(value: object, ok: bool) -> None:
    check = validation.Validator()
    check.decimal(value, "volume", digits=12, places=2)
    assert (not check.violations) is ok


def test_scope_refuses_anything_but_a_company_id() -> None:
    assert TenantScope("0123456789ab").schema == "tenant_0123456789ab"
    for bad in ("", "tenant_x", "0123456789AB", "0123456789ab; --"):
        with pytest.raises(InvalidArgument):
            TenantScope(bad)
    with pytest.raises(ValueError):
        tenant_schema_name('x"; DROP SCHEMA public; --')


def test_utc_datetime_normalizes_per_dialect() -> None:
    column = UTCDateTime()
    plus_two = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    on_sqlite = column.process_bind_param(plus_two, sqlite.dialect())
    assert on_sqlite == datetime(2026, 1, 1, 12, 0)
    assert column.process_result_value(on_sqlite, sqlite.dialect()) == plus_two
    assert column.process_bind_param(plus_two, postgresql.dialect()) == plus_two
    with pytest.raises(ValueError):
        column.process_bind_param(datetime(2026, 1, 1), sqlite.dialect())
    assert column.process_result_value(plus_two, postgresql.dialect()).tzinfo is UTC  # type: ignore[union-attr]


def test_exact_decimal_is_a_scaled_integer_on_sqlite() -> None:
    column = ExactDecimal(12, 5)
    assert column.process_bind_param(Decimal("1.08123"), sqlite.dialect()) == 108123
    assert column.process_result_value(108123, sqlite.dialect()) == Decimal("1.08123")
    assert column.process_bind_param(Decimal("1.5"), postgresql.dialect()) == Decimal("1.5")
    with pytest.raises(ValueError):
        column.process_bind_param(Decimal("1.000001"), sqlite.dialect())
