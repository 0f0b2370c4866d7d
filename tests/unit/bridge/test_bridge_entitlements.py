"""Entitlement matrix: input errors, unknown symbols, tier refusals, best effort."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from mesh.errors import InvalidArgument, MeshError, PermissionDenied
from mesh.tiers import FREE_SYMBOLS, MAJOR_PAIRS, Tier
from servers.bridge.entitlements import MAX_SYMBOLS, Refusal, Universe, resolve

EXOTIC = "USDTRY"  # in the universe, enterprise only
UNIVERSE = Universe.of([*MAJOR_PAIRS, EXOTIC, "XAUUSD"])


def _bad_request(error: MeshError) -> error_details_pb2.BadRequest:
    return next(d for d in error.details() if isinstance(d, error_details_pb2.BadRequest))


@pytest.mark.parametrize(
    ("symbols", "fragment"),
    [
        ([], "at least one symbol"),
        ([f"S{i:05d}" for i in range(MAX_SYMBOLS + 1)], "at most 500"),
        (["EURUSD", "eurusd"], "malformed symbol 'eurusd'"),
        (["EURUSD", "EUR USD"], "malformed"),
        (["EURUSD", ""], "malformed"),
        (["EURUSD", "GBPUSD", "EURUSD"], "duplicate symbol 'EURUSD'"),
        (["EURUSD", "ABCDEF"], "unknown symbol 'ABCDEF'"),
    ],
)
def test_invalid_requests_name_the_symbols_field(symbols: list[str], fragment: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        resolve(symbols, Tier.ENTERPRISE, UNIVERSE)
    assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in caught.value.message
    violations = _bad_request(caught.value).field_violations
    assert [v.field for v in violations] == ["symbols"]


def test_input_errors_come_before_tier_refusals() -> None:
    # A free caller sending an unknown symbol and a pro symbol hears about the typo.
    with pytest.raises(InvalidArgument, match="unknown symbol 'ABCDEF'"):
        resolve(["USDCHF", "ABCDEF"], Tier.FREE, UNIVERSE)


def test_unknown_symbol_is_left_out_with_its_reason_in_best_effort() -> None:
    result = resolve(["EURUSD", "EURUDS", "GBPUSD"], Tier.FREE, UNIVERSE, best_effort=True)
    assert result.symbols == ("EURUSD", "GBPUSD")
    assert [(r.symbol, r.reason) for r in result.refused] == [
        ("EURUDS", "unknown symbol; did you mean EURUSD?")
    ]


def test_only_unknown_symbols_are_invalid_even_with_best_effort() -> None:
    with pytest.raises(InvalidArgument, match="ABCDEF"):
        resolve(["ABCDEF"], Tier.FREE, UNIVERSE, best_effort=True)


def test_a_mistyped_symbol_gets_did_you_mean() -> None:
    with pytest.raises(InvalidArgument) as caught:
        resolve(["EURUDS"], Tier.FREE, UNIVERSE)
    assert "did you mean EURUSD?" in str(caught.value)
    assert "did you mean EURUSD?" in _bad_request(caught.value).field_violations[0].description


@pytest.mark.parametrize(
    ("tier", "symbols", "granted"),
    [
        (Tier.FREE, list(FREE_SYMBOLS), FREE_SYMBOLS),
        (Tier.PRO, list(MAJOR_PAIRS), MAJOR_PAIRS),
        (Tier.ENTERPRISE, [*MAJOR_PAIRS, EXOTIC], (*MAJOR_PAIRS, EXOTIC)),
    ],
)
def test_each_tier_gets_its_symbols_in_request_order(
    tier: Tier, symbols: list[str], granted: tuple[str, ...]
) -> None:
    result = resolve(list(reversed(symbols)), tier, UNIVERSE)
    assert result.symbols == tuple(reversed(granted))
    assert result.refused == ()
    assert result.tier is tier


@pytest.mark.parametrize(
    ("tier", "symbols", "required"),
    [
        (Tier.FREE, ["EURUSD", "USDCHF"], Tier.PRO),  # a major pair: pro has it
        (Tier.FREE, ["EURUSD", EXOTIC], Tier.ENTERPRISE),
        (Tier.FREE, ["USDCHF", EXOTIC], Tier.ENTERPRISE),  # the tier that allows both
        (Tier.PRO, ["EURUSD", EXOTIC], Tier.ENTERPRISE),
    ],
)
def test_symbols_outside_the_tier_name_the_cheapest_tier(
    tier: Tier, symbols: list[str], required: Tier
) -> None:
    with pytest.raises(PermissionDenied) as caught:
        resolve(symbols, tier, UNIVERSE)
    assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.required_tier == required.value
    assert caught.value.metadata["required_tier"] == required.value
    assert f"requires the {required.value} tier" in caught.value.message


def test_best_effort_leaves_out_and_lists_refused_symbols() -> None:
    result = resolve(["EURUSD", "USDCHF", EXOTIC, "GBPUSD"], Tier.FREE, UNIVERSE, best_effort=True)
    assert result.symbols == ("EURUSD", "GBPUSD")
    assert [(r.symbol, r.required_tier) for r in result.refused] == [
        ("USDCHF", Tier.PRO),
        (EXOTIC, Tier.ENTERPRISE),
    ]
    assert all(isinstance(r, Refusal) and "not in tier free" in r.reason for r in result.refused)


def test_best_effort_with_nothing_left_is_still_refused() -> None:
    with pytest.raises(PermissionDenied) as caught:
        resolve(["USDCHF"], Tier.FREE, UNIVERSE, best_effort=True)
    assert caught.value.required_tier == "pro"
