"""The ring buffer: the newest ticks as pre-serialized TickBatch chunks, replayable by sequence."""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

from tickmesh.common.v1 import market_pb2


@dataclass(frozen=True, slots=True)
class TickChunk:
    """One published batch: consecutive sequences first_seq..last_seq, serialized once."""

    first_seq: int
    last_seq: int
    count: int
    data: bytes
    """A serialized TickBatch."""
    symbols: frozenset[str]
    """The symbols inside, so a filtered consumer skips chunks without parsing them."""

    def ticks_after(self, seq: int) -> list[market_pb2.Tick]:
        """The ticks with a sequence above `seq` (parses the chunk)."""
        ticks = market_pb2.TickBatch.FromString(self.data).ticks
        return [tick for tick in ticks if tick.sequence > seq]


class Gap(NamedTuple):
    """Sequences from_seq..to_seq that can no longer be delivered."""

    from_seq: int
    to_seq: int


class Replay(NamedTuple):
    """What since() found: maybe a gap first, then chunks (the first possibly partial)."""

    gap: Gap | None
    chunks: list[TickChunk]


class RingBuffer:
    """Keeps at least `depth` of the newest ticks, in whole chunks, in sequence order.

    Memory is bounded by depth plus one chunk's ticks. Sequences are contiguous: the
    aggregator numbers every tick and every tick is published in exactly one chunk.
    """

    def __init__(self, depth: int, last_seq: int) -> None:
        if depth < 1:
            raise ValueError(f"ring buffer depth must be at least 1, got {depth}")
        self.depth = depth
        self._chunks: deque[TickChunk] = deque()
        self._last_seqs: deque[int] = deque()  # parallel to _chunks, for bisect
        self._ticks = 0
        self.last_seq = last_seq
        """The newest sequence appended (the aggregator's start before any)."""

    def __len__(self) -> int:
        return self._ticks

    @property
    def oldest_seq(self) -> int:
        """The oldest retained sequence; 0 when empty."""
        return self._chunks[0].first_seq if self._chunks else 0

    def append(self, chunk: TickChunk) -> None:
        """Add the newest chunk, evicting the oldest whole chunks beyond depth."""
        if chunk.first_seq != self.last_seq + 1:
            raise ValueError(f"chunk starts at {chunk.first_seq}, expected {self.last_seq + 1}")
        self._chunks.append(chunk)
        self._last_seqs.append(chunk.last_seq)
        self._ticks += chunk.count
        self.last_seq = chunk.last_seq
        while self._ticks - self._chunks[0].count >= self.depth:
            self._ticks -= self._chunks.popleft().count
            self._last_seqs.popleft()

    def since(self, seq: int) -> Replay:
        """Everything retained after `seq`, and the gap when seq + 1 is no longer held."""
        oldest = self._chunks[0].first_seq if self._chunks else self.last_seq + 1
        gap = Gap(seq + 1, oldest - 1) if seq + 1 < oldest else None
        start = bisect.bisect_right(self._last_seqs, seq)
        return Replay(gap, list(itertools.islice(self._chunks, start, None)))
