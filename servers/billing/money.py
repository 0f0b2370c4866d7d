"""Exact money: integer minor units (cents), one rounding rule, formatting and splits.

Rounding rule, used everywhere a fraction of a cent appears (proration, percentages,
averages): ROUND_HALF_UP on the magnitude, then the sign. 46.205 -> 46.21, a third of
a cent -> 0, -46.205 -> -46.21. Rounding the magnitude makes a credit and the equal
charge cancel exactly; half-up is what a person checking an invoice by hand does.
Splits of a total use the largest-remainder method so the parts add up to the cent.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

Exact = int | Fraction | Decimal
"""A number that is exact: never a float."""

_SYMBOLS = {"USD": "$"}


def _exact(value: Exact, what: str) -> Fraction:
    # bool is an int subclass and float is the very thing we refuse.
    if isinstance(value, bool) or not isinstance(value, int | Fraction | Decimal):
        raise TypeError(f"{what} must be int, Fraction or Decimal, got {type(value).__name__}")
    return Fraction(value)


def round_half_up(value: Exact) -> int:
    """`value` rounded to an integer, ties away from zero (half-up on the magnitude)."""
    exact = _exact(value, "value")
    whole, rest = divmod(abs(exact.numerator), exact.denominator)
    if 2 * rest >= exact.denominator:
        whole += 1
    return -whole if exact < 0 else whole


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in integer minor units of one currency; negative for credits."""

    cents: int
    currency: str = "USD"

    def __post_init__(self) -> None:
        if type(self.cents) is not int:  # refuses float, bool, Decimal: convert explicitly
            raise TypeError(f"Money needs integer cents, got {type(self.cents).__name__}")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"currency must be an ISO 4217 code, got {self.currency!r}")

    @classmethod
    def zero(cls, currency: str = "USD") -> Money:
        """Nothing, in `currency`."""
        return cls(0, currency)

    @classmethod
    def of(cls, value: Exact, currency: str = "USD") -> Money:
        """Money from an exact amount in major units (Decimal("99.00")), rounded half-up."""
        return cls(round_half_up(_exact(value, "amount") * 100), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.cents + other.cents, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.cents - other.cents, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.cents, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.cents), self.currency)

    def scaled(self, factor: Exact) -> Money:
        """This amount times an exact factor (a fraction of a period), rounded half-up."""
        return Money(round_half_up(self.cents * _exact(factor, "factor")), self.currency)

    def percent(self, pct: Exact) -> Money:
        """`pct` percent of this amount, rounded half-up."""
        return self.scaled(_exact(pct, "percent") / 100)

    @property
    def decimal(self) -> Decimal:
        """The amount in major units, exact (Decimal("99.00"))."""
        return Decimal(self.cents).scaleb(-2)

    def format(self) -> str:
        """Display form: "$99.00", "-$46.20", "$1,234.56" (other currencies: "EUR 9.50")."""
        whole, cents = divmod(abs(self.cents), 100)
        symbol = _SYMBOLS.get(self.currency, f"{self.currency} ")
        sign = "-" if self.cents < 0 else ""
        return f"{sign}{symbol}{whole:,}.{cents:02d}"

    def __str__(self) -> str:
        return self.format()


def total(amounts: Iterable[Money], currency: str = "USD") -> Money:
    """The sum of `amounts` (zero when empty)."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


def split(amount: Money, weights: Mapping[K, int]) -> dict[K, Money]:
    """`amount` split in proportion to integer weights; the parts add up to it exactly.

    Largest remainder: every part gets its floor, then the cents left over go one each
    to the largest fractional remainders (ties: the order of `weights`, so callers pass
    a sorted mapping for a deterministic result). All-zero weights split nothing.
    """
    for key, weight in weights.items():
        if type(weight) is not int or weight < 0:
            raise ValueError(f"weight of {key!r} must be a non-negative int, got {weight!r}")
    whole = sum(weights.values())
    if whole == 0:
        return {key: Money.zero(amount.currency) for key in weights}
    sign = -1 if amount.cents < 0 else 1
    magnitude = abs(amount.cents)
    floors: dict[K, int] = {}
    remainders: list[tuple[int, int, K]] = []
    for index, (key, weight) in enumerate(weights.items()):
        floors[key], rest = divmod(magnitude * weight, whole)
        remainders.append((-rest, index, key))
    left = magnitude - sum(floors.values())
    for _, _, key in sorted(remainders)[:left]:
        floors[key] += 1
    return {key: Money(sign * cents, amount.currency) for key, cents in floors.items()}
