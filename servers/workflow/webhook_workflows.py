"""The DeliverWebhook workflow: one event to one endpoint, retried with exponential
backoff until it is delivered, the endpoint goes away, or the give-up time passes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from servers.workflow.webhook_delivery import ENDPOINT_GONE, WebhookActivities, WebhookJob


@dataclass
class DeliveryPolicy:
    """How hard to try (the Workflow service's webhook settings)."""

    retry_seconds: float
    retry_max_seconds: float
    give_up_hours: float
    timeout_seconds: float


@dataclass
class DeliveryInput:
    job: WebhookJob
    policy: DeliveryPolicy


@dataclass
class DeliveryOutcome:
    """Delivered or not, after how many attempts (see Storage's attempt log for each)."""

    delivered: bool
    attempts: int
    reason: str = ""


@workflow.defn(name="DeliverWebhook")
class DeliverWebhook:
    @workflow.run
    async def run(self, inp: DeliveryInput) -> DeliveryOutcome:
        policy = inp.policy
        try:
            done = await workflow.execute_activity_method(
                WebhookActivities.deliver,
                inp.job,
                # A receiver's timeout, plus Storage's two calls.
                start_to_close_timeout=timedelta(seconds=policy.timeout_seconds + 20),
                schedule_to_close_timeout=timedelta(hours=policy.give_up_hours),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=policy.retry_seconds),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=policy.retry_max_seconds),
                    maximum_attempts=0,
                    non_retryable_error_types=[ENDPOINT_GONE],
                ),
            )
        except ActivityError as err:
            cause = err.cause
            return DeliveryOutcome(False, 0, str(cause or err))
        return DeliveryOutcome(True, done.attempt)
