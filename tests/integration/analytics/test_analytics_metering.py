"""Meter -> spool -> analytics store: exactly-once totals through outages and crashes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tickmesh.storage.v1 import storage_pb2

from mesh.metering import Spool, UsageMeter, spool_dir
from mesh.tiers import Tier
from servers.storage.analytics import AnalyticsStore
from tests.integration.analytics.conftest import company_totals
from tests.waiting import eventually

Send = Callable[[storage_pb2.RecordUsageRequest], object]


class Storage:
    """The store behind a sender, with switchable faults."""

    def __init__(self, store: AnalyticsStore) -> None:
        self.store = store
        self.down = False  # refuse before storing (Storage unreachable)
        self.lose_replies = 0  # store, then fail as if the reply were lost
        self.hang_after_store = False  # store, then never answer (crash before the ack)
        self.calls = 0
        self.stored = 0  # calls whose events reached the store

    async def __call__(
        self, request: storage_pb2.RecordUsageRequest
    ) -> storage_pb2.RecordUsageResponse:
        self.calls += 1
        if self.down:
            raise ConnectionError("storage unavailable")
        result = await self.store.record_usage(request.events)
        self.stored += 1
        if self.lose_replies:
            self.lose_replies -= 1
            raise ConnectionError("reply lost")
        if self.hang_after_store:
            await asyncio.Event().wait()
        return result.to_proto()


def _meter(path: Path, sender: Storage) -> UsageMeter:
    return UsageMeter(
        "bridge",
        Spool(spool_dir(path, "bridge")),
        sender,
        flush_interval_s=3600,
        retry_initial_s=0.005,
        retry_max_s=0.02,
    )


def _use(meter: UsageMeter, companies: list[str], ticks: int) -> int:
    """Per-tick adds as the bridge would make them; returns the data points added."""
    for i in range(ticks):
        company_id = companies[i % len(companies)]
        meter.add(company_id, f"user-{i % 3}", Tier.PRO, "bridge", "Subscribe", 1, 2)
    return ticks


async def _wait_for(condition: Callable[[], bool]) -> None:
    await eventually(condition, within=5.0)


async def test_outage_then_recovery_counts_every_tick_once(
    store: AnalyticsStore, company: Callable[[], str], tmp_path: Path
) -> None:
    companies = [company(), company()]
    storage = Storage(store)
    storage.down = True
    meter = _meter(tmp_path, storage)
    meter.start()
    added = 0
    for _ in range(3):  # three flushes while Storage is down
        added += _use(meter, companies, 1000)
        await meter.flush()
    await _wait_for(lambda: meter.stats.send_failures >= 3)
    storage.down = False
    assert await meter.drain(10)
    assert meter.stats.batches_sent == 3
    events = {c: 3 * 3 for c in companies}  # 3 users x 3 flushes per company
    for c in companies:
        totals = await company_totals(store, c)
        assert totals == {k: (events[c], added // 2) for k in ("base", "hourly", "monthly")}
    await meter.stop()


async def test_lost_reply_is_resent_and_reported_as_duplicates(
    store: AnalyticsStore, company: Callable[[], str], tmp_path: Path
) -> None:
    c = company()
    storage = Storage(store)
    storage.lose_replies = 2
    meter = _meter(tmp_path, storage)
    meter.start()
    _use(meter, [c], 500)
    await meter.flush()
    assert await meter.drain(10)
    assert storage.calls == 3
    assert (meter.stats.accepted, meter.stats.duplicates) == (0, 3)  # stored by the first try
    assert await company_totals(store, c) == {k: (3, 500) for k in ("base", "hourly", "monthly")}
    await meter.stop()


async def test_crash_between_send_and_ack_then_restart(
    store: AnalyticsStore, company: Callable[[], str], tmp_path: Path
) -> None:
    c = company()
    storage = Storage(store)
    storage.hang_after_store = True
    crashed = _meter(tmp_path, storage)
    crashed.start()
    _use(crashed, [c], 300)
    await crashed.flush()
    await _wait_for(lambda: storage.stored == 1)  # stored in ClickHouse, the reply never comes
    await crashed.abort()  # the process dies: no ack was written

    storage.hang_after_store = False
    restarted = _meter(tmp_path, storage)  # same spool directory, new process instance
    _use(restarted, [c], 100)
    restarted.start()
    await restarted.flush()
    assert await restarted.drain(10)
    assert restarted.stats.duplicates == 3  # the resent batch: found in storage
    assert restarted.stats.accepted == 3  # the new run's own flush
    assert await company_totals(store, c) == {k: (6, 400) for k in ("base", "hourly", "monthly")}
    await restarted.stop()
