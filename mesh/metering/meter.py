"""UsageMeter: in-process usage aggregation, spooled durably and delivered exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.backoff import Backoff
from mesh.logging import error_fields
from mesh.metering.ledger import UsageLedger
from mesh.metering.spool import Marks, Spool
from mesh.metering.tally import WIDTH, Period, Tally, TallyCounter, last_instant_us
from mesh.protoconv import tier_to_proto
from mesh.tiers import Tier

# The path of one unit of usage: `add` (or a `counter`'s add) bumps a cumulative counter
# in the tally (tally.py), a file mapping that outlives a SIGKILL of the process; every
# flush interval what the counters gained since the last batch becomes UsageEvents
# whose idempotency keys ("<component>:<instance>:<flush seq>:<index>") are fixed before
# the first send, stored in the spool (fsynced) in one record with the marks (per slot,
# the counts the batch brings the spool to); a single sender task then delivers the spool
# oldest first, retrying with backoff while Storage is down, and acknowledges a batch
# only after Storage answered. After a restart the pending batches are resent with their
# original keys, so Storage counts them once (it reports them as duplicates when an
# earlier send had landed but its answer was lost).
#
# Recovery: on open, what the tally counted beyond the spool's marks (what a killed
# process counted and never spooled) is spooled before anything else, under keys made
# of the tally's uid, the slot and its marks: a recovery killed before its append emits
# the same events under the same keys when it runs again, and one killed after finds
# the marks moved on. A batch exists exactly when its marks do, so nothing is spooled
# twice or never. What can be lost: counts of the last flush interval on a machine
# crash (the mapping is never fsynced); `stop()` flushes them on an orderly shutdown.
#
# The ledger (ledger.py) totals what was spooled and what Storage acknowledged, per
# period, company and endpoint, from the batches and receipts the spool keeps, so those
# totals survive restarts too. After a failed send the sender waits for the backoff or,
# sooner, for `reconnected` (the channel to Storage becoming READY again): a Storage that
# comes back gets the backlog at once, not when a timer grown during the outage fires.

log = logging.getLogger(__name__)

Sender = Callable[[storage_pb2.RecordUsageRequest], Awaitable[storage_pb2.RecordUsageResponse]]
Reconnected = Callable[[], Awaitable[None]]
"""Returns once the receiver may be reachable again (see mesh.connectivity)."""

MAX_BATCH_EVENTS = 10_000  # Storage refuses larger requests
# Storage's per-event sanity caps; a bigger counter is split over several events.
MAX_DATA_POINTS = 10**9
MAX_PROCESSING_TIME_US = 10**12
COMPONENT = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def is_permanent(exc: BaseException) -> bool:
    """Whether resending the same batch can never succeed (the default policy).

    Only INVALID_ARGUMENT: the batch itself is refused. Every other failure
    (unavailable, deadline, auth being rotated, a bug being fixed) is retried, since
    giving up would lose usage.
    """
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() == grpc.StatusCode.INVALID_ARGUMENT


@dataclass(slots=True)
class MeterStats:
    """Counters for metrics and tests."""

    events_spooled: int = 0
    batches_spooled: int = 0
    batches_sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    send_failures: int = 0
    dead_lettered: int = 0


class _NotDelivered(Exception):
    """A send failed and will be retried."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def _refused(response: storage_pb2.RecordUsageResponse) -> set[str]:
    return {r.idempotency_key for r in response.rejected}


def _restore_ledger(spool: Spool) -> UsageLedger:
    """The ledger of what `spool` holds and has held (see ledger.py)."""
    settled = [
        (
            storage_pb2.RecordUsageRequest.FromString(batch).events,
            _refused(storage_pb2.RecordUsageResponse.FromString(receipt)),
        )
        for batch, receipt in spool.acknowledged_since
    ]
    spool.acknowledged_since = []
    pending = (storage_pb2.RecordUsageRequest.FromString(p).events for _, p in spool.pending())
    return UsageLedger.restore(spool.checkpoint, settled, pending)


