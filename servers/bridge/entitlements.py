"""Which requested symbols a tier gets: input validation, universe check, tier entitlement.

Order of refusals: malformed input first (INVALID_ARGUMENT: empty, too many, malformed,
duplicate, unknown), then entitlement (PERMISSION_DENIED naming the cheapest tier that
would allow every refused symbol), so a client fixes its request before being upsold.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from mesh.errors import FieldViolation, InvalidArgument, PermissionDenied
from mesh.tiers import Tier, cheapest_tier_with_symbol, limits

MAX_SYMBOLS = 500
SYMBOL_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9._-]{1,23}")
"""Upper-case instrument names, e.g. EURUSD, XAUUSD, US30."""

_FIELD = "symbols"
_NAMED_AT_MOST = 10  # symbols named in one error message; the rest are counted


@dataclass(frozen=True, slots=True)
class Universe:
    """The symbols the aggregator knows (from Ingestion.ListSymbols)."""

    symbols: frozenset[str]

    @classmethod
    def of(cls, symbols: Iterable[str]) -> Universe:
        """A universe of `symbols`."""
        return cls(frozenset(symbols))

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.symbols


@dataclass(frozen=True, slots=True)
class Refusal:
    """A requested symbol left out of a best-effort subscription."""

    symbol: str
    reason: str
    required_tier: Tier | None


@dataclass(frozen=True, slots=True)
class Grant:
    """The outcome of resolving a subscription request for a tier."""

    tier: Tier
    symbols: tuple[str, ...]  # granted, in request order
    refused: tuple[Refusal, ...]  # best effort only


def resolve(
    requested: Sequence[str], tier: Tier, universe: Universe, *, best_effort: bool = False
) -> Grant:
    """Grant `requested` for `tier`, or raise InvalidArgument / PermissionDenied.

    In best effort, unknown symbols are left out (with a suggestion) like symbols outside
    the tier, as long as something is left to grant."""
    _validate(requested, universe)
    unknown = [s for s in requested if s not in universe]
    known = [s for s in requested if s in universe]
    if unknown and not (best_effort and known):
        hints = [
            f"{s!r}: did you mean {', '.join(m)}?" for s in unknown if (m := suggest(s, universe))
        ]
        _invalid(
            f"unknown symbol {_list(unknown)}" + (f" ({'; '.join(hints)})" if hints else ""),
            f"unknown: {_list(unknown)}" + (f"; {'; '.join(hints)}" if hints else ""),
        )
    left_out = tuple(Refusal(s, _unknown_reason(s, universe), None) for s in unknown)
    tier_limits = limits(tier)
    granted = tuple(s for s in known if tier_limits.allows_symbol(s))
    outside = [s for s in known if not tier_limits.allows_symbol(s)]
    if not outside:
        return Grant(tier, granted, left_out)
    required = {s: cheapest_tier_with_symbol(s) for s in outside}
    if best_effort and granted:
        refused = tuple(
            Refusal(s, f"not in tier {tier.value}; tier {_name(required[s])} includes it",
                    required[s])
            for s in outside
        )  # fmt: skip
        return Grant(tier, granted, refused + left_out)
    # The tier that would allow every refused symbol is the richest of their cheapest.
    needed = max(
        (t for t in required.values() if t is not None),
        key=lambda t: t.rank,
        default=Tier.ENTERPRISE,
    )
    why = "none of the requested symbols is" if best_effort else "not every requested symbol is"
    raise PermissionDenied(
        f"{why} in the {tier.value} tier: {_list(outside)} requires the {needed.value} tier",
        required_tier=needed.value,
        metadata={"tier": tier.value, "symbols": ",".join(outside[:_NAMED_AT_MOST])},
    )


def _validate(requested: Sequence[str], universe: Universe) -> None:
    if not requested:
        _invalid("at least one symbol is required", "must not be empty")
    if len(requested) > MAX_SYMBOLS:
        _invalid(
            f"at most {MAX_SYMBOLS} symbols per subscription, got {len(requested)}",
            f"at most {MAX_SYMBOLS} symbols",
        )
    malformed = [s for s in requested if not SYMBOL_PATTERN.fullmatch(s)]
    if malformed:
        _invalid(
            f"malformed symbol {_list(malformed)}: symbols are 2-24 upper-case letters,"
            " digits, '.', '_' or '-', e.g. EURUSD",
            f"malformed: {_list(malformed)}",
        )
    duplicates = [s for s, n in Counter(requested).items() if n > 1]
    if duplicates:
        _invalid(f"duplicate symbol {_list(duplicates)}", f"duplicates: {_list(duplicates)}")


def suggest(symbol: str, universe: Universe) -> list[str]:
    """The known symbol closest to a mistyped one (EURUDS -> EURUSD), if any is close."""
    return difflib.get_close_matches(symbol, sorted(universe.symbols), n=1, cutoff=0.6)


def _unknown_reason(symbol: str, universe: Universe) -> str:
    close = suggest(symbol, universe)
    return "unknown symbol" + (f"; did you mean {', '.join(close)}?" if close else "")


def _invalid(message: str, description: str) -> NoReturn:
    raise InvalidArgument(f"{_FIELD}: {message}", violations=[FieldViolation(_FIELD, description)])


def _list(symbols: Sequence[str]) -> str:
    named = ", ".join(repr(s) for s in symbols[:_NAMED_AT_MOST])
    more = len(symbols) - _NAMED_AT_MOST
    return f"{named} (and {more} more)" if more > 0 else named


def _name(tier: Tier | None) -> str:
    return tier.value if tier is not None else "none"
