"""validate_quote: one reason per kind of bad quote, None for good ones."""

from __future__ import annotations

import math

import pytest

from servers.ingestion.quote import RawQuote
from servers.ingestion.validation import ValidationRules, validate_quote

NOW = 1_700_000_000_000_000
GOOD = RawQuote("EURUSD", 1.08500, 1.08502, "ic_markets", NOW - 2_000, 1e6, 1e6)


def test_a_good_quote_passes() -> None:
    assert validate_quote(GOOD, NOW) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"symbol": ""}, "missing symbol"),
        ({"symbol": "eurusd"}, "malformed symbol 'eurusd'"),
        ({"symbol": "EUR/USD"}, "malformed symbol"),
        ({"symbol": "EURUSDX"}, "malformed symbol"),
        ({"symbol": "ABCDEF"}, "unknown symbol ABCDEF"),
        ({"broker": ""}, "missing broker"),
        ({"broker": "Broker X!"}, "malformed broker name"),
        ({"bid": math.nan}, "bid is not a finite number"),
        ({"ask": math.inf}, "ask is not a finite number"),
        ({"bid": -1.0}, "bid must be positive"),
        ({"bid": 0.0}, "bid must be positive"),
        ({"ask": 1.08400}, "ask below bid"),
        ({"ask": 1.10000}, "spread 150.0 pips exceeds the sane maximum 10"),
        ({"bid_size": -5.0}, "bid_size must be a finite non-negative number"),
        ({"ask_size": math.nan}, "ask_size must be a finite non-negative number"),
        ({"broker_time_us": NOW + 3_000_000}, "broker_time_us is 3.000 s in the future"),
        ({"broker_time_us": NOW - 61_000_000}, "broker_time_us is 61.000 s old"),
    ],
)
def test_bad_quotes_are_refused_with_a_reason(changes: dict[str, object], reason: str) -> None:
    got = validate_quote(GOOD._replace(**changes), NOW)
    assert got is not None and got.startswith(reason), got


@pytest.mark.parametrize(
    "changes",
    [
        {"broker": "sidecar_x"},  # unknown but well-formed brokers are welcome
        {"ask": GOOD.bid},  # a locked book is legal
        {"bid_size": 0.0, "ask_size": 0.0},  # sizes unknown
        {"broker_time_us": NOW + 1_500_000},  # within the clock skew allowed
        {"symbol": "USDJPY", "bid": 150.512, "ask": 150.515},
        {"symbol": "XAUUSD", "bid": 2350.10, "ask": 2350.35},
    ],
)
def test_edge_cases_that_pass(changes: dict[str, object]) -> None:
    assert validate_quote(GOOD._replace(**changes), NOW) is None


def test_rules_are_tunable() -> None:
    strict = ValidationRules(max_future_skew_us=0, max_age_us=1_000)
    assert validate_quote(GOOD, NOW, strict) == "broker_time_us is 0.002 s old"
    assert validate_quote(GOOD._replace(broker_time_us=NOW + 1), NOW, strict) is not None
