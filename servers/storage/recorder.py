"""The recorder: every aggregated tick from Ingestion's StreamTicks into market-data history.

It runs inside Storage, as a lifecycle part: Storage owns every durable byte and its
process is the one allowed to open the chDB directory, so recording here costs no extra
hop (a separate service would ship every tick once more, to Storage's RecordTicks), and
the watermark it resumes from is the table's own. It consumes StreamTicks like any other
consumer: from the last recorded sequence, reconnecting with backoff; what Ingestion
replays twice is trimmed here and, again, by the store's watermark check.

Ticks are not looked at one by one: each TickBatch is kept as the bytes it came in
(without its envelope fields) and batches are concatenated, which is itself a valid
TickBatch that ClickHouse parses (servers.storage.analytics.market). One write of up to
`batch_ticks` ticks, or whatever arrived in `flush_interval_s`, runs while the next fills
(a write costs ~40 ms of CPU whatever its size, across the five views: at the synthetic
feed's 3,000 ticks/s, 0.5 s keeps recording near a tenth of a core);
with `max_pending` writes queued the reader waits, so gRPC flow control slows the stream
instead of memory growing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.backoff import Backoff
from mesh.lifecycle import cancel
from servers.storage.analytics.market import MarketHistory

log = logging.getLogger(__name__)


@dataclass
class RecorderStats:
    """What the recorder did since it started."""

    recorded: int = 0
    duplicates: int = 0
    writes: int = 0
    gaps: int = 0
    reconnects: int = 0


class _Pending:
    """Ticks waiting for the next write, as concatenated TickBatch bytes."""

    __slots__ = ("chunks", "count", "first_seq", "last_seq", "since")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.count = 0
        self.first_seq = 0
        self.last_seq = 0
        self.since = 0.0


class Recorder:
    """Keeps one StreamTicks stream open to Ingestion and records what it delivers."""

    def __init__(
        self,
        history: MarketHistory,
        channel: Callable[[], grpc.aio.Channel],
        *,
        batch_ticks: int = 50_000,
        flush_interval_s: float = 0.5,
        max_pending: int = 4,
        backoff: Backoff = Backoff(),
        idle_timeout_s: float = 10.0,
    ) -> None:
        self.history = history
        self.stats = RecorderStats()
        self.last_seq = 0
        """The last sequence received (recorded, or queued for the next write)."""
        self._channel = channel
        self._batch_ticks = batch_ticks
        self._flush_interval_s = flush_interval_s
        self._writes: asyncio.Queue[_Pending | None] = asyncio.Queue(max_pending)
        self._pending = _Pending()
        self._backoff = backoff
        self._idle_timeout_s = idle_timeout_s
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start streaming and writing in the background (never waits for Ingestion:
        Storage serves whether or not Ingestion is up)."""
        self.last_seq = self.history.last_seq
        self._tasks = [
            asyncio.create_task(self._stream_loop(), name="recorder-stream"),
            asyncio.create_task(self._write_loop(), name="recorder-writes"),
        ]

    async def stop(self) -> None:
        """Stop streaming, write what was received, then stop writing."""
        if not self._tasks:
            return
        stream, writer = self._tasks
        await cancel(stream)
        await self._hand_over()
        await self._writes.put(None)
        try:
            await asyncio.wait_for(writer, timeout=10.0)
        except TimeoutError:
            log.warning("recorder: last write did not finish in 10 s")
        self._tasks = []

    # -- streaming ----------------------------------------------------------------------

    async def _stream_loop(self) -> None:
        attempt = 0
        channel = self._channel()
        stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
        while True:
            try:
                if await self._stream(stub):
                    attempt = 0
            except (grpc.RpcError, TimeoutError) as exc:
                detail = exc.code().name if isinstance(exc, grpc.aio.AioRpcError) else "idle"
                log.info("recorder: ingestion unavailable (%s); reconnecting", detail)
            except Exception:
                log.exception("recorder: stream failed; reconnecting")
            self.stats.reconnects += 1
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1

    async def _stream(self, stub: ingestion_pb2_grpc.IngestionServiceStub) -> bool:
        call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest(from_seq=self.last_seq))
        log.info("recorder: streaming from sequence %d", self.last_seq)
        delivered = False
        # One read in flight at a time, never cancelled while the stream lives: waiting for
        # it ends at the flush deadline (a partial batch is written) without touching it.
        read: asyncio.Future[Any] | None = None
        try:
            while True:
                if read is None:
                    read = asyncio.ensure_future(call.read())
                done, _ = await asyncio.wait({read}, timeout=self._flush_wait())
                if not done:
                    if not self._pending.count:
                        # Ingestion heartbeats an idle stream: this much silence is a dead link.
                        raise TimeoutError
                    if self._due():
                        await self._hand_over()
                    continue
                response, read = read.result(), None
                if response is grpc.aio.EOF:
                    return delivered
                delivered = True
                kind = response.WhichOneof("payload")
                if kind == "batch":
                    self._on_batch(response.batch)
                elif kind == "gap":
                    gap = response.gap
                    self.stats.gaps += 1
                    log.warning("recorder: ticks %d-%d lost upstream: %s",
                                gap.from_seq, gap.to_seq, gap.reason)  # fmt: skip
                    self.last_seq = max(self.last_seq, gap.to_seq)
                if self._pending.count and self._due():
                    await self._hand_over()
        finally:
            if read is not None:
                read.cancel()
            call.cancel()

    def _flush_wait(self) -> float:
        # Wake in time to write a partial batch; otherwise wait for the idle timeout.
        if not self._pending.count:
            return self._idle_timeout_s
        return max(0.0, self._pending.since + self._flush_interval_s - time.monotonic())

    def _due(self) -> bool:
        pending = self._pending
        return (
            pending.count >= self._batch_ticks
            or time.monotonic() - pending.since >= self._flush_interval_s
        )

    def _on_batch(self, batch: market_pb2.TickBatch) -> None:
        ticks = batch.ticks
        if not ticks:
            return
        first, last = ticks[0].sequence, ticks[-1].sequence
        if last <= self.last_seq:  # a replay of what is recorded already
            self.stats.duplicates += len(ticks)
            return
        if first <= self.last_seq:
            fresh = [tick for tick in ticks if tick.sequence > self.last_seq]
            self.stats.duplicates += len(ticks) - len(fresh)
            payload = market_pb2.TickBatch(ticks=fresh).SerializeToString()
            first, count = fresh[0].sequence, len(fresh)
        else:
            # The envelope fields would be read by ClickHouse as rows of the list: drop them.
            batch.ClearField("first_seq")
            batch.ClearField("last_seq")
            batch.ClearField("send_time_us")
            payload, count = batch.SerializeToString(), len(ticks)
        pending = self._pending
        if not pending.count:
            pending.first_seq, pending.since = first, time.monotonic()
        pending.chunks.append(payload)
        pending.count += count
        pending.last_seq = last
        self.last_seq = last

    async def _hand_over(self) -> None:
        if not self._pending.count:
            return
        pending, self._pending = self._pending, _Pending()
        await self._writes.put(pending)  # waits while max_pending writes are queued

    # -- writing ------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while (pending := await self._writes.get()) is not None:
            body = b"".join(pending.chunks)
            attempt = 0
            while True:
                try:
                    done = await self.history.record(
                        body, pending.first_seq, pending.last_seq, pending.count
                    )
                    break
                except Exception:
                    # The store refused or failed: keep the ticks and try again, so a
                    # transient failure never turns into a gap.
                    log.exception("recorder: writing %d ticks failed; retrying", pending.count)
                    await asyncio.sleep(self._backoff.delay(attempt))
                    attempt += 1
            self.stats.recorded += done.recorded
            self.stats.duplicates += done.duplicates
            self.stats.writes += 1
