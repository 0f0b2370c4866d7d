"""Running the lifecycle at given business times: what the test clock does when it moves,
and what RunSchedule does now.

Each step is a workflow whose id is its schedule and business time, started only if
no run with that id has completed (ALLOW_DUPLICATE_FAILED_ONLY): moving the clock
again over the same month end, or two operators moving it at once, closes nothing
twice, and a failed step runs again.
"""

from __future__ import annotations

from datetime import datetime

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from servers.workflow.business_clock import BusinessClock
from servers.workflow.months import month_ends_between
from servers.workflow.schedules import BY_NAME, LifecycleSchedule, Run
from servers.workflow.workflows import LifecycleInput, LifecycleResult


async def run_at(
    client: Client, task_queue: str, schedule: LifecycleSchedule, as_of: datetime
) -> Run:
    """Run `schedule`'s workflow at business time `as_of` (once per time) and wait for it."""
    stamp = as_of.isoformat()
    workflow_id = f"{task_queue}-{schedule.name}-at-{stamp[:26].replace(':', '-')}"
    handle: WorkflowHandle[object, LifecycleResult]
    try:
        handle = await client.start_workflow(
            schedule.workflow_name,
            LifecycleInput(stamp),
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            result_type=LifecycleResult,
        )
    except WorkflowAlreadyStartedError:  # ran (or runs) already: its result is ours
        handle = client.get_workflow_handle(workflow_id, result_type=LifecycleResult)
    result = await handle.result()
    return Run(schedule.name, workflow_id, "completed", result.as_of, "; ".join(result.summary))


async def advance(
    clock: BusinessClock, client: Client, task_queue: str, to: datetime
) -> tuple[datetime, list[Run]]:
    """Move the test clock to `to`, running on the way each month end crossed and, at
    `to`, the daily and hourly steps; the new time and the runs in order."""
    now = await clock.now()
    clock.check_move(now, to)
    runs = [
        await run_at(client, task_queue, BY_NAME["month-end-close"], boundary)
        for boundary in month_ends_between(now, to)
    ]
    for name in ("subscription-rollover", "daily-retention", "sla-evaluation", "support-response"):
        runs.append(await run_at(client, task_queue, BY_NAME[name], to))
    # Last: a step that failed leaves the clock where it was, and moving it again retries.
    await clock.set(to)
    return to, runs
