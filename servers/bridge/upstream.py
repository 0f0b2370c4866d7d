"""The Bridge's one StreamTicks stream to Ingestion: reconnects with backoff, resumes by sequence.

On every (re)connect it first refreshes the symbol universe (ListSymbols), then asks
for ticks after the last sequence it has seen. Whatever Ingestion replays twice is
dropped here, so the fan-out and every client see each sequence at most once. The sink
is called synchronously and never awaited, so subscribers cannot slow this loop down.

The stream is read with grpc's sync API in a thread of its own, which hands each message
to the event loop. Read through grpc.aio, a message waited behind the subscribers'
writes in the process's one completion queue: 110-264 ms at p99 with 1,000 subscribers,
against 21-30 ms from the thread (bench/RESULTS.md). Everything else, the sequence
state and the sink included, stays on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import grpc
from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.backoff import Backoff
from mesh.lifecycle import cancel
from mesh.logging import error_fields

log = logging.getLogger(__name__)


class UpstreamSink(Protocol):
    """Where the upstream delivers (the fan-out)."""

    def on_universe(self, symbols: Iterable[str]) -> None: ...

    def on_batch(self, ticks: Sequence[market_pb2.Tick], first_seq: int, last_seq: int) -> None: ...

    def on_gap(self, from_seq: int, to_seq: int, reason: str) -> None: ...


class SequenceTracker:
    """The last upstream sequence seen; trims what a resumed stream repeats."""

    __slots__ = ("duplicates", "last_seq")

    def __init__(self) -> None:
        self.last_seq = 0
        self.duplicates = 0  # ticks dropped because they were seen already

    def accept(
        self, batch: market_pb2.TickBatch
    ) -> tuple[Sequence[market_pb2.Tick], int, int] | None:
        """The batch's unseen ticks and sequence range, or None when nothing is new."""
        ticks: Sequence[market_pb2.Tick] = batch.ticks
        if not ticks:
            return None
        first = batch.first_seq or ticks[0].sequence
        last = max(batch.last_seq, ticks[-1].sequence)
        seen = self.last_seq
        if last <= seen:
            self.duplicates += len(ticks)
            return None
        if first <= seen:
            fresh = [tick for tick in ticks if tick.sequence > seen]
            self.duplicates += len(ticks) - len(fresh)
            ticks, first = fresh, seen + 1
        self.last_seq = last
        return ticks, first, last

    def gap(self, from_seq: int, to_seq: int) -> tuple[int, int] | None:
        """Account for a gap notice; the part not seen before, or None when it is old news."""
        if to_seq <= self.last_seq:
            return None
        from_seq = max(from_seq, self.last_seq + 1)
        self.last_seq = to_seq
        return from_seq, to_seq


