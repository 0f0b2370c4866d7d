"""Money: integer cents only, half-up rounding, formatting and exact splits."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest

from servers.billing.money import Money, round_half_up, split, total


@pytest.mark.parametrize("bad", [1.5, 99.0, True, Decimal("1"), "100", None])
def test_money_refuses_anything_but_int_cents(bad: object) -> None:
    with pytest.raises(TypeError):
        Money(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0.5, 1e-2, True])
def test_scaling_refuses_floats(bad: object) -> None:
    with pytest.raises(TypeError):
        Money(9900).scaled(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(9900).percent(bad)  # type: ignore[arg-type]


def test_money_refuses_mixed_currencies_and_non_money() -> None:
    with pytest.raises(ValueError):
        _ = Money(1, "USD") + Money(1, "EUR")
    with pytest.raises(TypeError):
        _ = Money(1) + 1  # type: ignore[operator]
    with pytest.raises(ValueError):
        Money(1, "usd")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(1, 3), 0),  # a third of a cent is dropped
        (Fraction(2, 3), 1),
        (Fraction(1, 2), 1),  # ties go up (away from zero), not to even
        (Fraction(5, 2), 3),  # banker's rounding would give 2
        (Fraction(-1, 2), -1),  # the magnitude is rounded, then the sign applied
        (Fraction(-1, 3), 0),
        (Decimal("46.205"), 46),
        (7, 7),
    ],
)
def test_round_half_up(value: Fraction | Decimal | int, expected: int) -> None:
    assert round_half_up(value) == expected


def test_scaling_rounds_each_amount_half_up() -> None:
    # enterprise $499.00 for 1 of 30 days: 49900 / 30 = 1663.33 cents -> $16.63
    assert Money(49900).scaled(Fraction(1, 30)) == Money(1663)
    # 2 of 30 days: 3326.67 cents -> $33.27
    assert Money(49900).scaled(Fraction(2, 30)) == Money(3327)
    # a credit rounds like the charge it cancels: -1663.33 -> -1663
    assert Money(-49900).scaled(Fraction(1, 30)) == Money(-1663)
    # 10 % of $0.05 = 0.5 cent -> 1 cent (half-up)
    assert Money(5).percent(10) == Money(1)
    assert Money(9900).percent(Decimal("12.5")) == Money(1238)  # 1237.5 -> 1238


def test_of_reads_major_units_exactly() -> None:
    assert Money.of(Decimal("99.00")) == Money(9900)
    assert Money.of(Decimal("99.005")) == Money(9901)  # 9900.5 cents, half-up
    with pytest.raises(TypeError):
        Money.of(99.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cents", "text"),
    [(9900, "$99.00"), (-4620, "-$46.20"), (123456, "$1,234.56"), (0, "$0.00"), (-1, "-$0.01")],
)
def test_format(cents: int, text: str) -> None:
    assert Money(cents).format() == text == str(Money(cents))


def test_format_other_currency_and_decimal_view() -> None:
    assert Money(950, "EUR").format() == "EUR 9.50"
    assert Money(-4620).decimal == Decimal("-46.20")


def test_split_adds_up_to_the_cent() -> None:
    # $499.00 in three equal shares: 16633.33 cents each; the 1 cent left goes to the first
    parts = split(Money(49900), {"bridge": 1, "ingestion": 1, "storage": 1})
    assert parts == {"bridge": Money(16634), "ingestion": Money(16633), "storage": Money(16633)}
    # $1.00 as 1:1:1:1:1:1 -> 16.67 cents each: 16 each, 4 cents to the first four
    six = split(Money(100), {k: 1 for k in "abcdef"})
    assert [m.cents for m in six.values()] == [17, 17, 17, 17, 16, 16]
    # largest remainder wins, not order: 10 cents as 7:2:1 of 10 -> 7, 2, 1 exact
    assert split(Money(10), {"x": 1, "y": 2, "z": 7}) == {
        "x": Money(1),
        "y": Money(2),
        "z": Money(7),
    }
    # 10 cents as 1:1:4 -> 1.67, 1.67, 6.67: floors 1,1,6 (8), 2 left to the largest remainders
    assert [m.cents for m in split(Money(10), {"a": 1, "b": 1, "c": 4}).values()] == [2, 2, 6]


def test_split_of_a_credit_and_of_nothing() -> None:
    assert split(Money(-100), {"a": 1, "b": 2}) == {"a": Money(-33), "b": Money(-67)}
    assert split(Money(100), {"a": 0}) == {"a": Money(0)}
    with pytest.raises(ValueError):
        split(Money(100), {"a": -1})


def test_random_splits_always_sum_to_the_total() -> None:
    rng = random.Random(7)
    for _ in range(500):
        amount = Money(rng.randrange(-(10**7), 10**7))
        weights = {f"s{i}": rng.randrange(0, 10**6) for i in range(rng.randrange(1, 8))}
        parts = split(amount, weights)
        if any(weights.values()):
            assert total(parts.values()) == amount
        assert all(type(m.cents) is int for m in parts.values())
