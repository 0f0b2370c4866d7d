"""UsageMeter with a fake sender: aggregation, stable keys, retries, shutdown and restart."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.metering import Spool, UsageMeter, is_permanent
from mesh.metering.ledger import UsageTotals
from mesh.metering.meter import MAX_DATA_POINTS
from mesh.tiers import Tier
from tests.waiting import eventually

C1, C2 = "aaaaaaaaaaaa", "bbbbbbbbbbbb"


class FakeStorage:
    """Records requests; fails the first `failures` sends with UNAVAILABLE-like errors."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.requests: list[storage_pb2.RecordUsageRequest] = []
        self.keys: set[str] = set()

    async def __call__(
        self, request: storage_pb2.RecordUsageRequest
    ) -> storage_pb2.RecordUsageResponse:
        self.requests.append(request)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("storage down")
        fresh = [e for e in request.events if e.idempotency_key not in self.keys]
        self.keys.update(e.idempotency_key for e in fresh)
        return storage_pb2.RecordUsageResponse(
            accepted=len(fresh), duplicates=len(request.events) - len(fresh)
        )


def _meter(path: Path, sender: FakeStorage, **kwargs: object) -> UsageMeter:
    return UsageMeter(
        "bridge",
        Spool(path),
        sender,
        flush_interval_s=3600,
        retry_initial_s=0.001,
        retry_max_s=0.01,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_counts_aggregate_per_cell_with_deterministic_keys(tmp_path: Path) -> None:
    storage = FakeStorage()
    meter = _meter(tmp_path, storage)
    at = int(datetime(2026, 3, 10, tzinfo=UTC).timestamp() * 1e6)
    for i in range(1000):
        meter.add(C1, "u1", Tier.PRO, "bridge", "Subscribe", 1, 5, at_us=at + i)
    meter.add(C1, "u2", Tier.PRO, "bridge", "Subscribe", 3, at_us=at)
    meter.add(C2, "u1", Tier.FREE, "bridge", "GetUsage", at_us=at)
    assert await meter.flush() == 3
    meter.start()
    assert await meter.drain(5)
    (request,) = storage.requests
    events = {(e.company_id, e.user_id): e for e in request.events}
    main = events[(C1, "u1")]
    assert (main.data_points, main.processing_time_us) == (1000, 5000)
    assert main.event_time_us == at + 999
    assert (main.tier, main.billing_period) == (tenancy_pb2.TIER_PRO, "2026-03")
    assert events[(C2, "u1")].tier == tenancy_pb2.TIER_FREE
    assert [e.idempotency_key for e in request.events] == [
        f"bridge:{meter.instance_id}:0:{i}" for i in range(3)
    ]
    assert meter.stats.accepted == 3
    await meter.stop()


async def test_counters_above_the_per_event_cap_are_split(tmp_path: Path) -> None:
    storage = FakeStorage()
    meter = _meter(tmp_path, storage)
    meter.add(C1, "u1", Tier.ENTERPRISE, "bridge", "Subscribe", MAX_DATA_POINTS)
    meter.add(C1, "u1", Tier.ENTERPRISE, "bridge", "Subscribe", 5)
    assert await meter.flush() == 2
    meter.start()
    assert await meter.stop()
    points = sorted(e.data_points for e in storage.requests[0].events)
    assert points == [5, MAX_DATA_POINTS]


async def test_each_month_gets_its_own_event(tmp_path: Path) -> None:
    storage = FakeStorage()
    meter = _meter(tmp_path, storage)
    end_of_feb = int(datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC).timestamp() * 1e6)
    meter.add(C1, "u1", Tier.PRO, "bridge", "Subscribe", at_us=end_of_feb)
    meter.add(C1, "u1", Tier.PRO, "bridge", "Subscribe", at_us=end_of_feb + 2_000_000)
    await meter.flush()
    meter.start()
    assert await meter.stop()
    assert sorted(e.billing_period for e in storage.requests[0].events) == ["2026-02", "2026-03"]


