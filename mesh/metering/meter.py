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
from datetime import UTC, datetime

import grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.backoff import Backoff
from mesh.logging import error_fields
from mesh.metering.ledger import UsageLedger
from mesh.metering.spool import Spool
from mesh.protoconv import tier_to_proto
from mesh.tiers import Tier

# The path of one unit of usage: `add` bumps a counter in memory (no I/O, no await);
# every flush interval the counters become UsageEvents whose idempotency keys
# ("<component>:<instance>:<flush seq>:<index>") are fixed before the first send and
# stored with the batch in the spool (fsynced); a single sender task then delivers the
# spool oldest first, retrying with backoff while Storage is down, and acknowledges a
# batch only after Storage answered. After a restart the pending batches are resent
# with their original keys, so Storage counts them once (it reports them as duplicates
# when an earlier send had landed but its answer was lost).
#
# What can be lost: counters not yet flushed when the process is killed (at most one
# flush interval of usage); `stop()` flushes them on an orderly shutdown.
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
# (company_id, user_id, tier, service, endpoint, billing_period)
CellKey = tuple[str, str, Tier, str, str, str]

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


class _Period:
    """The billing period of the current month, recomputed only when the month changes."""

    def __init__(self) -> None:
        self.start_us = self.end_us = 0
        self.name = ""

    def of(self, at_us: int) -> str:
        if not self.start_us <= at_us < self.end_us:
            moment = datetime.fromtimestamp(at_us / 1e6, UTC)
            start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
            end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
            self.start_us = int(start.timestamp()) * 1_000_000
            self.end_us = int(end.timestamp()) * 1_000_000
            self.name = f"{start.year:04d}-{start.month:02d}"
        return self.name


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
        self._period = _Period()
        # cell -> [data_points, processing_time_us, last_event_time_us]
        self._cells: dict[CellKey, list[int]] = {}
        self._seq = 0
        self._flush_lock = asyncio.Lock()
        self._flush_now = asyncio.Event()
        self._wake_sender = asyncio.Event()
        self._idle = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
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
        """Count usage; O(1), no I/O, safe to call per tick on the event loop thread."""
        now = self._clock_us() if at_us is None else at_us
        key = (company_id, user_id, tier, service, endpoint, self._period.of(now))
        cell = self._cells.get(key)
        if cell is None:
            self._cells[key] = [data_points, processing_time_us, now]
            if len(self._cells) >= self._max_cells:
                self._flush_now.set()  # keep a flush within one request's size
            return
        cell[0] += data_points
        cell[1] += processing_time_us
        if now > cell[2]:
            cell[2] = now

    def _events(self, cells: dict[CellKey, list[int]]) -> list[tenancy_pb2.UsageEvent]:
        events = []
        for (company, user, tier, service, endpoint, period), (points, spent, at) in cells.items():
            proto_tier = tier_to_proto(tier)
            # A counter above Storage's per-event caps is spread over several events.
            for p, t in itertools.zip_longest(
                _split(points, MAX_DATA_POINTS), _split(spent, MAX_PROCESSING_TIME_US), fillvalue=0
            ):
                events.append(
                    tenancy_pb2.UsageEvent(
                        company_id=company,
                        user_id=user,
                        tier=proto_tier,
                        service=service,
                        endpoint=endpoint,
                        data_points=p,
                        processing_time_us=t,
                        event_time_us=at,
                        billing_period=period,
                    )
                )
        return events

    async def flush(self) -> int:
        """Turn the counters into spooled batches (durable on return); returns events spooled."""
        async with self._flush_lock:
            cells, self._cells = self._cells, {}
            if not cells:
                return 0
            events = self._events(cells)
            spooled = 0
            cancelled = False
            try:
                for start in range(0, len(events), MAX_BATCH_EVENTS):
                    chunk = events[start : start + MAX_BATCH_EVENTS]
                    seq = self._seq
                    self._seq += 1
                    prefix = f"{self.component}:{self.instance_id}:{seq}:"
                    for index, event in enumerate(chunk):
                        event.idempotency_key = f"{prefix}{index}"
                    payload = storage_pb2.RecordUsageRequest(events=chunk).SerializeToString()
                    cancelled = await self._append(payload)
                    self.ledger.spooled(chunk)
                    spooled += len(chunk)
                    self.stats.batches_spooled += 1
                    self._idle.clear()
                    self._wake_sender.set()
                    if cancelled:
                        break
            except BaseException:
                # Not durable: put the rest back so the next flush retries it.
                self._restore(events[spooled:])
                raise
            finally:
                self.stats.events_spooled += spooled
            if cancelled:
                self._restore(events[spooled:])
                raise asyncio.CancelledError
            return spooled

    async def _append(self, payload: bytes) -> bool:
        """Spool a batch; True when cancellation was requested while it was being written.

        The write runs on a thread and cannot be stopped: re-raising at once would make
        flush() put back counters whose batch lands anyway, counting them twice. So a
        cancellation waits for the write, and only a failed write propagates it at once.
        """
        write = asyncio.ensure_future(asyncio.to_thread(self._spool.append, payload))
        try:
            await asyncio.shield(write)
        except asyncio.CancelledError:
            await asyncio.wait([write])
            if write.exception() is not None:
                raise
            return True
        return False

    def _restore(self, events: list[tenancy_pb2.UsageEvent]) -> None:
        for e in events:
            tier = next(t for t in Tier if tier_to_proto(t) == e.tier)
            self.add(
                e.company_id,
                e.user_id,
                tier,
                e.service,
                e.endpoint,
                e.data_points,
                e.processing_time_us,
                e.event_time_us,
            )

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

    @staticmethod
    async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