class Upstream:
    """Keeps one StreamTicks stream open to Ingestion at `target`."""

    def __init__(
        self,
        target: str,
        sink: UpstreamSink,
        *,
        channel_factory: Callable[[str], grpc.Channel] = grpc.insecure_channel,
        backoff: Backoff = Backoff(),
        idle_timeout_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.target = target
        self.connected = False
        """True while the stream is open."""
        self.universe_known = False
        """True once ListSymbols has answered."""
        self.reconnects = 0
        self._sink = sink
        self._channel_factory = channel_factory
        self._backoff = backoff
        self._idle_timeout_s = idle_timeout_s
        self._rng = rng or random.Random()
        self._seq = SequenceTracker()
        self._ready = asyncio.Event()
        self._channel: grpc.Channel | None = None
        self._task: asyncio.Task[None] | None = None
        self._reader: threading.Thread | None = None
        self._last_read = 0.0  # time.monotonic() of the last message handled
        self._started_at = 0.0  # time.monotonic() of start()

    @property
    def last_seq(self) -> int:
        """The last upstream sequence seen (what a reconnect resumes from)."""
        return self._seq.last_seq

    @property
    def ready(self) -> bool:
        """Connected and the universe is known: the Bridge can take subscriptions."""
        return self.connected and self.universe_known

    async def wait_ready(self) -> None:
        """Return once the first connection is up and the universe is known."""
        await self._ready.wait()

    def start(self) -> None:
        """Start the connect / stream / reconnect loop in the background."""
        if self._task is None:
            self._started_at = time.monotonic()
            self._channel = self._channel_factory(self.target)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="upstream")

    async def open(self) -> None:
        """start(), then wait_ready(): the Bridge is ready once Ingestion answered."""
        self.start()
        await self.wait_ready()

    async def stop(self) -> None:
        """Stop streaming, close the channel and wait for the reader thread to end."""
        task, self._task = self._task, None
        await cancel(task)
        if self._channel is not None:
            self._channel.close()  # ends any call still open, so the reader ends too
            self._channel = None
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, READER_JOIN_S)
            self._reader = None
        self.connected = False

    async def _run(self) -> None:
        assert self._channel is not None
        stub = ingestion_pb2_grpc.IngestionServiceStub(self._channel)
        attempt = 0
        while True:
            try:
                if await self._stream(stub):
                    attempt = 0  # it delivered something: the next failure starts afresh
                log.warning("upstream stream to %s ended; reconnecting", self.target)
            except (grpc.RpcError, TimeoutError) as exc:
                detail = exc.code().name if isinstance(exc, grpc.Call) else "idle"
                log.log(
                    self._unavailable_level(),
                    "upstream %s unavailable (%s); reconnecting", self.target, detail,
                    extra=error_fields(exc),
                )  # fmt: skip
            except Exception:
                # A bug must not end the Bridge's only feed: log it and reconnect.
                log.exception("upstream %s failed; reconnecting", self.target)
            finally:
                self.connected = False
            delay = self._backoff.delay(attempt, self._rng)
            attempt += 1
            self.reconnects += 1
            await asyncio.sleep(delay)

    def _unavailable_level(self) -> int:
        # Before the first connection the Bridge is not SERVING (its start waits for this
        # stream), so an Ingestion still starting (`up` starts every service at once) costs
        # nothing yet: INFO, until it has kept the Bridge waiting for an idle timeout.
        waited = time.monotonic() - self._started_at
        starting = not self._ready.is_set() and waited < self._idle_timeout_s
        return logging.INFO if starting else logging.WARNING

    async def _stream(self, stub: ingestion_pb2_grpc.IngestionServiceStub) -> bool:
        """One connection: refresh the universe, stream until it breaks. True if it
        delivered anything (so the backoff can reset)."""
        listed = await _on_loop(
            stub.ListSymbols.future(ingestion_pb2.ListSymbolsRequest(),
                                    timeout=self._idle_timeout_s)
        )  # fmt: skip
        self._sink.on_universe(info.symbol for info in listed.symbols)
        self.universe_known = True
        from_seq = self._seq.last_seq
        call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest(from_seq=from_seq))
        self.connected = True
        self._ready.set()
        log.info("upstream %s streaming from sequence %d", self.target, from_seq)
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[tuple[int, Exception | None]] = loop.create_future()
        self._last_read = time.monotonic()
        self._reader = threading.Thread(
            target=_read, args=(call, loop, self._on_response, ended),
            name="upstream-reader", daemon=True,
        )  # fmt: skip
        self._reader.start()
        try:
            # Ingestion heartbeats an idle stream, so silence means a dead connection.
            while not ended.done():
                quiet_for = time.monotonic() - self._last_read
                if quiet_for >= self._idle_timeout_s:
                    raise TimeoutError
                await asyncio.wait({ended}, timeout=self._idle_timeout_s - quiet_for)
        finally:
            call.cancel()
            ended.cancel()  # a no-op once settled; else the reader's outcome is not wanted
        read, error = ended.result()
        if error is not None and not read:
            raise error
        if error is not None:
            log.warning(
                "upstream %s broke after %d messages", self.target, read,
                extra=error_fields(error),
            )  # fmt: skip
        return read > 0

    def _on_response(self, response: ingestion_pb2.StreamTicksResponse) -> None:
        self._last_read = time.monotonic()
        self._handle(response)

    def _handle(self, response: ingestion_pb2.StreamTicksResponse) -> None:
        kind = response.WhichOneof("payload")
        if kind == "batch":
            accepted = self._seq.accept(response.batch)
            if accepted is not None:
                self._sink.on_batch(*accepted)
        elif kind == "gap":
            gap = response.gap
            lost = self._seq.gap(gap.from_seq, gap.to_seq)
            if lost is not None:
                log.warning("upstream gap %d-%d: %s", *lost, gap.reason)
                self._sink.on_gap(*lost, gap.reason)
        elif kind == "replay_complete":
            done = response.replay_complete
            log.info("upstream replay complete: %d ticks up to %d", done.replayed,
                     done.last_replayed_seq)  # fmt: skip
        # Heartbeats only prove the stream is alive, which the read timeout relies on.


READER_JOIN_S = 5.0
"""How long stop() waits for the reader thread once its call is cancelled (it ends at once)."""


def _read(
    call: Iterator[ingestion_pb2.StreamTicksResponse],
    loop: asyncio.AbstractEventLoop,
    deliver: Callable[[ingestion_pb2.StreamTicksResponse], None],
    ended: asyncio.Future[tuple[int, Exception | None]],
) -> None:
    """The reader thread: hands each message to the loop in order, then, after the last
    of them, how many it read and the error that ended the call (None at a clean end)."""
    read = 0
    error: Exception | None = None
    try:
        for response in call:
            loop.call_soon_threadsafe(deliver, response)
            read += 1
    except Exception as exc:  # the call failed or was cancelled; or a bug, logged by _run
        error = exc
    with contextlib.suppress(RuntimeError):  # the loop is closed: the Bridge is gone
        loop.call_soon_threadsafe(_settle, ended, (read, error))


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if not future.done():  # else the loop stopped waiting (cancelled, or idle)
        future.set_result(outcome)


async def _on_loop(call: grpc.Future) -> Any:
    """Await a grpc sync-API future on the event loop; cancelling the wait cancels the call."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[Any] = loop.create_future()

    def copy(done: grpc.Future) -> None:
        if waiter.done():
            return
        if done.cancelled():  # only stop() cancels: through this wait, or closing the channel
            waiter.cancel()
        elif (error := done.exception()) is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(done.result())

    def on_done(done: grpc.Future) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the Bridge is gone
            loop.call_soon_threadsafe(copy, done)

    call.add_done_callback(on_done)
    try:
        return await waiter
    finally:
        call.cancel()  # a no-op once it has completed
