"""Quota threshold events: which call crosses, what is reported, retried until it lands."""

from __future__ import annotations

import asyncio
import json

from tickmesh.storage.v1 import storage_pb2

from mesh.backoff import Backoff
from mesh.tenancy.quota import CallQuota
from mesh.tenancy.quota_events import EXHAUSTED, WARNING, QuotaEvents, crossed
from mesh.tiers import Tier

MIDNIGHT = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _quota(used: int, limit: int | None = 1000, allowed: bool = True) -> CallQuota:
    remaining = None if limit is None else limit - used
    return CallQuota("c0ffee000001", Tier.FREE, allowed, limit, used, remaining, MIDNIGHT, 60.0,
                     False)  # fmt: skip


def test_only_the_call_that_steps_over_a_threshold_reports_it() -> None:
    assert crossed(_quota(799)) == []
    assert crossed(_quota(800)) == [WARNING]
    assert crossed(_quota(801)) == []
    assert crossed(_quota(1000)) == [EXHAUSTED]
    assert crossed(_quota(1000, allowed=False)) == []  # refused calls are not counted
    assert crossed(_quota(5, limit=None)) == []  # enterprise: unlimited
    # A call costing several units may step over both at once.
    assert crossed(_quota(1000), cost=300) == [WARNING, EXHAUSTED]


async def test_a_report_is_retried_until_storage_takes_it() -> None:
    sent: list[storage_pb2.EmitEventRequest] = []
    failures = [ConnectionError("storage away")] * 2
    landed = asyncio.Event()

    async def send(request: storage_pb2.EmitEventRequest) -> None:
        if failures:
            raise failures.pop()
        sent.append(request)
        landed.set()

    events = QuotaEvents(send, backoff=Backoff(initial_s=0.001, max_s=0.001, jitter=0))
    events.observe(_quota(800))
    async with asyncio.timeout(5):
        await landed.wait()
    await events.drain()
    [request] = sent
    assert request.type == WARNING and request.company_id == "c0ffee000001"
    assert request.dedupe_key == "quota.warning:c0ffee000001:2025-12-31"
    data = json.loads(request.data_json)
    assert (data["used"], data["limit"], data["tier"]) == (800, 1000, "free")
    assert data["resets_at"] == "2026-01-01T00:00:00+00:00"
