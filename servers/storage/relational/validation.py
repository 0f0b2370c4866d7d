"""Strict checks on every id, name and value that comes from outside, run before any SQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from mesh.errors import FieldViolation, InvalidArgument
from mesh.tiers import Tier
from servers.storage.relational.tables import COMPANY_ID_LEN, ENTITY_ID_LEN

T = TypeVar("T")

COMPANY_ID = re.compile(rf"[0-9a-f]{{{COMPANY_ID_LEN}}}")
ENTITY_ID = re.compile(rf"[0-9a-f]{{{ENTITY_ID_LEN}}}")
# Names are free text for humans, but never control characters, quotes-and-semicolons
# or backslashes: nothing a name legitimately needs, and everything an injection does.
NAME = re.compile(r"[\w][\w .,&'()+/-]*", re.UNICODE)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
SYMBOL = re.compile(r"[A-Z0-9]{3,12}(\.[A-Za-z0-9]{1,6})?")
BROKER = re.compile(r"[a-z][a-z0-9_]{1,31}")
ACCOUNT_NUMBER = re.compile(r"[A-Za-z0-9-]{1,32}")
CURRENCY = re.compile(r"[A-Z]{3}")
ACTION = re.compile(r"[a-z_]+(\.[a-z_]+)*")
ACTOR = re.compile(r"[a-z][a-z_]{0,15}(:[A-Za-z0-9_.@-]{1,64})?")

ROLES = ("owner", "admin", "member")
SIDES = ("buy", "sell")
ACCOUNT_TYPES = ("demo", "live")


class Validator:
    """Collects every field violation of one request, then raises them together."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def fail(self, field: str, description: str) -> None:
        """Record one violation."""
        self.violations.append(FieldViolation(field, description))

    def check(self) -> None:
        """Raise InvalidArgument naming every violated field, if any."""
        if self.violations:
            fields = ", ".join(v.field for v in self.violations)
            raise InvalidArgument(f"invalid {fields}", violations=self.violations)

    def text(
        self, field: str, value: object, pattern: re.Pattern[str], max_len: int, what: str
    ) -> str:
        """A string matching `pattern` entirely, 1..max_len characters long."""
        if not isinstance(value, str) or not value:
            self.fail(field, "must not be empty")
            return ""
        if len(value) > max_len:
            self.fail(field, f"must be at most {max_len} characters")
            return ""
        if not pattern.fullmatch(value):
            self.fail(field, f"must be {what}")
            return ""
        return value

    def company_id(self, value: object, field: str = "company_id") -> str:
        """A server-generated company id: 12 lowercase hex characters."""
        return self.text(field, value, COMPANY_ID, COMPANY_ID_LEN, "12 lowercase hex characters")

    def entity_id(self, value: object, field: str) -> str:
        """A server-generated tenant entity id: 16 lowercase hex characters."""
        return self.text(field, value, ENTITY_ID, ENTITY_ID_LEN, "16 lowercase hex characters")

    def name(self, value: object, field: str = "name", max_len: int = 100) -> str:
        """A human-readable name, stripped of surrounding spaces."""
        stripped = value.strip() if isinstance(value, str) else value
        return self.text(field, stripped, NAME, max_len, "letters, digits, spaces and .,&'()+/-")

    def email(self, value: object, field: str = "email") -> str:
        """An email address, lower-cased so uniqueness is case-insensitive."""
        found = self.text(field, value, EMAIL, 254, "an email address")
        return found.lower()

    def choice(self, value: object, field: str, choices: tuple[str, ...]) -> str:
        """One of a fixed set of lower-case words."""
        if not isinstance(value, str) or value not in choices:
            self.fail(field, f"must be one of {', '.join(choices)}")
            return ""
        return value

    def tier(self, value: object, field: str = "tier") -> Tier | None:
        """A tier name (free, pro, enterprise), case-insensitively."""
        if isinstance(value, Tier):
            return value
        if not isinstance(value, str) or not value or len(value) > 32:
            self.fail(field, "must be one of free, pro, enterprise")
            return None
        try:
            return Tier.parse(value)
        except ValueError as exc:
            self.fail(field, str(exc))
            return None

    def decimal(
        self, value: object, field: str, *, digits: int, places: int, positive: bool = True
    ) -> Decimal:
        """An exact decimal with at most `places` decimals and `digits` significant digits."""
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value))
        except (InvalidOperation, ValueError):
            self.fail(field, "must be a decimal number")
            return Decimal(0)
        if isinstance(value, float | bool) or not number.is_finite():
            # Floats are refused outright: their binary value is not the decimal the user meant.
            self.fail(field, "must be an exact decimal (string or Decimal), not a float")
            return Decimal(0)
        if positive and number <= 0:
            self.fail(field, "must be positive")
        exponent = number.as_tuple().exponent
        assert isinstance(exponent, int)  # finite, checked above
        if exponent < -places:
            self.fail(field, f"must have at most {places} decimal places")
        elif abs(number) >= Decimal(10) ** (digits - places):
            self.fail(field, f"must be below {Decimal(10) ** (digits - places)}")
        return number

    def aware(self, value: object, field: str) -> datetime:
        """An aware datetime (naive ones have no defined instant)."""
        if not isinstance(value, datetime) or value.tzinfo is None:
            self.fail(field, "must be a time-zone-aware datetime")
            return datetime.min
        return value

    def count(self, value: object, field: str, *, low: int, high: int) -> int:
        """An integer in low..high."""
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.fail(field, f"must be an integer from {low} to {high}")
            return low
        return value

    def each(self, field: str, values: list[T], check: Callable[[str, T], None]) -> None:
        """Run `check(f"{field}[i]", value)` on every element."""
        for index, value in enumerate(values):
            check(f"{field}[{index}]", value)


def company_id(value: object, field: str = "company_id") -> str:
    """Validate one company id or raise InvalidArgument."""
    check = Validator()
    found = check.company_id(value, field)
    check.check()
    return found


def entity_id(value: object, field: str) -> str:
    """Validate one tenant entity id or raise InvalidArgument."""
    check = Validator()
    found = check.entity_id(value, field)
    check.check()
    return found


def actor(value: object, field: str = "actor") -> str:
    """Validate an audit actor such as `user:<id>` or `system:billing`."""
    check = Validator()
    found = check.text(field, value, ACTOR, 81, "kind[:id], e.g. user:<id> or system:billing")
    check.check()
    return found
