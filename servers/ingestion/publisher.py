"""Batches the aggregator's ticks, serializes each batch once, feeds buffer and fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence

from tickmesh.common.v1 import market_pb2

from servers.ingestion.clock import Clock
from servers.ingestion.framing import batch_response
from servers.ingestion.ring_buffer import RingBuffer, TickChunk
from servers.ingestion.stream import LiveChunk, TickFanout


class BatchPublisher:
    """Publishes pending ticks at most once per `interval_s`, or at once when `max_ticks`
    are pending.

    The interval counts from the last publish, not from the first pending tick: ticks
    that arrive after a quiet interval go out at the end of the event loop turn that
    brought them (with everything else that turn brought), and only a feed busier than
    one batch per interval waits, at most the interval. A feed that sends in bursts (a
    PublishTicks client every few milliseconds) so pays nothing for the batching.
    """

    def __init__(
        self,
        ring: RingBuffer,
        fanout: TickFanout,
        clock: Clock,
        *,
        interval_s: float = 0.002,
        max_ticks: int = 500,
    ) -> None:
        self._ring = ring
        self._fanout = fanout
        self._clock = clock
        self._interval_s = interval_s
        self._max_ticks = max_ticks
        self._pending: list[market_pb2.Tick] = []
        self._timer: asyncio.Handle | None = None
        self._published_at = -math.inf  # event loop time of the last publish

    def add(self, ticks: Sequence[market_pb2.Tick]) -> None:
        """Queue ticks (in sequence order) for the next batch."""
        if not ticks:
            return
        self._pending.extend(ticks)
        if len(self._pending) >= self._max_ticks:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no event loop (a unit test drives it): the caller flushes
            wait = self._published_at + self._interval_s - loop.time()
            if wait > 0:
                self._timer = loop.call_later(wait, self.flush)
            else:
                self._timer = loop.call_soon(self.flush)

    def flush(self) -> None:
        """Publish everything pending now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        if not pending:
            return
        with contextlib.suppress(RuntimeError):  # no event loop: a unit test drives it
            self._published_at = asyncio.get_running_loop().time()
        for start in range(0, len(pending), self._max_ticks):
            self._publish(pending[start : start + self._max_ticks])

    def close(self) -> None:
        """Publish what is pending and stop the timer."""
        self.flush()

    def _publish(self, ticks: list[market_pb2.Tick]) -> None:
        first, last = ticks[0].sequence, ticks[-1].sequence
        batch = market_pb2.TickBatch(first_seq=first, last_seq=last, send_time_us=self._clock())
        batch.ticks.extend(ticks)
        # The one serialization of these ticks: the ring buffer and every consumer share it.
        data = batch.SerializeToString()
        chunk = TickChunk(first, last, len(ticks), data, frozenset(t.symbol for t in ticks))
        self._ring.append(chunk)
        self._fanout.publish(LiveChunk(chunk, batch_response(data), batch))
