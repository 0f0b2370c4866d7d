"""The lifecycle's activities: each one call (or a few) to a mesh RPC, made as the Workflow
service itself (a signed service identity), never touching another service's database.

Every activity is idempotent, because Temporal retries it: closing a period that is
closed returns the stored invoices, rolling a subscription whose period runs changes
nothing, retention deletes what is past the window and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import grpc
from google.protobuf import timestamp_pb2
from temporalio import activity
from temporalio.exceptions import ApplicationError
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.protoconv import tier_from_proto
from servers.workflow.business_clock import BusinessClock
from servers.workflow.months import period_before

T = TypeVar("T")

RETRYABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE,  # a service restarting: Temporal retries with backoff
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.UNKNOWN,
})  # fmt: skip
"""Codes worth retrying; any other (a refused or invalid call) fails the step at once."""

RPC_TIMEOUT_S = 60.0
"""A month-end close of thousands of companies is one call: generous, not endless."""


@dataclass(frozen=True, slots=True)
class Step:
    """What one activity did, for the run's summary."""

    summary: str
    count: int = 0


async def call(rpc: Callable[..., Awaitable[T]], request: object) -> T:
    """`rpc(request)`; a status no retry can change becomes a non-retryable failure."""
    try:
        return await rpc(request, timeout=RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as err:
        if err.code() in RETRYABLE:
            raise
        raise ApplicationError(
            f"{err.code().name}: {err.details()}", type=err.code().name, non_retryable=True
        ) from None


def _ts(iso: str) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(iso))
    return stamp


class LifecycleActivities:
    """The activities, bound to the stubs they call."""

    def __init__(
        self,
        storage: storage_pb2_grpc.StorageServiceStub,
        billing: billing_pb2_grpc.BillingServiceStub,
        clock: BusinessClock,
    ) -> None:
        self._storage = storage
        self._billing = billing
        self._clock = clock

    @activity.defn(name="business_now")
    async def business_now(self) -> str:
        """Business time now, ISO 8601 (the test clock's in test mode)."""
        return (await self._clock.now()).isoformat()

    @activity.defn(name="close_period")
    async def close_period(self, as_of: str) -> Step:
        """Close, for every company, the billing period that ended last by `as_of`."""
        period = period_before(datetime.fromisoformat(as_of))
        reply = await call(
            self._billing.CloseBillingPeriod,
            billing_pb2.CloseBillingPeriodRequest(billing_period=period, as_of=_ts(as_of)),
        )
        new = len(reply.invoices) - reply.already_closed
        return Step(f"closed {period}: {new} invoices ({reply.already_closed} already closed)", new)

    @activity.defn(name="collect_payments")
    async def collect_payments(self, as_of: str) -> Step:
        """Charge every invoice of the period that ended last by `as_of`; a failed charge
        makes its subscription past due."""
        period = period_before(datetime.fromisoformat(as_of))
        reply = await call(
            self._billing.CollectPayments,
            billing_pb2.CollectPaymentsRequest(billing_period=period, as_of=_ts(as_of)),
        )
        unpaid = [c for c in reply.collections if c.payment_status != "paid"]
        paid = len(reply.collections) - len(unpaid)
        return Step(f"payments {period}: {paid} paid, {len(unpaid)} past due", len(unpaid))

    @activity.defn(name="advance_subscriptions")
    async def advance_subscriptions(self, as_of: str) -> Step:
        """Roll every subscription whose period ended by `as_of` into the next one."""
        reply = await call(
            self._storage.AdvanceSubscriptions,
            storage_pb2.AdvanceSubscriptionsRequest(as_of=_ts(as_of)),
        )
        actions: dict[str, int] = {}
        for moved in reply.advanced:
            actions[moved.action] = actions.get(moved.action, 0) + 1
        done = ", ".join(f"{n} {a}" for a, n in sorted(actions.items())) or "none due"
        return Step(f"subscriptions: {done}", len(reply.advanced))

    @activity.defn(name="apply_retention")
    async def apply_retention(self, as_of: str) -> Step:
        """Delete every company's rows past its tier's retention window at `as_of`."""
        reply = await call(
            self._storage.ApplyRetention, storage_pb2.ApplyRetentionRequest(as_of=_ts(as_of))
        )
        deleted = sum(r.positions_deleted for r in reply.results)
        return Step(f"retention: {deleted} rows deleted in {len(reply.results)} companies", deleted)

    @activity.defn(name="evaluate_sla")
    async def evaluate_sla(self, as_of: str) -> Step:
        """The hourly SLA evaluation: the current period's figures per tier, and an
        `sla.violated` event for each company Billing's policy names (once a period)."""
        reply = await self._billing.SlaReport(billing_pb2.SlaReportRequest(), timeout=RPC_TIMEOUT_S)
        missed = [t for t in reply.tiers if not t.met]
        period = datetime.fromisoformat(as_of).strftime("%Y-%m")
        for violation in reply.violations:
            # Idempotent across retries and hourly runs: one event per company and period.
            await call(self._storage.EmitEvent, sla_violated(violation, period))
        return Step(
            f"sla: {len(reply.tiers) - len(missed)} tiers met, {len(missed)} missed; "
            f"{len(reply.violations)} companies in violation",
            len(missed),
        )

    @activity.defn(name="report_missed_responses")
    async def report_missed_responses(self, as_of: str) -> Step:
        """Support tickets past their first-response target, each reported once."""
        reply = await call(
            self._storage.ReportMissedResponses,
            storage_pb2.ReportMissedResponsesRequest(as_of=_ts(as_of)),
        )
        return Step(f"support: {reply.reported} first responses overdue", reply.reported)


def sla_violated(
    violation: billing_pb2.CompanySlaViolation, period: str
) -> storage_pb2.EmitEventRequest:
    """The `sla.violated` event of one company whose service fell short in `period`."""
    data = {
        "period": period, "tier": tier_from_proto(violation.tier).value,
        "target_percent": violation.target_percent,
        "measured_percent": violation.measured_percent, "minutes": violation.minutes,
        "minutes_missed": violation.minutes_missed,
        "latency_p99_us": violation.latency_p99_us,
    }  # fmt: skip
    return storage_pb2.EmitEventRequest(
        company_id=violation.company_id, type="sla.violated", data_json=json.dumps(data),
        dedupe_key=f"sla.violated:{violation.company_id}:{period}",
    )  # fmt: skip