@dataclass(slots=True)
class _Batch:
    """Events to spool together, and the marks (slot -> counts) they bring the spool to."""

    events: list[tenancy_pb2.UsageEvent]
    marks: Marks


def _split(total: int, cap: int) -> list[int]:
    parts = [cap] * (total // cap)
    if total % cap or not parts:
        parts.append(total % cap)
    return parts


class UsageMeter:
    """Aggregates usage per (company, user, tier, service, endpoint) and delivers it."""

    def __init__(
        self,
        component: str,
        spool: Spool,
        sender: Sender,
        *,
        flush_interval_s: float = 1.0,
        max_cells: int = MAX_BATCH_EVENTS,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 5.0,
        reconnected: Reconnected | None = None,
        permanent: Callable[[BaseException], bool] = is_permanent,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        if not COMPONENT.fullmatch(component):
            raise ValueError(f"component {component!r} must be 1-40 of [A-Za-z0-9_.-]")
        self.component = component
        # New per process run, so keys never collide with an earlier run's, even if the
        # spool file was lost: a reused key would make Storage drop new usage.
        self.instance_id = secrets.token_hex(6)
        self.stats = MeterStats()
        self._spool = spool
        self._sender = sender
        self._interval = flush_interval_s
        self._max_cells = max_cells
        # Jittered, so many producers do not retry in lockstep.
        self._retry = Backoff(initial_s=retry_initial_s, max_s=retry_max_s, jitter=0.5)
        self._reconnected = reconnected
        self._permanent = permanent
        self._clock_us = clock_us
        self._period = Period()
        # Beside the spool and under its lock: one process at a time.
        self._tally = Tally(spool.directory, spool.path.stem)
        self._seq = 0
        self._flush_lock = asyncio.Lock()
        self._flush_now = asyncio.Event()
        self._wake_sender = asyncio.Event()
        self._idle = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._recover()
        self.ledger = _restore_ledger(spool)
        """What this spool metered and Storage acknowledged, over every run of the process."""
        spool.summarize = self.ledger.summary

    # -- producing ------------------------------------------------------------------

    def add(
        self,
        company_id: str,
        user_id: str,
        tier: Tier,
        service: str,
        endpoint: str,
        data_points: int = 1,
        processing_time_us: int = 0,
        at_us: int | None = None,
    ) -> None:
        """Count usage; O(1), no syscall, safe to call per tick on the event loop thread."""
        now = self._clock_us() if at_us is None else at_us
        tally = self._tally
        slot = tally.slot((company_id, user_id, tier, service, endpoint, self._period.of(now)))
        cells = tally.cells
        base = slot * WIDTH
        if tally.added >= self._max_cells:
            self._flush_now.set()  # keep a flush within one request's size
        cells[base] += data_points
        cells[base + 1] += processing_time_us
        if now > cells[base + 2]:
            cells[base + 2] = now

    def counter(
        self, company_id: str, user_id: str, tier: Tier, service: str, endpoint: str
    ) -> TallyCounter:
        """A counter of one key's data points for a hot path (add: a memory write)."""
        return TallyCounter(self._tally, (company_id, user_id, tier, service, endpoint))

    def _unspooled(self, keys: Callable[[int, Marks], str] | None = None) -> list[_Batch]:
        """What the tally counted beyond the spool's marks, as batches of events, each
        with the marks it brings the spool to. `keys(slot, old marks)` names the events
        of a slot (index appended); without it they are named per batch at spooling."""
        cells = self._tally.cells
        marks = self._spool.marks
        now = self._clock_us()
        batches: list[_Batch] = []
        for (company, user, tier, service, endpoint, period), slot in self._tally.items():
            base = slot * WIDTH
            points, spent, at = cells[base], cells[base + 1], cells[base + 2]
            done_points, done_spent = marks.get(slot, (0, 0))
            if points == done_points and spent == done_spent:
                continue
            if not at:  # counted by a TallyCounter, which keeps no time: now, in its period
                at = min(now, last_instant_us(period))
            events = []
            # A counter above Storage's per-event caps is spread over several events.
            for p, t in itertools.zip_longest(
                _split(points - done_points, MAX_DATA_POINTS),
                _split(spent - done_spent, MAX_PROCESSING_TIME_US),
                fillvalue=0,
            ):
                events.append(
                    tenancy_pb2.UsageEvent(
                        company_id=company,
                        user_id=user,
                        tier=tier_to_proto(tier),
                        service=service,
                        endpoint=endpoint,
                        data_points=p,
                        processing_time_us=t,
                        event_time_us=at,
                        billing_period=period,
                    )
                )
            if keys is not None:
                prefix = keys(slot, {slot: (done_points, done_spent)})
                for index, event in enumerate(events):
                    event.idempotency_key = f"{prefix}{index}"
            if not batches or len(batches[-1].events) + len(events) > MAX_BATCH_EVENTS:
                batches.append(_Batch([], {}))
            batches[-1].events.extend(events)
            batches[-1].marks[slot] = (points, spent)
        return batches

    def _recover(self) -> None:
        """Spool what an earlier run counted and never spooled (see the top comment)."""
        cells = self._tally.cells
        for slot, (points, spent) in self._spool.marks.items():
            # The mapping is not fsynced: after a machine crash it may lag the spool.
            base = slot * WIDTH
            if slot < len(cells) // WIDTH and cells[base] < points:
                cells[base], cells[base + 1] = points, max(cells[base + 1], spent)
        uid = self._tally.uid

        def keys(slot: int, marks: Marks) -> str:
            points, spent = marks[slot]
            return f"{self.component}:{uid}:{slot}:{points}:{spent}:"

        batches = self._unspooled(keys)
        if batches:
            self._tally.sync_keys()
        for batch in batches:
            self._spool.append(
                storage_pb2.RecordUsageRequest(events=batch.events).SerializeToString(),
                batch.marks,
            )
            self.stats.batches_spooled += 1
            self.stats.events_spooled += len(batch.events)
        if batches:
            log.info(
                "usage counted but not spooled by the previous run recovered: %d events",
                sum(len(b.events) for b in batches),
            )

    async def flush(self) -> int:
        """Spool what was counted since the last flush (durable on return); returns events
        spooled."""
        async with self._flush_lock:
            self._tally.added = 0
            spooled = 0
            try:
                for batch in self._unspooled():
                    seq = self._seq
                    self._seq += 1
                    prefix = f"{self.component}:{self.instance_id}:{seq}:"
                    for index, event in enumerate(batch.events):
                        event.idempotency_key = f"{prefix}{index}"
                    payload = storage_pb2.RecordUsageRequest(events=batch.events)
                    # Nothing to put back on failure: the counts stay in the tally, beyond
                    # the marks, for the next flush.
                    cancelled = await self._append(payload.SerializeToString(), batch.marks)
                    self.ledger.spooled(batch.events)
                    spooled += len(batch.events)
                    self.stats.batches_spooled += 1
                    self._idle.clear()
                    self._wake_sender.set()
                    if cancelled:
                        raise asyncio.CancelledError
            finally:
                self.stats.events_spooled += spooled
            return spooled

    def _write(self, payload: bytes, marks: Marks) -> int:
        # The key table first: a durable batch must never name a slot a crash forgets.
        self._tally.sync_keys()
        return self._spool.append(payload, marks)

    async def _append(self, payload: bytes, marks: Marks) -> bool:
        """Spool a batch; True when cancellation was requested while it was being written.

        The write runs on a thread and cannot be stopped: re-raising at once would let a
        caller believe the batch was not spooled while it lands anyway. So a cancellation
        waits for the write, and only a failed write propagates it at once.
        """
        write = asyncio.ensure_future(asyncio.to_thread(self._write, payload, marks))
        try:
            await asyncio.shield(write)
        except asyncio.CancelledError:
            await asyncio.wait([write])
            if write.exception() is not None:
                raise
            return True
        return False

    # -- delivering -----------------------------------------------------------------

    async def _send_one(self, batch_id: int) -> None:
        """Send one spooled batch and settle it (acknowledged or set aside); raises
        _NotDelivered when it is to be sent again."""
        payload = await asyncio.to_thread(self._spool.read, batch_id)
        request = storage_pb2.RecordUsageRequest.FromString(payload)
        try:
            response = await self._sender(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._permanent(exc):
                # A receipt refusing every event: metered, but never acknowledged.
                receipt = storage_pb2.RecordUsageResponse(
                    rejected=[
                        storage_pb2.UsageRejection(
                            idempotency_key=e.idempotency_key, reason="dead-lettered"
                        )
                        for e in request.events
                    ]
                )
                self.ledger.settled(request.events, _refused(receipt))
                path = await asyncio.to_thread(
                    self._spool.dead_letter, batch_id, receipt.SerializeToString()
                )
                self.stats.dead_lettered += 1
                log.error(
                    "usage batch %d refused for good; kept at %s", batch_id, path,
                    extra=error_fields(exc),
                )  # fmt: skip
                return
            self.stats.send_failures += 1
            raise _NotDelivered(exc) from None
        # Rejected events are refused for good (invalid): resending cannot change that.
        # Into the ledger before the ack: a compaction during the ack checkpoints it.
        self.ledger.settled(request.events, _refused(response))
        await asyncio.to_thread(self._spool.ack, batch_id, response.SerializeToString())
        self.stats.batches_sent += 1
        self.stats.accepted += response.accepted
        self.stats.duplicates += response.duplicates
        self.stats.rejected += len(response.rejected)
        if response.rejected:
            first = response.rejected[0]
            log.error(
                "usage batch %d: %d events rejected, e.g. %s: %s",
                batch_id,
                len(response.rejected),
                first.idempotency_key,
                first.reason,
            )

    async def _send_loop(self) -> None:
        failures = 0  # in a row
        while True:
            ids = self._spool.pending_ids()
            if not ids:
                self._idle.set()
                await self._wake_sender.wait()
                self._wake_sender.clear()
                continue
            try:
                await self._send_one(ids[0])
            except _NotDelivered as exc:
                # One warning per outage, not one per attempt: the spool keeps the usage.
                level = logging.WARNING if failures == 0 else logging.DEBUG
                log.log(
                    level,
                    "usage batch %d not delivered, will retry",
                    ids[0],
                    extra=error_fields(exc.error),
                )
                await self._wait_to_retry(self._retry.delay(failures))
                failures += 1
                continue
            if failures:
                log.info("usage delivery resumed after %d failed attempts", failures)
            failures = 0

    async def _wait_to_retry(self, delay_s: float) -> None:
        if self._reconnected is None:
            await asyncio.sleep(delay_s)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reconnected(), delay_s)

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), self._interval)
            self._flush_now.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("usage flush failed; counters kept for the next one")

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Start delivering (pending batches of an earlier run first) and flushing."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._send_loop(), name=f"usage-send-{self.component}"),
            asyncio.create_task(self._flush_loop(), name=f"usage-flush-{self.component}"),
        ]

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every spooled batch is acknowledged; False on timeout."""
        self._wake_sender.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return not self._spool.pending_ids()

    async def stop(self, drain_timeout_s: float = 5.0) -> bool:
        """Flush, try to deliver for up to drain_timeout_s, then stop and close the spool.

        Returns True when nothing is left pending; what is left is resent on next start.
        """
        await self._cancel(self._tasks[1:])
        await self.flush()
        if self._tasks:
            self._idle.clear()
            delivered = await self.drain(drain_timeout_s)
        else:
            delivered = not self._spool.pending_ids()
        await self.abort()
        return delivered

    async def abort(self) -> None:
        """Stop at once without flushing or acknowledging, as a crash would; close the spool."""
        await self._cancel(self._tasks)
        self._tasks = []
        self._spool.close()
        self._tally.close()

    @staticmethod
    async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