async def test_retries_with_the_same_keys_until_storage_answers(tmp_path: Path) -> None:
    storage = FakeStorage(failures=4)
    meter = _meter(tmp_path, storage)
    meter.start()
    meter.add(C1, "u1", Tier.PRO, "bridge", "Subscribe", 7)
    await meter.flush()
    assert await meter.drain(5)
    assert len(storage.requests) == 5
    assert len({tuple(e.idempotency_key for e in r.events) for r in storage.requests}) == 1
    assert (meter.stats.send_failures, meter.stats.accepted) == (4, 1)
    await meter.stop()


async def test_stop_leaves_undelivered_batches_for_the_next_run(tmp_path: Path) -> None:
    down = FakeStorage(failures=10**6)
    first = _meter(tmp_path, down)
    first.start()
    first.add(C1, "u1", Tier.PRO, "bridge", "Subscribe", 11)
    assert not await first.stop(drain_timeout_s=0.05)  # flushed to the spool, not sent
    sent_keys = {e.idempotency_key for r in down.requests for e in r.events}

    up = FakeStorage()
    second = _meter(tmp_path, up)
    second.add(C1, "u1", Tier.PRO, "bridge", "Subscribe", 1)
    second.start()
    await second.flush()
    assert await second.drain(5)
    resent = up.requests[0]  # the earlier run's batch goes first, with its original keys
    assert {e.idempotency_key for e in resent.events} == sent_keys
    assert [e.data_points for e in resent.events] == [11]
    assert up.requests[1].events[0].idempotency_key.startswith(f"bridge:{second.instance_id}:")
    assert second.instance_id != first.instance_id
    await second.stop()


async def test_a_batch_refused_for_good_is_dead_lettered(tmp_path: Path) -> None:
    refused = grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT, grpc.aio.Metadata(), grpc.aio.Metadata(), "too big"
    )
    assert is_permanent(refused)
    assert not is_permanent(ConnectionError())

    async def refuse(_: storage_pb2.RecordUsageRequest) -> storage_pb2.RecordUsageResponse:
        raise refused

    meter = UsageMeter("bridge", Spool(tmp_path), refuse, flush_interval_s=3600)
    meter.add(C1, "u1", Tier.PRO, "bridge", "Subscribe")
    meter.start()
    await meter.flush()
    assert await meter.drain(5)
    assert meter.stats.dead_lettered == 1
    assert len(list((tmp_path / "main.dead").iterdir())) == 1
    await meter.stop()


async def test_the_flush_loop_runs_on_its_interval(tmp_path: Path) -> None:
    storage = FakeStorage()
    meter = UsageMeter("bridge", Spool(tmp_path), storage, flush_interval_s=0.02)
    meter.start()
    meter.add(C1, "u1", Tier.PRO, "bridge", "Subscribe")
    for _ in range(100):
        if storage.requests:
            break
        await asyncio.sleep(0.01)
    assert storage.requests
    await meter.stop()


