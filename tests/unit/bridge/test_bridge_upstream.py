"""Upstream pieces without a network: sequence de-duplication and reconnect backoff."""

from __future__ import annotations

import random

from tickmesh.common.v1 import market_pb2

from mesh.backoff import Backoff
from servers.bridge.upstream import SequenceTracker
from tests.unit.bridge.helpers import tick


def _batch(*seqs: int) -> market_pb2.TickBatch:
    return market_pb2.TickBatch(
        ticks=[tick("EURUSD", s) for s in seqs], first_seq=seqs[0], last_seq=seqs[-1]
    )


def test_tracker_passes_new_batches_and_drops_repeats() -> None:
    tracker = SequenceTracker()
    accepted = tracker.accept(_batch(1, 2, 3))
    assert accepted is not None and (accepted[1], accepted[2]) == (1, 3)
    assert tracker.accept(_batch(2, 3)) is None  # a resumed stream replaying old news
    overlap = tracker.accept(_batch(2, 3, 4, 5))
    assert overlap is not None
    ticks, first, last = overlap
    assert [t.sequence for t in ticks] == [4, 5] and (first, last) == (4, 5)
    assert tracker.last_seq == 5 and tracker.duplicates == 4


def test_tracker_clips_gaps_to_what_is_new() -> None:
    tracker = SequenceTracker()
    tracker.accept(_batch(1, 2, 3))
    assert tracker.gap(1, 2) is None
    assert tracker.gap(2, 9) == (4, 9)
    assert tracker.last_seq == 9


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(initial_s=0.1, max_s=5.0)
    rng = random.Random(1)
    for attempt in range(12):
        ceiling = min(5.0, 0.1 * 2**attempt)
        delays = {backoff.delay(attempt, rng) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered
    assert backoff.delay(10_000, rng) <= 5.0
