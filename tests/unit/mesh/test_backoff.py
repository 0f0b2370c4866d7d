"""The shared reconnect backoff: exponential ceilings, jitter below the cap, never above max."""

from __future__ import annotations

import random

import pytest

from mesh.backoff import Backoff


def test_each_delay_lies_between_its_jittered_floor_and_its_ceiling() -> None:
    backoff = Backoff(initial_s=0.2, max_s=10.0, multiplier=3.0, jitter=0.4)
    rng = random.Random(7)
    for attempt in range(8):
        ceiling = min(10.0, 0.2 * 3.0**attempt)
        assert backoff.ceiling(attempt) == ceiling
        delays = {backoff.delay(attempt, rng) for _ in range(50)}
        assert all(0.6 * ceiling <= d <= ceiling for d in delays)
        assert len(delays) > 1


def test_no_jitter_waits_the_ceiling_and_huge_attempts_wait_the_max() -> None:
    assert Backoff(initial_s=0.5, jitter=0.0).delay(1) == 1.0
    assert Backoff(max_s=3.0).delay(100_000) <= 3.0  # no OverflowError past float range


@pytest.mark.parametrize("jitter", [-0.1, 1.5])
def test_jitter_outside_zero_to_one_is_refused(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        Backoff(jitter=jitter)
