"""RingBuffer: bounded retention in whole chunks, since(), gaps."""

from __future__ import annotations

import pytest
from tickmesh.common.v1 import market_pb2

from servers.ingestion.ring_buffer import Gap, RingBuffer, TickChunk

START = 1_000


def chunk(first: int, last: int) -> TickChunk:
    batch = market_pb2.TickBatch(first_seq=first, last_seq=last, send_time_us=7)
    for seq in range(first, last + 1):
        batch.ticks.add(symbol="EURUSD", sequence=seq, bid=1.0, ask=1.1)
    data = batch.SerializeToString()
    return TickChunk(first, last, last - first + 1, data, frozenset({"EURUSD"}))


def filled(depth: int, chunks: int, size: int = 10) -> RingBuffer:
    ring = RingBuffer(depth, last_seq=START)
    for i in range(chunks):
        ring.append(chunk(START + 1 + i * size, START + (i + 1) * size))
    return ring


def test_retains_at_least_depth_in_whole_chunks_and_no_more() -> None:
    ring = filled(depth=25, chunks=10)
    # 30 ticks (3 chunks) is the least whole-chunk count >= 25.
    assert len(ring) == 30
    assert ring.oldest_seq == START + 71 and ring.last_seq == START + 100


def test_since_returns_what_follows_with_a_partial_first_chunk() -> None:
    ring = filled(depth=100, chunks=5)
    replay = ring.since(START + 15)
    assert replay.gap is None
    assert [c.first_seq for c in replay.chunks] == [START + 11, START + 21, START + 31, START + 41]
    assert [t.sequence for t in replay.chunks[0].ticks_after(START + 15)] == list(
        range(START + 16, START + 21)
    )
    assert ring.since(ring.last_seq).chunks == []


def test_since_an_evicted_sequence_reports_the_gap() -> None:
    ring = filled(depth=20, chunks=10)
    replay = ring.since(START + 5)
    assert replay.gap == Gap(START + 6, START + 80)
    assert replay.chunks[0].first_seq == START + 81


def test_an_empty_buffer_after_a_restart_reports_everything_before_as_a_gap() -> None:
    ring = RingBuffer(100, last_seq=START)  # a new life starting at START
    assert ring.oldest_seq == 0
    assert ring.since(START - 500) == (Gap(START - 499, START), [])
    assert ring.since(START) == (None, [])


def test_chunks_must_be_contiguous() -> None:
    ring = filled(depth=100, chunks=1)
    with pytest.raises(ValueError, match="expected"):
        ring.append(chunk(START + 12, START + 20))
    with pytest.raises(ValueError):
        RingBuffer(0, last_seq=START)