async def test_a_flush_cancelled_mid_write_neither_loses_nor_doubles(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    real_append = spool.append

    writing = threading.Event()

    def slow_append(payload: bytes, marks: object = None) -> int:
        writing.set()
        time.sleep(0.1)  # a slow disk: the fsync outlasts the cancellation
        return real_append(payload, marks)  # type: ignore[arg-type]

    spool.append = slow_append  # type: ignore[method-assign]
    meter = UsageMeter("bridge", spool, FakeStorage(), flush_interval_s=3600)
    meter.add(C1, "u1", Tier.PRO, "bridge", "Subscribe", 9)
    flushing = asyncio.create_task(meter.flush())
    # Cancel only once the write is under way (a bounded wait, not a guessed sleep).
    assert await asyncio.to_thread(writing.wait, 10)
    flushing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await flushing
    # The batch landed in the spool, so the counters must not be put back as well.
    assert len(spool) == 1
    assert await meter.flush() == 0
    await meter.abort()


async def test_metered_and_acknowledged_totals_survive_restarts(tmp_path: Path) -> None:
    at = int(datetime(2026, 3, 10, tzinfo=UTC).timestamp() * 1e6)
    first = _meter(tmp_path, FakeStorage())
    first.start()
    first.add(C1, "u1", Tier.PRO, "bridge", "ticks", 40, at_us=at)
    first.add(C1, "u2", Tier.PRO, "bridge", "ticks", 2, at_us=at)
    await first.flush()
    assert await first.drain(5)
    assert first.ledger.totals(C1, "2026-03", "bridge", "ticks") == UsageTotals(42, 42)
    first.add(C1, "u1", Tier.PRO, "bridge", "ticks", 8, at_us=at)
    assert await first.stop()

    down = FakeStorage(failures=10**6)
    second = _meter(tmp_path, down)
    assert second.ledger.totals(C1, "2026-03", "bridge", "ticks") == UsageTotals(50, 50)
    second.start()
    second.add(C1, "u1", Tier.PRO, "bridge", "ticks", 5, at_us=at)
    assert not await second.stop(drain_timeout_s=0.05)  # spooled, not acknowledged

    third = _meter(tmp_path, FakeStorage())
    assert third.ledger.totals(C1, "2026-03", "bridge", "ticks") == UsageTotals(55, 50)
    assert third.ledger.earlier("bridge", "ticks") == {("2026-03", C1): 55}
    third.start()
    assert await third.drain(5)
    assert third.ledger.totals(C1, "2026-03", "bridge", "ticks") == UsageTotals(55, 55)
    await third.stop()


async def test_refused_usage_is_metered_but_never_acknowledged(tmp_path: Path) -> None:
    async def reject(request: storage_pb2.RecordUsageRequest) -> storage_pb2.RecordUsageResponse:
        first = request.events[0].idempotency_key
        return storage_pb2.RecordUsageResponse(
            accepted=len(request.events) - 1,
            rejected=[storage_pb2.UsageRejection(idempotency_key=first, reason="unknown company")],
        )

    at = int(datetime(2026, 3, 10, tzinfo=UTC).timestamp() * 1e6)
    meter = UsageMeter("bridge", Spool(tmp_path), reject, flush_interval_s=3600)
    meter.add(C1, "u1", Tier.PRO, "bridge", "ticks", 3, at_us=at)
    meter.add(C2, "u1", Tier.PRO, "bridge", "ticks", 4, at_us=at)
    meter.start()
    await meter.flush()
    assert await meter.drain(5)
    assert meter.ledger.totals(C1, "2026-03", "bridge", "ticks") == UsageTotals(3, 0)
    assert meter.ledger.totals(C2, "2026-03", "bridge", "ticks") == UsageTotals(4, 4)
    await meter.stop()
    again = UsageMeter("bridge", Spool(tmp_path), reject, flush_interval_s=3600)
    assert again.ledger.totals(C1, "2026-03", "bridge", "ticks") == UsageTotals(3, 0)
    await again.abort()


async def test_a_reconnect_resends_at_once_instead_of_waiting_out_the_backoff(
    tmp_path: Path,
) -> None:
    storage = FakeStorage(failures=1)
    back = asyncio.Event()

    async def reconnected() -> None:
        await back.wait()

    # A backoff of a minute: only the reconnect can bring the resend within the test.
    meter = UsageMeter(
        "bridge", Spool(tmp_path), storage, flush_interval_s=3600,
        retry_initial_s=60, retry_max_s=60, reconnected=reconnected,
    )  # fmt: skip
    meter.add(C1, "u1", Tier.PRO, "bridge", "ticks", 6)
    meter.start()
    await meter.flush()
    await eventually(lambda: meter.stats.send_failures == 1, "the first send to fail")
    assert not await meter.drain(0.1)  # still waiting to retry
    back.set()
    assert await meter.drain(5)
    assert meter.stats.accepted == 1
    await meter.stop()
