"""Validates one quote: symbol, prices, spread sanity, broker name, timestamp → a reason or None."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from servers.ingestion.quote import RawQuote
from servers.ingestion.symbols import BROKERS, UNIVERSE, SymbolSpec

_SYMBOL = re.compile(r"[A-Z]{6}")
# A broker name the mesh has not seen before (a sidecar's) must still be a sane identifier:
# it ends up in ticks, metrics and status, so free text is refused.
_BROKER = re.compile(r"[a-z][a-z0-9_]{1,31}")


@dataclass(frozen=True, slots=True)
class ValidationRules:
    """The tolerances of validate_quote."""

    max_future_skew_us: int = 2_000_000
    """A broker clock may run this far ahead of ours before its quotes are refused."""
    max_age_us: int = 60_000_000
    """Quotes older than this are history, not market data."""
    max_spread_factor: float = 50.0
    """A spread wider than this many typical spreads is a broken quote, not a wide market."""


def validate_quote(
    quote: RawQuote,
    now_us: int,
    rules: ValidationRules = ValidationRules(),
    universe: Mapping[str, SymbolSpec] = UNIVERSE,
) -> str | None:
    """Why `quote` is refused, or None when it is acceptable."""
    symbol = quote.symbol
    if not symbol:
        return "missing symbol"
    if not _SYMBOL.fullmatch(symbol):
        return f"malformed symbol {symbol[:20]!r}: expected six upper-case letters"
    spec = universe.get(symbol)
    if spec is None:
        return f"unknown symbol {symbol}"
    broker = quote.broker
    if not broker:
        return "missing broker"
    if not is_broker_name(broker):
        return f"malformed broker name {broker[:40]!r}: expected [a-z][a-z0-9_]{{1,31}}"
    for side, price in (("bid", quote.bid), ("ask", quote.ask)):
        if not math.isfinite(price):
            return f"{side} is not a finite number"
        if price <= 0:
            return f"{side} must be positive, got {price}"
    if quote.ask < quote.bid:
        return f"ask below bid ({quote.ask} < {quote.bid})"
    spread_pips = (quote.ask - quote.bid) / spec.pip_size
    max_pips = spec.typical_spread_pips * rules.max_spread_factor
    if spread_pips > max_pips:
        return f"spread {spread_pips:.1f} pips exceeds the sane maximum {max_pips:g} for {symbol}"
    for side, size in (("bid_size", quote.bid_size), ("ask_size", quote.ask_size)):
        if not (math.isfinite(size) and size >= 0):
            return f"{side} must be a finite non-negative number"
    ahead = quote.broker_time_us - now_us
    if ahead > rules.max_future_skew_us:
        return f"broker_time_us is {ahead / 1e6:.3f} s in the future"
    if -ahead > rules.max_age_us:
        return f"broker_time_us is {-ahead / 1e6:.3f} s old"
    return None


def is_broker_name(broker: str) -> bool:
    """True for a known broker or a well-formed new one."""
    return broker in BROKERS or _BROKER.fullmatch(broker) is not None
