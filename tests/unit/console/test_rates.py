"""RateMeter: ticks/s per tier from cumulative per-(bridge, company) totals."""

from __future__ import annotations

from console.rates import RateMeter

TIERS = {"a": "free", "b": "pro", "c": "enterprise"}


def test_the_first_reading_gives_no_rate_yet() -> None:
    meter = RateMeter()
    assert meter.update(10.0, {("br1", "a"): 500}, TIERS) == {
        "free": 0.0,
        "pro": 0.0,
        "enterprise": 0.0,
    }


def test_rates_are_summed_per_tier_across_bridges_and_companies() -> None:
    meter = RateMeter()
    meter.update(10.0, {("br1", "a"): 0, ("br1", "b"): 0, ("br2", "b"): 100}, TIERS)
    rates = meter.update(12.0, {("br1", "a"): 10, ("br1", "b"): 200, ("br2", "b"): 300}, TIERS)
    assert rates == {"free": 5.0, "pro": 200.0, "enterprise": 0.0}
    assert meter.by_instance == {"br1": 105.0, "br2": 100.0}  # per Bridge, every tier


def test_a_restarted_bridge_counts_from_zero_not_negative() -> None:
    meter = RateMeter()
    meter.update(0.0, {("br1", "c"): 1000}, TIERS)
    assert meter.update(1.0, {("br1", "c"): 40}, TIERS)["enterprise"] == 40.0


def test_a_company_of_unknown_tier_is_left_out() -> None:
    meter = RateMeter()
    meter.update(0.0, {("br1", "zz"): 0}, TIERS)
    assert sum(meter.update(1.0, {("br1", "zz"): 9}, TIERS).values()) == 0.0
