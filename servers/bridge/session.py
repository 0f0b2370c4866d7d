"""One subscriber: a bounded conflating queue of shared chunks and its wire messages.

Its tier's feed (tier_feed) throttles and filters once for every session with the same
symbols and pushes the shared chunks here synchronously (push, push_gap); the session's
writer pulls ready-to-write bytes (next_message). The two never wait for each other:
when the writer falls behind, the queue is conflated to the latest tick per symbol
(counted as `skipped`), so memory per subscriber stays bounded and the feed never
blocks. A writer that keeps up sends each chunk as it came, its encoding joined once
for the whole group; a backlog is coalesced into as few messages as the batch limit
allows. Heartbeats come from one sweep over all sessions (sweep_idle), not a timer each.

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

from mesh import wire
from mesh.errors import MeshError
from mesh.telemetry.metrics import tier_metrics
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier
from servers.bridge import framing
from servers.bridge.chunk import Chunk
from servers.bridge.entitlements import Grant
from servers.bridge.projection import Entry
from servers.bridge.usage_counter import UsageCounter, UsageKey


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
    """Idle time after which a heartbeat is sent (between 1x and 1.5x of it: idle
    sessions are found by a sweep every heartbeat_s / 2)."""

    def batch_ticks(self, requested: int) -> int:
        """The ticks-per-message limit for a client that asked for `requested` (0: default)."""
        return min(requested, self.max_batch_ticks) if requested > 0 else self.max_batch_ticks


class SlaSink(Protocol):
    """Takes delivery-latency samples (servers.bridge.sla_sampler.SlaSampler)."""

    def offer(self, session: Session, last_tick: bytes, held: bool) -> None: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One serialized SubscribeResponse and the ticks it carries."""

    payload: bytes
    ticks: int
    last_tick: bytes = b""
    """The newest tick's encoding (a one-tick TickBatch), for the delivery-latency sample."""
    held: bool = True
    """The newest tick waited by design (throttle flush, catch-up): no SLA latency sample."""


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
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        bounds: SessionLimits = SessionLimits(),
        max_batch_ticks: int = 0,
        floor_seq: int = 0,
        sla: SlaSink | None = None,
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
        self.gaps_total = 0
        self.error: MeshError | None = None

        self._sla = sla
        self._usage = usage
        self._bill_ticks = usage.tick_counter(self.usage_key)
        self._metered = (0, 0)  # (ticks, messages) already handed to the usage counter
        self._watermark = watermark
        self._wall_us = wall_us
        self._bounds = bounds
        self._batch_ticks = bounds.batch_ticks(max_batch_ticks)
        # Ticks at or below the floor reached the client before: in its snapshot (a
        # live session's floor is the watermark it opened at) or before it resumed.
        self._floor = floor_seq
        self._queue: deque[Chunk | _Gap] = deque()
        self._queued_ticks = 0
        self._queued_chunks = 0
        self._skipped_unsent = 0  # skipped since the last message, sent on the next
        self._sent_seq = 0  # last_seq of the last batch built: never goes back
        self._message_seq = 0
        self._busy = True  # a message was taken since the last sweep
        self._idle_sweeps = 0
        self._heartbeat_due = False
        self._wake = asyncio.Event()
        self._closed = False

    # -- fed by the tier's feed (synchronous, never waits) --------------------

    def push(self, chunk: Chunk) -> None:
        """Queue a chunk (shared with the other sessions of its group)."""
        if self._closed:
            return
        entries = chunk.entries
        if entries[0][0] <= self._floor:  # entries are sorted: one comparison, usually
            entries = [entry for entry in entries if entry[0] > self._floor]
            if not entries:
                return
            chunk = Chunk(entries, chunk.last_seq, chunk.held)
        self._enqueue(chunk)

    def catch_up(self, entries: list[Entry], last_seq: int) -> None:
        """Queue a resumed session's catch-up: the latest tick of each symbol it missed
        (sorted by sequence; some may be older than its floor), complete up to `last_seq`."""
        if entries and not self._closed:
            self._enqueue(Chunk(entries, last_seq, held=True))

    def _enqueue(self, chunk: Chunk) -> None:
        self._queue.append(chunk)
        self._queued_ticks += len(chunk.entries)
        self._queued_chunks += 1
        bounds = self._bounds
        if self._queued_ticks > bounds.max_queue_ticks or (
            self._queued_chunks > bounds.max_queue_chunks
        ):
            self._conflate()
        self._wake.set()

    def push_gap(self, from_seq: int, to_seq: int, reason: str) -> None:
        """Queue an explicit gap notice: these sequences will never be delivered."""
        if self._closed:
            return
        self._queue.append(_Gap(from_seq, to_seq, reason))
        self.gaps_total += 1
        self._wake.set()

    def sweep_idle(self) -> None:
        """Called every heartbeat_s / 2: after two sweeps without a message, queue a
        heartbeat (so one arrives after 1 to 1.5 heartbeat_s of silence)."""
        if self._busy:
            self._busy = False
            self._idle_sweeps = 0
            return
        self._idle_sweeps += 1
        if self._idle_sweeps >= 2 and not self._closed:
            self._idle_sweeps = 0
            self._heartbeat_due = True
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
        self._queue.append(Chunk(merged, last_seq))
        self._queued_ticks, self._queued_chunks = len(merged), 1
        skipped = total - len(merged)
        self._skipped_unsent += skipped
        self.skipped_total += skipped
        self._usage.add(self.usage_key, skipped=skipped)

    # -- drained by the session's writer --------------------------------------

    async def next_message(self) -> Outgoing | None:
        """The next message to write: queued data, else a heartbeat once the sweep found
        the session idle; None once the session is closed."""
        while True:
            out = self.take_message()
            if out is not None:
                return out
            if self._closed:
                return None
            if self._heartbeat_due:
                return self.heartbeat_message()
            self._wake.clear()
            await self._wake.wait()

    def take_message(self) -> Outgoing | None:
        """Everything queued up to the next gap notice, coalesced into one message of at
        most the batch limit; or the gap notice; None when the queue is empty."""
        queue = self._queue
        if not queue:
            return None
        self._busy = True
        self._heartbeat_due = False
        head = queue[0]
        if isinstance(head, _Gap):
            queue.popleft()
            payload = framing.gap_response(
                head.from_seq, head.to_seq, head.reason,
                skipped=self._take_skipped(), message_seq=self._next_seq(),
            )  # fmt: skip
            return Outgoing(payload, 0)
        count = len(head.entries)
        if (
            count <= self._batch_ticks
            and head.last_seq >= self._sent_seq
            and (len(queue) == 1 or not isinstance(queue[1], Chunk))
        ):
            # A writer that keeps up: the chunk as the tier feed made it, its encoding
            # joined once for the whole group.
            queue.popleft()
            self._queued_chunks -= 1
            self._queued_ticks -= count
            self._sent_seq = head.last_seq
            batch = head.batch_prefix() + wire.send_time(self._wall_us())
            return self._batch_message(batch, count, head.entries[-1][2], head.held)
        return self._coalesce()

    def _coalesce(self) -> Outgoing:
        # A backlog: join queued chunks up to the batch limit (never mutating a shared
        # chunk: a split leaves a private remainder at the head of the queue).
        queue = self._queue
        parts: list[list[Entry]] = []
        count = last_seq = 0
        held = True
        while queue and isinstance(queue[0], Chunk) and count < self._batch_ticks:
            chunk = queue[0]
            room = self._batch_ticks - count
            held = chunk.held  # the newest tick's chunk decides
            if len(chunk.entries) <= room:
                queue.popleft()
                self._queued_chunks -= 1
                parts.append(chunk.entries)
                count += len(chunk.entries)
                last_seq = chunk.last_seq
            else:
                # Split: the rest stays queued; this message is complete up to its last tick.
                head_entries = chunk.entries[:room]
                queue[0] = Chunk(chunk.entries[room:], chunk.last_seq, chunk.held)
                parts.append(head_entries)
                count += room
                last_seq = head_entries[-1][0]
        self._queued_ticks -= count
        last_seq = self._sent_seq = max(last_seq, self._sent_seq)
        ticks = b"".join([entry[2] for part in parts for entry in part])
        first_seq = parts[0][0][0] if count else last_seq
        batch = wire.tick_batch(ticks, first_seq, last_seq, self._wall_us())
        return self._batch_message(batch, count, parts[-1][-1][2] if count else b"", held)

    def _batch_message(self, batch: bytes, ticks: int, last_tick: bytes, held: bool) -> Outgoing:
        payload = framing.batch_response(
            batch, skipped=self._take_skipped(), message_seq=self._next_seq()
        )
        return Outgoing(payload, ticks, last_tick, held)

    def heartbeat_message(self) -> Outgoing:
        """A heartbeat carrying the sequence this session is complete up to."""
        self._heartbeat_due = False
        last_seq = max(self._watermark(), self._floor, self._sent_seq)
        payload = framing.heartbeat_response(
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
        payload = framing.ack_response(ack, snapshot_bytes, self._next_seq())
        return Outgoing(payload, len(snapshot or ()))

    def delivered(self, out: Outgoing) -> None:
        """Count a message the writer has written to the stream: billed at once (it
        survives a crash), reported through meter()."""
        if out.ticks:
            self._bill_ticks(out.ticks)
        self.ticks_delivered += out.ticks
        self.messages_delivered += 1
        self.metrics.delivered(out.ticks, out.last_tick)
        if self._sla is not None and out.last_tick:
            self._sla.offer(self, out.last_tick, out.held)
        if self._closed:
            self.meter()  # a write that completed after close: nobody sweeps us anymore

    def meter(self) -> None:
        """Hand what was delivered since the last call to the usage counter (the fan-out
        calls this before every usage drain: one dict update per session, not per message)."""
        ticks, messages = self._metered
        if self.messages_delivered != messages:
            self._usage.add(
                self.usage_key,
                ticks=self.ticks_delivered - ticks,
                messages=self.messages_delivered - messages,
            )
            self._metered = (self.ticks_delivered, self.messages_delivered)

    def _take_skipped(self) -> int:
        skipped, self._skipped_unsent = self._skipped_unsent, 0
        return skipped

    def _next_seq(self) -> int:
        self._message_seq += 1
        return self._message_seq

    # -- lifecycle and stats --------------------------------------------------

    def close(self, error: MeshError | None = None) -> None:
        """End the session: the writer's next_message returns None (then raises `error`)."""
        if self._closed:
            return
        self._closed = True
        self.error = error
        self._queue.clear()
        self._queued_ticks = self._queued_chunks = 0
        self._wake.set()
        self.meter()

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
