"""The lifecycle's Temporal Schedules: what runs when, created (or updated) when the
Workflow service starts, and read back for ListSchedules and `tickmesh status`.

Ids are prefixed with the task queue, so meshes sharing a namespace keep apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
)

from servers.workflow.workflows import (
    DailyRetention,
    LifecycleInput,
    LifecycleResult,
    MonthEndClose,
    RollSubscriptions,
    SlaEvaluation,
    SupportResponseCheck,
)


@dataclass(frozen=True, slots=True)
class LifecycleSchedule:
    """One schedule of the lifecycle."""

    name: str
    workflow: type
    cron: str
    description: str

    @property
    def workflow_name(self) -> str:
        """Its workflow type: each workflow is registered under its class name."""
        return self.workflow.__name__


SCHEDULES = (
    LifecycleSchedule(
        "month-end-close", MonthEndClose, "5 0 1 * *",
        "close every company's billing period, then roll subscriptions into the new one",
    ),
    LifecycleSchedule(
        "subscription-rollover", RollSubscriptions, "15 * * * *",
        "apply END_OF_TERM tier changes and past-due expiry due since the last run",
    ),
    LifecycleSchedule(
        "daily-retention", DailyRetention, "30 3 * * *",
        "delete each company's rows past its tier's retention window",
    ),
    LifecycleSchedule(
        "sla-evaluation", SlaEvaluation, "0 * * * *", "evaluate every tier's SLA",
    ),
    LifecycleSchedule(
        "support-response", SupportResponseCheck, "20 * * * *",
        "report support tickets whose first response is overdue",
    ),
)  # fmt: skip
BY_NAME = {s.name: s for s in SCHEDULES}


@dataclass(frozen=True, slots=True)
class Run:
    """One workflow run of a schedule's workflow."""

    schedule: str
    workflow_id: str
    status: str
    as_of: str = ""
    summary: str = ""


@dataclass(frozen=True, slots=True)
class ScheduleView:
    """A schedule as ListSchedules shows it."""

    schedule: LifecycleSchedule
    paused: bool
    next_run_at: datetime | None
    last_run: Run | None


def schedule_id(task_queue: str, schedule: LifecycleSchedule) -> str:
    return f"{task_queue}-{schedule.name}"


PAUSED_NOTE = "paused: the test clock drives the lifecycle (AdvanceClock, RunSchedule)"


def _definition(task_queue: str, schedule: LifecycleSchedule, paused: bool) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            schedule.workflow_name,
            LifecycleInput(),
            id=schedule_id(task_queue, schedule),
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[schedule.cron]),
        # A run still going when the next is due: skip the next (each run catches up).
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(paused=paused, note=PAUSED_NOTE if paused else None),
    )


async def ensure_schedules(client: Client, task_queue: str, *, paused: bool = False) -> None:
    """Create every schedule, or bring an existing one to this version's definition.

    `paused` under the test clock: business time is the clock operators move, and a
    schedule firing on the wall clock would run the lifecycle at a time nobody chose
    (and inside a test's mesh, at a moment no test waits for)."""
    for schedule in SCHEDULES:
        definition = _definition(task_queue, schedule, paused)
        try:
            await client.create_schedule(schedule_id(task_queue, schedule), definition)
        except ScheduleAlreadyRunningError:

            def updated(_: ScheduleUpdateInput, new: Schedule = definition) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(schedule_id(task_queue, schedule)).update(updated)


async def last_run(client: Client, task_queue: str, schedule: LifecycleSchedule) -> Run | None:
    """The schedule's workflow's most recent run on this task queue, by the schedule or
    by the test clock; its summary when it has completed."""
    query = f"WorkflowType = '{schedule.workflow_name}' AND TaskQueue = '{task_queue}'"
    async for execution in client.list_workflows(query, limit=1):
        status = execution.status or WorkflowExecutionStatus.RUNNING
        run = Run(schedule.name, execution.id, status.name.lower())
        if status is WorkflowExecutionStatus.COMPLETED:
            handle = client.get_workflow_handle(
                execution.id, run_id=execution.run_id, result_type=LifecycleResult
            )
            result = await handle.result()
            return Run(run.schedule, run.workflow_id, run.status, result.as_of,
                       "; ".join(result.summary))  # fmt: skip
        return run
    return None


async def describe(client: Client, task_queue: str) -> list[ScheduleView]:
    """Every schedule with its state, next run and last run."""
    views = []
    for schedule in SCHEDULES:
        described = await client.get_schedule_handle(schedule_id(task_queue, schedule)).describe()
        upcoming = described.info.next_action_times
        views.append(
            ScheduleView(
                schedule,
                described.schedule.state.paused,
                upcoming[0] if upcoming else None,
                await last_run(client, task_queue, schedule),
            )
        )
    return views
