"""The WebhookService servicer: replaying a delivery on demand."""

from __future__ import annotations

import asyncio
import secrets

import grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc
from tickmesh.workflow.v1 import webhooks_pb2

from mesh.errors import NotFound
from mesh.tenancy.current import PrincipalKind, current_principal
from servers.workflow.runner import TemporalRunner
from servers.workflow.webhook_dispatch import delivery_id, job_of, start_delivery
from servers.workflow.webhook_workflows import DeliveryOutcome, DeliveryPolicy


class WebhookServicer:
    """ReplayWebhook for a tenant (its own events and endpoints) or the operator."""

    def __init__(
        self,
        runner: TemporalRunner,
        storage: storage_pb2_grpc.StorageServiceStub,
        policy: DeliveryPolicy,
    ) -> None:
        self._runner = runner
        self._storage = storage
        self._policy = policy

    async def ReplayWebhook(
        self, request: webhooks_pb2.ReplayWebhookRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.ReplayWebhookResponse:
        principal = current_principal()
        principal.require(PrincipalKind.TENANT, PrincipalKind.OPERATOR)
        found = await self._storage.ListEvents(
            storage_pb2.ListEventsRequest(event_id=request.event_id)
        )
        # Another company's event reads as missing, never as forbidden.
        own = principal.tenant.company_id if principal.tenant else ""
        event = next((e for e in found.events if own in ("", e.company_id)), None)
        if event is None:
            raise NotFound(f"event {request.event_id!r} not found")
        listed = await self._storage.ListWebhookEndpoints(
            storage_pb2.ListWebhookEndpointsRequest(company_id=event.company_id)
        )
        if request.endpoint_id not in {e.endpoint_id for e in listed.endpoints}:
            raise NotFound(f"webhook endpoint {request.endpoint_id!r} not found")
        queue = self._runner.task_queue
        workflow_id = (
            delivery_id(queue, event.event_id, request.endpoint_id)
            + f"-replay-{secrets.token_hex(4)}"
        )
        job = job_of(event, request.endpoint_id)
        await start_delivery(self._runner.client, queue, job, self._policy, workflow_id=workflow_id)
        handle = self._runner.client.get_workflow_handle(workflow_id, result_type=DeliveryOutcome)
        try:  # the first attempt's outcome; later retries go on by themselves
            outcome = await asyncio.wait_for(handle.result(), self._policy.timeout_seconds + 5)
            delivered = outcome.delivered
        except TimeoutError:
            delivered = False
        return webhooks_pb2.ReplayWebhookResponse(workflow_id=workflow_id, delivered=delivered)
