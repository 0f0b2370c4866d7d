"""The ChainRun workflow: a chain's steps in order, each an activity with retries; the
events so far answer a query (WatchRun polls it); a failing step that aborts ends the
run, the steps after it skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from servers.workflow.chains.steps import RunAs, StepActivities, StepInput, StepOutcome


@dataclass
class ChainRunInput:
    run_id: str
    name: str
    version: int
    steps: list[bytes]
    """Each step's serialized ChainStep, from the pinned version."""
    step_names: list[str]
    aborts: list[bool]
    parameters: dict[str, str]
    run_as: RunAs
    started_at: str


@dataclass
class ChainRunState:
    """What GetRun and WatchRun show."""

    run_id: str
    name: str
    version: int
    company_id: str
    status: str
    started_at: str
    steps: list[StepOutcome] = field(default_factory=list)


HEARTBEAT_TIMEOUT = timedelta(seconds=5)
"""A step's worker silent this long is taken for dead and the step retried elsewhere."""

STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=10,
)


@workflow.defn(name="ChainRun")
class ChainRun:
    def __init__(self) -> None:
        self._state: ChainRunState | None = None

    @workflow.run
    async def run(self, inp: ChainRunInput) -> ChainRunState:
        state = ChainRunState(inp.run_id, inp.name, inp.version, inp.run_as.company_id,
                              "running", inp.started_at)  # fmt: skip
        self._state = state
        for index, step in enumerate(inp.steps):
            if state.status == "failed":
                state.steps.append(StepOutcome(index, inp.step_names[index], "skipped", "", "",
                                               0, False, 0, "", 0))  # fmt: skip
                continue
            try:
                outcome = await workflow.execute_activity_method(
                    StepActivities.run_step,
                    StepInput(
                        inp.run_id,
                        index,
                        step,
                        inp.parameters,
                        inp.run_as,
                        [o.response_json for o in state.steps],
                    ),
                    start_to_close_timeout=timedelta(seconds=90),
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,
                    retry_policy=STEP_RETRY,
                )
            except ActivityError as err:  # still failing after every retry
                outcome = StepOutcome(index, inp.step_names[index], "failed", "UNAVAILABLE",
                                      str(err.cause or err)[:300], 0, False,
                                      STEP_RETRY.maximum_attempts, "", 0)  # fmt: skip
            state.steps.append(outcome)
            if outcome.status == "failed" and inp.aborts[index]:
                state.status = "failed"
        if state.status == "running":
            state.status = "succeeded"
        return state

    @workflow.query(name="state")
    def state(self) -> ChainRunState | None:
        return self._state
