"""StreamTicks fan-out: every consumer gets the same pre-serialized bytes; laggards coalesce."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.errors import Unavailable
from mesh.wire import coalesce
from servers.ingestion.clock import Clock
from servers.ingestion.framing import batch_response
from servers.ingestion.ring_buffer import RingBuffer, TickChunk

DEFAULT_BATCH_TICKS = 2_000
MAX_BATCH_TICKS = 10_000
"""Most ticks per message: ~2 MB with broker quotes, under gRPC's 4 MB receive default."""
DEFAULT_MAX_PENDING_TICKS = 20_000


@dataclass(frozen=True, slots=True)
class LiveChunk:
    """A chunk as the fan-out hands it out: with its response bytes and message when live."""

    chunk: TickChunk
    response: bytes | None = None
    """The whole StreamTicksResponse, built once for every unfiltered consumer."""
    batch: market_pb2.TickBatch | None = None
    """The parsed batch, so consumers that filter symbols need not parse it."""


class Subscriber:
    """One consumer's bounded queue of live chunks."""

    __slots__ = ("closed", "lagged", "max_pending_ticks", "pending", "pending_ticks", "wake")

    def __init__(self, max_pending_ticks: int) -> None:
        self.pending: deque[LiveChunk] = deque()
        self.pending_ticks = 0
        self.max_pending_ticks = max_pending_ticks
        self.lagged = False
        """Set when the queue overflowed and was dropped: catch up from the ring buffer."""
        self.closed = False
        self.wake = asyncio.Event()

    def take(self) -> list[LiveChunk]:
        """Everything pending, oldest first."""
        items = list(self.pending)
        self.pending.clear()
        self.pending_ticks = 0
        return items


class TickFanout:
    """Delivers each published chunk to every subscriber without ever waiting for one."""

    def __init__(self, max_pending_ticks: int = DEFAULT_MAX_PENDING_TICKS) -> None:
        self._max_pending_ticks = max_pending_ticks
        self._subscribers: set[Subscriber] = set()
        self.closed = False

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscriber:
        """A new subscriber; it receives every chunk published from now on."""
        if self.closed:
            raise Unavailable("ingestion is stopping", reason="SHUTTING_DOWN")
        subscriber = Subscriber(self._max_pending_ticks)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, live: LiveChunk) -> None:
        """Queue `live` for every subscriber; one past its bound is dropped to lagged."""
        count = live.chunk.count
        for sub in self._subscribers:
            if sub.lagged:
                continue
            if sub.pending_ticks + count > sub.max_pending_ticks:
                # Memory stays bounded: the queue goes, and the consumer catches up from
                # the ring buffer (still pre-serialized), with a GapNotice if it is gone.
                sub.pending.clear()
                sub.pending_ticks = 0
                sub.lagged = True
            else:
                sub.pending.append(live)
                sub.pending_ticks += count
            sub.wake.set()

    def close(self) -> None:
        """End every stream (the server is stopping) and refuse new ones."""
        self.closed = True
        for sub in self._subscribers:
            sub.closed = True
            sub.wake.set()


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """A validated StreamTicks request."""

    from_seq: int
    symbols: frozenset[str]
    """Empty for every symbol."""
    max_batch_ticks: int


async def stream_ticks(
    request: StreamRequest,
    *,
    ring: RingBuffer,
    fanout: TickFanout,
    newest_seq: Callable[[], int],
    clock: Clock,
    heartbeat_s: float,
) -> AsyncIterator[bytes]:
    """The serialized StreamTicksResponses of one consumer: gap?, replay, marker, live."""
    # Subscribing before reading the buffer, in the same synchronous step, makes the seam
    # exact: every chunk is either in the replay or in the queue, and live ticks at or
    # below the cursor are dropped, so nothing is missed or sent twice.
    sub = fanout.subscribe()
    try:
        from_seq = request.from_seq
        if from_seq == 0 or from_seq > newest_seq():
            # Live at once; a from_seq above anything emitted (a previous life whose clock
            # ran ahead) cannot be resumed, so it is treated as live too.
            cursor, replayed = ring.last_seq, 0
        else:
            cursor, replayed = from_seq, 0
            replay = ring.since(from_seq)
            if replay.gap is not None:
                yield _gap(*replay.gap, "requested sequence is older than the buffer")
                cursor = replay.gap.to_seq
            for frame, last, count in _frames(_stored(replay.chunks), cursor, request, clock):
                yield frame
                cursor, replayed = last, replayed + count
            if replay.chunks:
                cursor = max(cursor, replay.chunks[-1].last_seq)
        yield ingestion_pb2.StreamTicksResponse(
            replay_complete=ingestion_pb2.ReplayComplete(
                last_replayed_seq=cursor, replayed=replayed
            )
        ).SerializeToString()

        while True:
            sub.wake.clear()
            items: Sequence[LiveChunk]
            if sub.closed:
                raise Unavailable("ingestion is stopping", reason="SHUTTING_DOWN")
            if sub.lagged:
                sub.lagged = False
                replay = ring.since(cursor)
                if replay.gap is not None:
                    yield _gap(*replay.gap, "the consumer fell behind by more than the buffer")
                    cursor = replay.gap.to_seq
                items = _stored(replay.chunks)
            elif sub.pending:
                items = sub.take()
            else:
                try:
                    async with asyncio.timeout(heartbeat_s):
                        await sub.wake.wait()
                except TimeoutError:
                    yield ingestion_pb2.StreamTicksResponse(
                        heartbeat=market_pb2.Heartbeat(
                            server_time_us=clock(), last_seq=ring.last_seq
                        )
                    ).SerializeToString()
                continue
            for frame, last, _ in _frames(items, cursor, request, clock):
                yield frame
                cursor = last
            if items:
                cursor = max(cursor, items[-1].chunk.last_seq)
    finally:
        fanout.unsubscribe(sub)


