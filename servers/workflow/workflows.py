"""The lifecycle's workflows. Each takes a business time (or none: the business clock's
now, asked through an activity so the workflow stays deterministic) and runs its steps
as activities with retries.

Kept free of I/O and of our service code: Temporal replays workflow code in a sandbox,
so it only orders activities; the activities do the work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from servers.workflow.activities import LifecycleActivities, Step

ACTIVITY_TIMEOUT = timedelta(minutes=5)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,  # retried until the schedule-to-close timeout: a dead dependency heals
)
SCHEDULE_TO_CLOSE = timedelta(hours=1)


@dataclass
class LifecycleInput:
    """When the step runs: an ISO business time, or "" for the business clock's now."""

    as_of: str = ""


@dataclass
class LifecycleResult:
    """What a run did: its business time and one line per step."""

    as_of: str
    summary: list[str] = field(default_factory=list)


async def _as_of(inp: LifecycleInput) -> str:
    if inp.as_of:
        return inp.as_of
    return await workflow.execute_activity_method(
        LifecycleActivities.business_now, start_to_close_timeout=timedelta(seconds=30),
        retry_policy=RETRY,
    )  # fmt: skip


StepMethod = Callable[[LifecycleActivities, str], Awaitable[Step]]


async def _run(method: StepMethod, as_of: str) -> Step:
    return await workflow.execute_activity_method(
        method,
        as_of,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        schedule_to_close_timeout=SCHEDULE_TO_CLOSE,
        retry_policy=RETRY,
    )


@workflow.defn(name="MonthEndClose")
class MonthEndClose:
    """The month end: every company's ended period closed, every subscription rolled
    into the new one (END_OF_TERM changes, past-due expiry to free), then the closed
    invoices charged. In this order: an invoice rates the tier the period was used at,
    and a failed charge makes the new period past due (free at its end unless paid)."""

    @workflow.run
    async def run(self, inp: LifecycleInput) -> LifecycleResult:
        as_of = await _as_of(inp)
        closed = await _run(LifecycleActivities.close_period, as_of)
        rolled = await _run(LifecycleActivities.advance_subscriptions, as_of)
        # Added after the first release: replaying an older run's history must not
        # expect this activity.
        steps = [closed.summary, rolled.summary]
        if workflow.patched("collect-payments"):
            paid = await _run(LifecycleActivities.collect_payments, as_of)
            steps.append(paid.summary)
        return LifecycleResult(as_of, steps)


@workflow.defn(name="RollSubscriptions")
class RollSubscriptions:
    """Hourly catch-up of subscriptions whose period ended (a month end that was missed
    while the mesh was down, a company created at an odd time)."""

    @workflow.run
    async def run(self, inp: LifecycleInput) -> LifecycleResult:
        as_of = await _as_of(inp)
        rolled = await _run(LifecycleActivities.advance_subscriptions, as_of)
        return LifecycleResult(as_of, [rolled.summary])


@workflow.defn(name="DailyRetention")
class DailyRetention:
    """Every company's rows past its tier's retention window deleted."""

    @workflow.run
    async def run(self, inp: LifecycleInput) -> LifecycleResult:
        as_of = await _as_of(inp)
        step = await _run(LifecycleActivities.apply_retention, as_of)
        return LifecycleResult(as_of, [step.summary])


@workflow.defn(name="SlaEvaluation")
class SlaEvaluation:
    """The hourly SLA evaluation."""

    @workflow.run
    async def run(self, inp: LifecycleInput) -> LifecycleResult:
        as_of = await _as_of(inp)
        step = await _run(LifecycleActivities.evaluate_sla, as_of)
        return LifecycleResult(as_of, [step.summary])


@workflow.defn(name="SupportResponseCheck")
class SupportResponseCheck:
    """Hourly: support tickets whose first response is overdue are reported."""

    @workflow.run
    async def run(self, inp: LifecycleInput) -> LifecycleResult:
        as_of = await _as_of(inp)
        step = await _run(LifecycleActivities.report_missed_responses, as_of)
        return LifecycleResult(as_of, [step.summary])


WORKFLOWS = (MonthEndClose, RollSubscriptions, DailyRetention, SlaEvaluation, SupportResponseCheck)
