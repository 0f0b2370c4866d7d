"""The Workflow service: the lifecycle's worker on Temporal and its RPCs."""

from __future__ import annotations

from tickmesh.billing.v1 import billing_pb2_grpc
from tickmesh.storage.v1 import storage_pb2_grpc
from tickmesh.workflow.v1 import chains_pb2, lifecycle_pb2, webhooks_pb2

from mesh.binding import bind
from mesh.config import ConfigError, env_key, load_settings
from mesh.host import Assembly, Service, ServiceSpec
from mesh.lifecycle import Part, background
from mesh.temporal_server import SECTION as TEMPORAL
from mesh.temporal_server import TemporalSettings
from servers.workflow.activities import LifecycleActivities
from servers.workflow.business_clock import BusinessClock
from servers.workflow.chains.builtin import register_builtins
from servers.workflow.chains.registry import ChainRegistry
from servers.workflow.chains.run import ChainRun
from servers.workflow.chains.service import ChainServicer
from servers.workflow.chains.steps import StepActivities
from servers.workflow.runner import TemporalRunner
from servers.workflow.service import LifecycleServicer
from servers.workflow.settings import WorkflowSettings
from servers.workflow.webhook_delivery import WebhookActivities
from servers.workflow.webhook_dispatch import Dispatcher
from servers.workflow.webhook_service import WebhookServicer
from servers.workflow.webhook_workflows import DeliverWebhook, DeliveryPolicy
from servers.workflow.workflows import WORKFLOWS

SERVICE = lifecycle_pb2.DESCRIPTOR.services_by_name["LifecycleService"]
WEBHOOKS = webhooks_pb2.DESCRIPTOR.services_by_name["WebhookService"]
CHAINS = chains_pb2.DESCRIPTOR.services_by_name["ChainService"]


def workflow_spec(temporal: TemporalSettings | None = None) -> ServiceSpec[WorkflowSettings]:
    """The Workflow service; `temporal` replaces the [temporal] settings (tests give each
    mesh its own task queue on the session's Temporal)."""

    async def build(ctx: Assembly[WorkflowSettings]) -> Service:
        return await _build(ctx, temporal or load_settings(TemporalSettings, ctx.config, TEMPORAL))

    return ServiceSpec("workflow", build, WorkflowSettings)


async def _build(ctx: Assembly[WorkflowSettings], temporal: TemporalSettings) -> Service:
    if not temporal.address:
        raise ConfigError(
            f"{env_key('address', TEMPORAL)} is not set: `tickmesh up` sets it to the "
            "Temporal it starts; elsewhere point it at a Temporal frontend (host:port)"
        )
    tenancy = await ctx.tenancy()
    # The test clock lives in the shared Redis, so every instance reads the same time.
    redis = tenancy.quota.redis if ctx.config.redis_url else None
    clock = BusinessClock(
        redis,
        f"{ctx.config.redis_prefix}clock:{temporal.task_queue}",
        test_clock=ctx.settings.test_clock,
    )
    # Signed as the Workflow service: Billing and Storage take lifecycle calls from services.
    storage = storage_pb2_grpc.StorageServiceStub(
        ctx.channels.service_channel(ctx.config.address_of("storage"))
    )
    billing = billing_pb2_grpc.BillingServiceStub(
        ctx.channels.service_channel(ctx.config.address_of("billing"))
    )
    activities = LifecycleActivities(storage, billing, clock)
    steps = StepActivities(ctx.channels, ctx.config, tenancy.meter)
    registry = ChainRegistry(storage)
    settings = ctx.settings
    deliveries = WebhookActivities(storage, settings.webhook_timeout_seconds)
    runner = TemporalRunner(
        temporal,
        wait_s=settings.temporal_wait_seconds,
        schedules_paused=settings.test_clock,
        grace_s=ctx.config.grace_seconds,
        workflows=[*WORKFLOWS, DeliverWebhook, ChainRun],
        activities=[
            activities.business_now,
            activities.close_period,
            activities.advance_subscriptions,
            activities.collect_payments,
            activities.apply_retention,
            activities.evaluate_sla,
            activities.report_missed_responses,
            deliveries.deliver,
            steps.run_step,
        ],
    )
    ctx.add(Part("temporal", start=runner.start, stop=runner.stop))
    policy = DeliveryPolicy(
        settings.webhook_retry_seconds,
        settings.webhook_retry_max_seconds,
        settings.webhook_give_up_hours,
        settings.webhook_timeout_seconds,
    )
    dispatcher = Dispatcher(
        storage, lambda: runner.client, temporal.task_queue, policy,
        redis=redis, cursor_key=f"{ctx.config.redis_prefix}webhooks:{temporal.task_queue}:cursor",
        poll_s=settings.webhook_poll_seconds,
    )  # fmt: skip
    ctx.add(background("webhook-dispatch", dispatcher.run))
    ctx.add(background("builtin-chains", lambda: register_builtins(registry)))
    return Service(
        [
            bind(SERVICE, LifecycleServicer(runner, clock)),
            bind(WEBHOOKS, WebhookServicer(runner, storage, policy)),
            bind(CHAINS, ChainServicer(registry, runner)),
        ],
        handle=runner,
    )


SPEC = workflow_spec()
