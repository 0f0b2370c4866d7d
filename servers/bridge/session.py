"""One subscriber: symbol filter, throttle, bounded conflating queue and its wire messages.

The fan-out pushes into a session synchronously (on_batch, push_gap); the session's
stream handler pulls ready-to-write bytes (next_message). The two never wait for each
other: when the handler falls behind, the queue is conflated to the latest tick per
symbol (counted as `skipped`), so memory per subscriber stays bounded and the fan-out
never blocks. Everything queued is coalesced into as few messages as the batch limit
allows: pending pre-serialized ticks are joined, the batch header written once.

Sequence numbers: a batch's first_seq is its first tick's sequence and its last_seq is
the upstream sequence the session is complete up to (a resuming client passes it back);
last_seq never decreases within a session. message_seq counts messages, 1 = the ack.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from tickmesh.bridge.v1 import bridge_pb2

from mesh.errors import MeshError
from mesh.telemetry.metrics import tier_metrics
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier, limits
from servers.bridge import wire
from servers.bridge.entitlements import Grant
from servers.bridge.projection import BatchView, Entry
from servers.bridge.throttle import Throttle
from servers.bridge.usage import UsageCounter, UsageKey


class Cancellable(Protocol):
    """A scheduled callback (asyncio.TimerHandle, or a test's fake)."""

    def cancel(self) -> None: ...


Schedule = Callable[[float, Callable[[], None]], Cancellable]
"""Run a callback after a delay in seconds (loop.call_later in production)."""


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Per-subscriber bounds."""

    max_queue_ticks: int = 4096
    """Ticks queued before the queue is conflated to the latest tick per symbol."""
    max_queue_chunks: int = 256
    """Queued batches before conflation (bounds how many upstream batches one slow
    subscriber keeps alive)."""
    max_batch_ticks: int = 2000
    """Most ticks per message unless the client asks for fewer."""
    heartbeat_s: float = 1.0
    """Idle time after which a heartbeat is sent."""

    def batch_ticks(self, requested: int) -> int:
        """The ticks-per-message limit for a client that asked for `requested` (0: default)."""
        return min(requested, self.max_batch_ticks) if requested > 0 else self.max_batch_ticks


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One serialized SubscribeResponse and the ticks it carries."""

    payload: bytes
    ticks: int
    last_tick: bytes = b""
    """The newest tick's encoding (a one-tick TickBatch), for the delivery-latency sample."""


class _Chunk:
    # Projected ticks emitted together, and the upstream sequence they complete.
    __slots__ = ("entries", "last_seq")

    def __init__(self, entries: list[Entry], last_seq: int) -> None:
        self.entries = entries
        self.last_seq = last_seq


@dataclass(frozen=True, slots=True)
class _Gap:
    from_seq: int
    to_seq: int
    reason: str


class Session:
    """One open Subscribe stream."""

    def __init__(
        self,
        *,
        session_id: str,
        tenant: TenantContext,
        grant: Grant,
        usage: UsageCounter,
        watermark: Callable[[], int],
        schedule: Schedule,
        clock: Callable[[], float] = time.monotonic,
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        bounds: SessionLimits = SessionLimits(),
        max_batch_ticks: int = 0,
        floor_seq: int = 0,
    ) -> None:
        self.session_id = session_id
        self.tenant = tenant
        self.tier: Tier = grant.tier
        self.symbols: tuple[str, ...] = grant.symbols
        self.usage_key = UsageKey(tenant.company_id, tenant.user_id, grant.tier)
        self.metrics = tier_metrics(grant.tier)
        """This tier's telemetry hooks (no-ops when telemetry is off)."""
        self.opened_at_us = wall_us()
        self.ticks_delivered = 0
        self.messages_delivered = 0
        self.skipped_total = 0
        self.error: MeshError | None = None

        self._symbol_set = frozenset(grant.symbols)
        self._usage = usage
        self._watermark = watermark
        self._schedule = schedule
        self._clock = clock
        self._wall_us = wall_us
        self._bounds = bounds
        self._batch_ticks = bounds.batch_ticks(max_batch_ticks)
        self._floor = floor_seq  # ticks at or below it were delivered before (resume)
        self._throttle: Throttle[Entry] = Throttle(limits(grant.tier).update_interval_ms / 1000)
        self._timer: Cancellable | None = None
        self._timer_at: float | None = None
        self._queue: deque[_Chunk | _Gap] = deque()
        self._queued_ticks = 0
        self._queued_chunks = 0
        self._skipped_unsent = 0  # skipped since the last message, sent on the next
        self._sent_seq = 0  # last_seq of the last batch built: never goes back
        self._message_seq = 0
        self._wake = asyncio.Event()
        self._closed = False

    # -- fed by the fan-out (synchronous, never waits) ------------------------

    def on_batch(self, view: BatchView, now: float) -> None:
        """Take this session's share of an upstream batch."""
        floor = self._floor
        if view.last_seq <= floor or self._closed:
            return
        latest, symbols = view.latest, self._symbol_set
        # Walk the smaller side: a 5-symbol subscriber never scans a 500-symbol batch.
        if len(symbols) < len(latest):
            picked = [i for s in symbols if (i := latest.get(s)) is not None]
        else:
            picked = [i for s, i in latest.items() if s in symbols]
        if not picked:
            return
        picked.sort()
        projected = view.projected(self.tier)
        throttle = self._throttle
        out: list[Entry] = []
        for i in picked:
            entry = projected.entry(i)
            if entry[0] <= floor:
                continue
            if throttle.offer(entry[1], entry, now):
                out.append(entry)
            else:
                self._arm(throttle.deadline(entry[1]), now)
        if out:
            self._enqueue(out, view.last_seq)

    def catch_up(self, entries: list[Entry], last_seq: int, now: float) -> None:
        """Queue a resumed session's catch-up: the latest tick of each symbol that changed
        after the resume point (sorted by sequence), completing it up to `last_seq`."""
        out = [e for e in entries if self._throttle.offer(e[1], e, now)]
        if out and not self._closed:
            self._enqueue(out, last_seq)

    def push_gap(self, from_seq: int, to_seq: int, reason: str) -> None:
        """Queue an explicit gap notice: these sequences will never be delivered."""
        if self._closed:
            return
        self._queue.append(_Gap(from_seq, to_seq, reason))
        self._wake.set()

    def flush_due(self) -> None:
        """Queue the held-back updates whose interval has elapsed (the throttle timer)."""
        self._timer, self._timer_at = None, None
        if self._closed:
            return
        now = self._clock()
        due = self._throttle.pop_due(now)
        if due:
            due.sort()
            self._enqueue(due, max(self._watermark(), self._floor))
        next_due = self._throttle.next_due()
        if next_due is not None:
            self._arm(next_due, now)

    def _arm(self, at: float, now: float) -> None:
        if self._timer_at is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._schedule(max(at - now, 0.0), self.flush_due)

    def _enqueue(self, entries: list[Entry], last_seq: int) -> None:
        self._queue.append(_Chunk(entries, last_seq))
        self._queued_ticks += len(entries)
        self._queued_chunks += 1
        bounds = self._bounds
        if self._queued_ticks > bounds.max_queue_ticks or (
            self._queued_chunks > bounds.max_queue_chunks
        ):
            self._conflate()
        self._wake.set()

    def _conflate(self) -> None:
        # The subscriber fell behind: keep only the latest tick per symbol. Per symbol,
        # queued ticks are in sequence order, so the last one seen is the newest.
        latest: dict[str, Entry] = {}
        gaps: list[_Gap] = []
        total = last_seq = 0
        for item in self._queue:
            if isinstance(item, _Gap):
                gaps.append(item)
                continue
            total += len(item.entries)
            last_seq = max(last_seq, item.last_seq)
            for entry in item.entries:
                latest[entry[1]] = entry
        merged = sorted(latest.values())
        self._queue.clear()
        self._queue.extend(gaps)
        self._queue.append(_Chunk(merged, last_seq))
        self._queued_ticks, self._queued_chunks = len(merged), 1
        skipped = total - len(merged)
        self._skipped_unsent += skipped
        self.skipped_total += skipped
        self._usage.add(self.usage_key, skipped=skipped)

    # -- drained by the stream handler ----------------------------------------

    async def next_message(self) -> Outgoing | None:
        """The next message to write: queued data, else a heartbeat once idle for
        heartbeat_s; None once the session is closed."""
        while not self._closed:
            out = self.take_message()
            if out is not None:
                return out
            self._wake.clear()
            try:
                async with asyncio.timeout(self._bounds.heartbeat_s):
                    await self._wake.wait()
            except TimeoutError:
                if not self._closed and not self._queue:
                    return self.heartbeat_message()
        return None

    def take_message(self) -> Outgoing | None:
        """Everything queued up to the next gap notice, coalesced into one message of at
        most the batch limit; or the gap notice; None when the queue is empty."""
        queue = self._queue
        if not queue:
            return None
        head = queue[0]
        if isinstance(head, _Gap):
            queue.popleft()
            payload = wire.gap_response(
                head.from_seq, head.to_seq, head.reason,
                skipped=self._take_skipped(), message_seq=self._next_seq(),
            )  # fmt: skip
            return Outgoing(payload, 0)
        parts: list[list[Entry]] = []
        count = last_seq = 0
        while queue and isinstance(queue[0], _Chunk) and count < self._batch_ticks:
            chunk = queue[0]
            room = self._batch_ticks - count
            if len(chunk.entries) <= room:
                queue.popleft()
                self._queued_chunks -= 1
                parts.append(chunk.entries)
                count += len(chunk.entries)
                last_seq = chunk.last_seq
            else:
                # Split: the rest stays queued; this message is complete up to its last tick.
                head_entries, chunk.entries = chunk.entries[:room], chunk.entries[room:]
                parts.append(head_entries)
                count += room
                last_seq = head_entries[-1][0]
        self._queued_ticks -= count
        last_seq = self._sent_seq = max(last_seq, self._sent_seq)
        ticks = b"".join([entry[2] for part in parts for entry in part])
        first_seq = parts[0][0][0] if count else last_seq
        batch = wire.tick_batch(ticks, first_seq, last_seq, self._wall_us())
        payload = wire.batch_response(
            batch, skipped=self._take_skipped(), message_seq=self._next_seq()
        )
        return Outgoing(payload, count, parts[-1][-1][2] if count else b"")

    def heartbeat_message(self) -> Outgoing:
        """A heartbeat carrying the sequence this session is complete up to."""
        last_seq = max(self._watermark(), self._floor, self._sent_seq)
        payload = wire.heartbeat_response(
            self._wall_us(), last_seq, skipped=self._take_skipped(), message_seq=self._next_seq()
        )
        return Outgoing(payload, 0)

    def ack_message(
        self, ack: bridge_pb2.SubscriptionAck, snapshot: list[Entry] | None
    ) -> Outgoing:
        """The first message: `ack` (session fields set here) with the snapshot attached."""
        ack.session_id = self.session_id
        snapshot_bytes = None
        if snapshot is not None:
            ticks = b"".join([entry[2] for entry in snapshot])
            first = snapshot[0][0] if snapshot else 0
            last = max(ack.start_seq - 1, 0)
            snapshot_bytes = wire.tick_batch(ticks, first, last, self._wall_us())
        payload = wire.ack_response(ack, snapshot_bytes, self._next_seq())
        return Outgoing(payload, len(snapshot or ()))

    def delivered(self, out: Outgoing) -> None:
        """Count a message the handler has written to the stream."""
        self.ticks_delivered += out.ticks
        self.messages_delivered += 1
        self._usage.add(self.usage_key, ticks=out.ticks, messages=1)
        self.metrics.delivered(out.ticks, out.last_tick)

    def _take_skipped(self) -> int:
        skipped, self._skipped_unsent = self._skipped_unsent, 0
        return skipped

    def _next_seq(self) -> int:
        self._message_seq += 1
        return self._message_seq

    # -- lifecycle and stats --------------------------------------------------

    def close(self, error: MeshError | None = None) -> None:
        """End the session: the handler's next_message returns None (then raises `error`)."""
        if self._closed:
            return
        self._closed = True
        self.error = error
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._throttle.clear()
        self._queue.clear()
        self._queued_ticks = self._queued_chunks = 0
        self._wake.set()

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._closed

    @property
    def queue_depth(self) -> int:
        """Queued items (batches and gap notices) not yet turned into messages."""
        return len(self._queue)

    @property
    def queued_ticks(self) -> int:
        """Ticks waiting in the queue."""
        return self._queued_ticks