def _stored(chunks: Iterable[TickChunk]) -> list[LiveChunk]:
    return [LiveChunk(chunk) for chunk in chunks]


def _gap(from_seq: int, to_seq: int, reason: str) -> bytes:
    notice = market_pb2.GapNotice(from_seq=from_seq, to_seq=to_seq, reason=reason)
    return ingestion_pb2.StreamTicksResponse(gap=notice).SerializeToString()


def _frames(
    items: Sequence[LiveChunk], cursor: int, request: StreamRequest, clock: Clock
) -> Iterator[tuple[bytes, int, int]]:
    """(response bytes, last sequence in it, ticks in it) for the chunks after `cursor`."""
    if request.symbols:
        yield from _filtered_frames(items, cursor, request, clock)
        return
    limit = request.max_batch_ticks
    group: list[LiveChunk] = []
    grouped = 0
    for item in items:
        chunk = item.chunk
        if chunk.last_seq <= cursor:
            continue
        if chunk.first_seq <= cursor or chunk.count > limit:
            # Partly delivered already, or bigger than this consumer takes: the rare case
            # that parses and re-serializes one chunk.
            if group:
                yield _joined(group, grouped, clock)
                group, grouped = [], 0
            ticks = item.batch.ticks if item.batch is not None else None
            after = (
                [t for t in ticks if t.sequence > cursor]
                if ticks is not None
                else chunk.ticks_after(cursor)
            )
            for start in range(0, len(after), limit):
                yield _built(after[start : start + limit], clock)
            continue
        if grouped + chunk.count > limit:
            yield _joined(group, grouped, clock)
            group, grouped = [], 0
        group.append(item)
        grouped += chunk.count
    if group:
        yield _joined(group, grouped, clock)


def _joined(group: list[LiveChunk], count: int, clock: Clock) -> tuple[bytes, int, int]:
    last = group[-1].chunk.last_seq
    if len(group) == 1 and group[0].response is not None:
        return group[0].response, last, count  # the live path: the shared bytes as they are
    data = coalesce([item.chunk.data for item in group], group[0].chunk.first_seq, clock())
    return batch_response(data), last, count


def _built(ticks: Sequence[market_pb2.Tick], clock: Clock) -> tuple[bytes, int, int]:
    batch = market_pb2.TickBatch(
        first_seq=ticks[0].sequence, last_seq=ticks[-1].sequence, send_time_us=clock()
    )
    batch.ticks.extend(ticks)
    return batch_response(batch.SerializeToString()), ticks[-1].sequence, len(ticks)


def _filtered_frames(
    items: Sequence[LiveChunk], cursor: int, request: StreamRequest, clock: Clock
) -> Iterator[tuple[bytes, int, int]]:
    # A symbol filter makes this consumer's bytes its own: it pays for its serialization.
    symbols, limit = request.symbols, request.max_batch_ticks
    selected: list[market_pb2.Tick] = []
    for item in items:
        chunk = item.chunk
        if chunk.last_seq <= cursor or chunk.symbols.isdisjoint(symbols):
            continue
        ticks = item.batch.ticks if item.batch is not None else chunk.ticks_after(cursor)
        for tick in ticks:
            if tick.sequence > cursor and tick.symbol in symbols:
                selected.append(tick)
                if len(selected) >= limit:
                    yield _built(selected, clock)
                    selected = []
    if selected:
        yield _built(selected, clock)
