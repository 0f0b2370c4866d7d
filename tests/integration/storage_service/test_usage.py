"""Usage through Storage: recorded exactly once per key, queried per tenant, bad events refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import grpc
import pytest
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import PRO, StorageMesh


def _event(
    company: str, user: str, key: str, points: int, **fields: object
) -> tenancy_pb2.UsageEvent:
    now_us = int(time.time() * 1e6)
    period = datetime.fromtimestamp(now_us / 1e6, UTC).strftime("%Y-%m")
    base: dict[str, object] = {
        "idempotency_key": key, "company_id": company, "user_id": user, "tier": PRO,
        "service": "bridge", "endpoint": "Subscribe", "data_points": points,
        "processing_time_us": 150, "event_time_us": now_us, "billing_period": period,
    }  # fmt: skip
    return tenancy_pb2.UsageEvent(**(base | fields))  # type: ignore[arg-type]


def _period() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


async def test_a_batch_retried_any_number_of_times_is_counted_once(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    bridge = storage_mesh.service_stub("bridge")
    batch = storage_pb2.RecordUsageRequest(
        events=[_event(tenant.company_id, tenant.user_id, f"b:1:{i}", 100 + i) for i in range(50)]
    )
    replies = [await bridge.RecordUsage(batch) for _ in range(5)]
    assert (replies[0].accepted, replies[0].duplicates) == (50, 0)
    assert all((r.accepted, r.duplicates) == (0, 50) for r in replies[1:])
    usage = await storage_mesh.storage_stub(tenant.api_key).QueryUsage(
        storage_pb2.QueryUsageRequest(billing_period=_period())
    )
    assert [(r.events, r.data_points) for r in usage.rows] == [(50, sum(range(100, 150)))]


async def test_bad_events_are_refused_one_by_one_and_the_rest_kept(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    c, u = tenant.company_id, tenant.user_id
    far_future = int((time.time() + 86_400) * 1e6)
    too_old = int((time.time() - 90 * 86_400) * 1e6)
    events = [
        _event(c, u, "ok:1", 10),
        _event(c, u, "neg", -5),
        _event(c, u, "absurd", 10**12),
        _event(c, u, "future", 1, event_time_us=far_future),
        _event(c, u, "old", 1, event_time_us=too_old),
        _event("0123456789ab", u, "unknown-company", 1),
        _event(c, u, "", 1),
        _event(c, u, "ok:2", 20),
    ]
    reply = await storage_mesh.service_stub().RecordUsage(
        storage_pb2.RecordUsageRequest(events=events)
    )
    assert reply.accepted == 2 and reply.duplicates == 0
    assert sorted(r.index for r in reply.rejected) == [1, 2, 3, 4, 5, 6]
    assert all(r.reason for r in reply.rejected)
    total = await storage_mesh.storage_stub(tenant.api_key).QueryUsage(
        storage_pb2.QueryUsageRequest(billing_period=_period())
    )
    assert total.rows[0].data_points == 30


async def test_usage_is_private_and_recorded_only_by_services(storage_mesh: StorageMesh) -> None:
    a, b = await storage_mesh.tenant(), await storage_mesh.tenant(name="Beta Capital")
    as_a = storage_mesh.storage_stub(a.api_key)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await as_a.RecordUsage(
            storage_pb2.RecordUsageRequest(events=[_event(a.company_id, a.user_id, "x", 1)])
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await as_a.QueryUsage(
            storage_pb2.QueryUsageRequest(company_id=b.company_id, billing_period=_period())
        )
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as oversize:
        await storage_mesh.service_stub().RecordUsage(
            storage_pb2.RecordUsageRequest(
                events=[_event(a.company_id, a.user_id, f"k{i}", 1) for i in range(10_001)]
            )
        )
    assert oversize.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_sla_samples_round_trip_per_tier(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant(PRO)
    now_us = int(time.time() * 1e6)
    samples = [
        storage_pb2.SlaSample(
            company_id=tenant.company_id, tier=PRO, service="bridge", latency_us=latency,
            within_target=latency <= 100_000, time_us=now_us,
        )
        for latency in [5_000] * 98 + [150_000] * 2
    ]  # fmt: skip
    bridge = storage_mesh.service_stub("bridge")
    assert (await bridge.RecordSla(storage_pb2.RecordSlaRequest(samples=samples))).accepted == 100
    figures = await bridge.QuerySla(
        storage_pb2.QuerySlaRequest(billing_period=_period(), company_id=tenant.company_id)
    )
    mine = [f for f in figures.figures if f.company_id == tenant.company_id]
    assert len(mine) == 1
    assert (mine[0].samples, mine[0].within_target, mine[0].latency_p50_us) == (100, 98, 5_000)
