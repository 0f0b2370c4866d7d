"""Passive outlier ejection on a fake clock: threshold, back-off, cap, return."""

from __future__ import annotations

from servers.hub.outliers import OutlierDetector, OutlierPolicy


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


PEERS = ["a", "b", "c", "d"]


def detector(clock: Clock, changes: list[str] | None = None) -> OutlierDetector:
    return OutlierDetector(
        OutlierPolicy(failures_to_eject=3, base_ejection_s=5, max_ejection_s=12,
                      max_ejected_percent=50),
        clock=clock,
        on_change=changes.append if changes is not None else None,
    )  # fmt: skip


def test_consecutive_failures_eject_for_a_growing_back_off() -> None:
    clock, changes = Clock(), list[str]()
    outliers = detector(clock, changes)
    assert not outliers.report_failure("a", PEERS)
    outliers.report_success("a")  # the run is broken
    assert not outliers.report_failure("a", PEERS)
    assert not outliers.report_failure("a", PEERS)
    assert outliers.report_failure("a", PEERS)  # third in a row
    assert outliers.is_ejected("a") and changes == ["a"]
    clock.t = 4.9
    assert outliers.is_ejected("a")
    clock.t = 5.0
    assert not outliers.is_ejected("a") and changes == ["a", "a"]  # back by itself
    for _ in range(3):
        outliers.report_failure("a", PEERS)
    clock.t = 14.9  # the second ejection lasts twice as long
    assert outliers.is_ejected("a")
    clock.t = 15.0
    assert not outliers.is_ejected("a")
    for _ in range(3):
        outliers.report_failure("a", PEERS)
    clock.t = 15.0 + 12  # capped at max_ejection_s
    assert not outliers.is_ejected("a")


def test_at_most_the_cap_is_ejected() -> None:
    clock = Clock()
    outliers = detector(clock)
    for peer in PEERS:
        for _ in range(3):
            outliers.report_failure(peer, PEERS)
    assert outliers.ejected() == ["a", "b"]  # 50 % of 4
    # A lone instance is never ejected: there would be nothing left.
    for _ in range(5):
        assert not outliers.report_failure("solo", ["solo"])


def test_the_back_off_multiplier_decays_after_good_behaviour() -> None:
    clock = Clock()
    outliers = detector(clock)
    for _ in range(3):
        outliers.report_failure("a", PEERS)
    clock.t = 100.0
    outliers.report_success("a")
    for _ in range(3):
        outliers.report_failure("a", PEERS)
    clock.t = 105.0  # base length again, not doubled
    assert not outliers.is_ejected("a")


def test_forget_drops_history() -> None:
    clock = Clock()
    outliers = detector(clock)
    for _ in range(3):
        outliers.report_failure("a", PEERS)
    outliers.forget("a")
    assert not outliers.is_ejected("a")
