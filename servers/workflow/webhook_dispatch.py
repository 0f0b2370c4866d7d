"""The webhook dispatcher: reads the mesh's events after a cursor and starts one
DeliverWebhook workflow per event and endpoint that wants it.

The workflow id is the event and endpoint, started only once
(REJECT_DUPLICATE): several Workflow instances may poll together, and a cursor
that goes back (lost, restored) re-dispatches nothing. The cursor is kept in the
shared Redis, advanced only past events whose workflows have started.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import grpc
from redis.asyncio import Redis
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.logging import error_fields
from servers.workflow.webhook_delivery import WebhookJob
from servers.workflow.webhook_workflows import DeliveryInput, DeliveryPolicy

log = logging.getLogger(__name__)

BATCH = 200
STARTUP_GRACE_S = 30.0
"""Storage unreachable this soon after start is the mesh still starting, not an outage."""


def delivery_id(task_queue: str, event_id: str, endpoint_id: str) -> str:
    return f"{task_queue}-webhook-{event_id}-{endpoint_id}"


def wants(endpoint: storage_pb2.WebhookEndpoint, event_type: str) -> bool:
    """Whether `endpoint` receives events of `event_type`."""
    return endpoint.status == "enabled" and (
        not endpoint.event_types or event_type in endpoint.event_types
    )


def job_of(event: storage_pb2.Event, endpoint_id: str) -> WebhookJob:
    return WebhookJob(
        event.event_id, endpoint_id, event.company_id, event.type,
        event.occurred_at.ToDatetime().isoformat() + "Z", event.data_json,
    )  # fmt: skip


async def start_delivery(
    client: Client, task_queue: str, job: WebhookJob, policy: DeliveryPolicy, *, workflow_id: str
) -> bool:
    """Start the delivery workflow; False when it was started before."""
    try:
        await client.start_workflow(
            "DeliverWebhook",
            DeliveryInput(job, policy),
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


class Dispatcher:
    """Polls Storage's events and starts their deliveries."""

    def __init__(
        self,
        storage: storage_pb2_grpc.StorageServiceStub,
        client: Callable[[], Client],
        task_queue: str,
        policy: DeliveryPolicy,
        *,
        redis: Redis | None,
        cursor_key: str,
        poll_s: float,
    ) -> None:
        self._storage = storage
        self._client = client
        self._task_queue = task_queue
        self._policy = policy
        self._redis = redis
        self._cursor_key = cursor_key
        self._poll_s = poll_s
        self._local_cursor = 0
        self._failing = False
        self._started = time.monotonic()
        self._ever_polled = False

    async def run(self) -> None:
        """Until cancelled: dispatch what is new, wait when nothing was."""
        while True:
            try:
                busy = await self.dispatch_once()
                if self._failing:
                    log.info("webhook dispatch resumed")
                self._failing, self._ever_polled = False, True
            except (grpc.aio.AioRpcError, OSError) as exc:
                starting = not self._ever_polled and (
                    time.monotonic() - self._started < STARTUP_GRACE_S
                )
                if not starting and not self._failing:  # once per outage, not per poll
                    log.warning("webhook dispatch paused", extra=error_fields(exc))
                    self._failing = True
                busy = False
            if not busy:
                await asyncio.sleep(self._poll_s)

    async def dispatch_once(self) -> bool:
        """One batch; whether there was one."""
        cursor = await self._cursor()
        reply = await self._storage.ListEvents(
            storage_pb2.ListEventsRequest(after_seq=cursor, limit=BATCH), timeout=10
        )
        endpoints: dict[str, list[storage_pb2.WebhookEndpoint]] = {}
        for event in reply.events:
            if event.company_id not in endpoints:
                listed = await self._storage.ListWebhookEndpoints(
                    storage_pb2.ListWebhookEndpointsRequest(company_id=event.company_id),
                    timeout=10,
                )
                endpoints[event.company_id] = list(listed.endpoints)
            for endpoint in endpoints[event.company_id]:
                if wants(endpoint, event.type):
                    await start_delivery(
                        self._client(), self._task_queue, job_of(event, endpoint.endpoint_id),
                        self._policy,
                        workflow_id=delivery_id(self._task_queue, event.event_id,
                                                endpoint.endpoint_id),
                    )  # fmt: skip
            await self._save(event.seq)
        return bool(reply.events)

    async def _cursor(self) -> int:
        if self._redis is None:
            return self._local_cursor
        return int(await self._redis.get(self._cursor_key) or 0)

    async def _save(self, seq: int) -> None:
        if self._redis is None:
            self._local_cursor = seq
        else:
            await self._redis.set(self._cursor_key, seq)
