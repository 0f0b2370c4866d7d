"""The subscription lifecycle on Temporal, driven by the test clock over real services:
a month end closes every company's period once, applies END_OF_TERM changes at the
boundary, expires past-due subscriptions to free, and retention follows business time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from tickmesh.billing.v1 import billing_pb2
from tickmesh.common.v1 import billing_pb2 as common_billing_pb2
from tickmesh.storage.v1 import storage_pb2
from tickmesh.workflow.v1 import lifecycle_pb2, lifecycle_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from servers.workflow.months import next_month_start
from tests.integration.storage_service.conftest import ENTERPRISE, FREE, PRO, StorageMesh, Tenant
from tests.integration.workflow.conftest import WorkflowMesh
from tests.waiting import eventually

pytestmark = pytest.mark.parametrize("storage_mesh", ["real"], indirect=True)


def _by(days: int) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromTimedelta(timedelta(days=days))
    return out


def _stamp(value: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


async def _closed_position(mesh: StorageMesh, tenant: Tenant, closed_at: datetime) -> str:
    stub = mesh.storage_stub(tenant.api_key)
    account = await stub.CreateBrokerAccount(
        storage_pb2.CreateBrokerAccountRequest(
            user_id=tenant.user_id, broker="ic_markets", account_number="1001"
        )
    )
    reply = await stub.RecordPositions(
        storage_pb2.RecordPositionsRequest(
            positions=[
                storage_pb2.Position(
                    account_id=account.account.account_id,
                    symbol="EURUSD",
                    side="buy",
                    volume="0.10",
                    open_price="1.08510",
                    close_price="1.08610",
                    opened_at=_stamp(closed_at - timedelta(hours=1)),
                    closed_at=_stamp(closed_at),
                )
            ]
        )
    )
    return str(reply.position_ids[0])


async def _positions(mesh: StorageMesh, tenant: Tenant) -> list[str]:
    reply = await mesh.storage_stub(tenant.api_key).ListPositions(
        storage_pb2.ListPositionsRequest(include_closed=True)
    )
    return [p.position_id for p in reply.positions]


async def _tier(mesh: StorageMesh, tenant: Tenant) -> int:
    reply = await mesh.storage_stub(tenant.api_key).GetSubscription(
        storage_pb2.GetSubscriptionRequest()
    )
    return int(reply.subscription.tier)


async def test_a_month_end_runs_by_the_test_clock(workflow_mesh: WorkflowMesh) -> None:
    mesh, lifecycle = workflow_mesh.mesh, workflow_mesh.lifecycle
    downgrading = await mesh.tenant(PRO, name="Downgrading Ltd")
    past_due = await mesh.tenant(PRO, name="Past Due Ltd")
    staying = await mesh.tenant(FREE, name="Free Forever")
    steady = await mesh.tenant(PRO, name="Pro Steady")
    await mesh.billing_stub(downgrading.api_key).ChangeTier(
        billing_pb2.ChangeTierRequest(
            tier=FREE, effect=common_billing_pb2.CHANGE_EFFECT_END_OF_TERM
        )
    )
    await mesh.operator.MarkPastDue(storage_pb2.MarkPastDueRequest(company_id=past_due.company_id))
    now = datetime.now(UTC)
    kept = await _closed_position(mesh, steady, now - timedelta(days=20))
    deleted = await _closed_position(mesh, staying, now - timedelta(days=20))
    boundary = next_month_start(now)
    period = f"{now.year:04d}-{now.month:02d}"

    # Before the month end nothing has changed: the downgrade waits for the boundary.
    assert await _tier(mesh, downgrading) == PRO

    moved = await lifecycle.AdvanceClock(lifecycle_pb2.AdvanceClockRequest(by=_by(40)))

    month_ends = [r for r in moved.runs if r.schedule == "month-end-close"]
    assert [r.as_of.ToDatetime(tzinfo=UTC) for r in month_ends] == [boundary]
    assert "closed " + period in month_ends[0].summary
    for tenant in (downgrading, past_due, staying, steady):
        invoices = await mesh.billing_stub(mesh.config.admin_key).ListInvoices(
            billing_pb2.ListInvoicesRequest(company_id=tenant.company_id)
        )
        assert [i.billing_period for i in invoices.invoices] == [period], tenant
        assert invoices.invoices[0].status == "closed"
    assert await _tier(mesh, downgrading) == FREE
    assert await _tier(mesh, past_due) == FREE
    assert await _tier(mesh, staying) == FREE
    assert await _tier(mesh, steady) == PRO
    events = await mesh.operator.ListSubscriptionEvents(
        storage_pb2.ListSubscriptionEventsRequest(company_id=downgrading.company_id)
    )
    changed = [e for e in events.events if e.kind == "tier_changed"]
    assert [e.effective_at.ToDatetime(tzinfo=UTC) for e in changed] == [boundary]
    expired = await mesh.operator.ListSubscriptionEvents(
        storage_pb2.ListSubscriptionEventsRequest(company_id=past_due.company_id)
    )
    assert [e.kind for e in expired.events][-1] == "expired"
    # Business time is 40 days on: both positions are 60 days old, past free's 30-day
    # window and within pro's 365 days.
    assert deleted not in await _positions(mesh, staying)
    assert await _positions(mesh, steady) == [kept]

    # Running the month end again closes nothing twice.
    again = await lifecycle.RunSchedule(
        lifecycle_pb2.RunScheduleRequest(schedule="month-end-close")
    )
    assert f"closed {period}: 0 invoices (4 already closed)" in again.run.summary

    schedules = await lifecycle.ListSchedules(lifecycle_pb2.ListSchedulesRequest())
    names = [s.schedule for s in schedules.schedules]
    assert names == [
        "month-end-close",
        "subscription-rollover",
        "daily-retention",
        "sla-evaluation",
        "support-response",
    ]
    assert all(s.HasField("next_run_at") for s in schedules.schedules)

    async def last_month_end_shown() -> bool:
        listed = await lifecycle.ListSchedules(lifecycle_pb2.ListSchedulesRequest())
        last = listed.schedules[0].last_run
        return last.status == "completed" and last.workflow_id == again.run.workflow_id

    # Temporal's visibility store lags its history by a moment.
    await eventually(last_month_end_shown, "the month end's last run in ListSchedules")


async def test_the_clock_moves_only_forward_and_only_for_operators(
    workflow_mesh: WorkflowMesh,
) -> None:
    stub = workflow_mesh.lifecycle
    clock = await stub.GetClock(lifecycle_pb2.GetClockRequest())
    assert clock.test_clock
    with pytest.raises(grpc.aio.AioRpcError) as back:
        await stub.AdvanceClock(
            lifecycle_pb2.AdvanceClockRequest(to=_stamp(datetime(2020, 1, 1, tzinfo=UTC)))
        )
    assert back.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as neither:
        await stub.AdvanceClock(lifecycle_pb2.AdvanceClockRequest())
    assert neither.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    tenant = await workflow_mesh.mesh.tenant(PRO)
    as_tenant = grpc.aio.insecure_channel(
        workflow_mesh.server.address, interceptors=api_key_interceptors(tenant.api_key)
    )
    try:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await lifecycle_pb2_grpc.LifecycleServiceStub(as_tenant).AdvanceClock(
                lifecycle_pb2.AdvanceClockRequest(by=_by(1))
            )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await as_tenant.close()


async def test_sla_violations_are_events_by_the_tiers_policy(
    workflow_mesh: WorkflowMesh,
) -> None:
    mesh, lifecycle = workflow_mesh.mesh, workflow_mesh.lifecycle
    now = datetime.now(UTC)
    if (now - timedelta(minutes=10)).month != now.month:
        pytest.skip("needs ten minutes of this month behind us")
    pattern = await mesh.tenant(PRO, name="Pattern Ltd")  # 9 of 10 minutes missed
    blip = await mesh.tenant(PRO, name="Blip Ltd")  # 1 of 10: a blip, not a pattern
    strict = await mesh.tenant(ENTERPRISE, name="Strict Ltd")  # 1 of 10: reported at once
    free = await mesh.tenant(FREE)  # 9 of 10: best effort, nothing reported

    def samples(tenant: Tenant, tier: int, missed: int) -> list[storage_pb2.SlaSample]:
        return [
            storage_pb2.SlaSample(
                company_id=tenant.company_id, tier=tier, service="bridge",
                latency_us=500_000, within_target=minute >= missed,
                time_us=int((now - timedelta(minutes=minute)).timestamp() * 1e6),
            )
            for minute in range(10)
        ]  # fmt: skip

    recorded = [
        *samples(pattern, PRO, 9), *samples(blip, PRO, 1), *samples(strict, ENTERPRISE, 1),
        *samples(free, FREE, 9),
    ]  # fmt: skip
    await mesh.service_stub("bridge").RecordSla(storage_pb2.RecordSlaRequest(samples=recorded))

    for _ in range(2):  # the hourly evaluation, twice: still one event per period
        run = await lifecycle.RunSchedule(
            lifecycle_pb2.RunScheduleRequest(schedule="sla-evaluation")
        )
        assert "2 companies in violation" in run.run.summary, run.run.summary

    async def violations(tenant: Tenant) -> list[storage_pb2.Event]:
        listed = await mesh.operator.ListEvents(
            storage_pb2.ListEventsRequest(company_id=tenant.company_id)
        )
        return [e for e in listed.events if e.type == "sla.violated"]

    [event] = await violations(pattern)
    assert (
        f'"period": "{now:%Y-%m}"' in event.data_json and '"minutes_missed": 9' in event.data_json
    )
    assert len(await violations(strict)) == 1
    assert await violations(blip) == [] and await violations(free) == []
