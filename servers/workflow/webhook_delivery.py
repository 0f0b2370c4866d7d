"""One webhook delivery attempt: sign the event by the Standard Webhooks spec, POST it,
log the attempt in Storage.

The secret is fetched from Storage at each attempt rather than carried in the
workflow's input, so it never lands in Temporal's history. A 2xx answer within the
timeout is a success; anything else raises, and Temporal retries the attempt with
backoff. An endpoint deleted or disabled meanwhile ends the delivery for good.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from standardwebhooks.webhooks import Webhook
from temporalio import activity
from temporalio.exceptions import ApplicationError
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from servers.workflow.activities import call

ENDPOINT_GONE = "EndpointGone"
"""The error type that ends a delivery without retries."""


@dataclass
class WebhookJob:
    """One event for one endpoint (no secret: see the module docstring)."""

    event_id: str
    endpoint_id: str
    company_id: str
    type: str
    occurred_at: str
    data_json: str


@dataclass
class Delivered:
    """The outcome of the attempt that succeeded."""

    attempt: int
    status_code: int


def payload(job: WebhookJob) -> bytes:
    """The body Standard Webhooks receivers expect: type, timestamp, data."""
    body = {"type": job.type, "timestamp": job.occurred_at, "data": json.loads(job.data_json)}
    body["data"]["company_id"] = job.company_id
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(secret: str, job: WebhookJob, body: bytes, at: datetime) -> dict[str, str]:
    """webhook-id (the event id, the same at every attempt, so receivers can drop
    repeats), webhook-timestamp and webhook-signature."""
    return {
        "content-type": "application/json",
        "user-agent": "tickmesh-webhooks/1",
        "webhook-id": job.event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(job.event_id, at, body),
    }


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    """POST and return the status; raises OSError on no answer (urllib: no redirects
    are worth following for a webhook, and the standard library is enough)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


class WebhookActivities:
    """The delivery activity, bound to Storage and the receiver timeout."""

    def __init__(self, storage: storage_pb2_grpc.StorageServiceStub, timeout_s: float) -> None:
        self._storage = storage
        self._timeout_s = timeout_s

    @activity.defn(name="deliver_webhook")
    async def deliver(self, job: WebhookJob) -> Delivered:
        attempt = activity.info().attempt
        endpoint = await self._endpoint(job)
        body = payload(job)
        at = datetime.now(UTC)
        started = time.monotonic()
        status, error = 0, ""
        try:
            status = await asyncio.to_thread(
                post, endpoint.url, body, signed_headers(endpoint.secret, job, body, at),
                self._timeout_s,
            )  # fmt: skip
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        elapsed_ms = int((time.monotonic() - started) * 1000)
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(at)
        after = await call(
            self._storage.RecordWebhookAttempt,
            storage_pb2.RecordWebhookAttemptRequest(
                attempt=storage_pb2.WebhookAttempt(
                    endpoint_id=job.endpoint_id, event_id=job.event_id,
                    company_id=job.company_id, attempt=attempt, succeeded=not error,
                    status_code=status, error=error, attempted_at=stamp, duration_ms=elapsed_ms,
                )
            ),
        )  # fmt: skip
        if not error:
            return Delivered(attempt, status)
        if after.endpoint.status != "enabled":
            raise ApplicationError(
                f"endpoint {job.endpoint_id} disabled: {after.endpoint.disabled_reason}",
                type=ENDPOINT_GONE, non_retryable=True,
            )  # fmt: skip
        raise ApplicationError(f"delivery to {endpoint.url} failed: {error}")

    async def _endpoint(self, job: WebhookJob) -> storage_pb2.WebhookEndpoint:
        reply = await call(
            self._storage.ListWebhookEndpoints,
            storage_pb2.ListWebhookEndpointsRequest(company_id=job.company_id),
        )
        for endpoint in reply.endpoints:
            if endpoint.endpoint_id == job.endpoint_id and endpoint.status == "enabled":
                return endpoint
        raise ApplicationError(
            f"endpoint {job.endpoint_id} is deleted or disabled", type=ENDPOINT_GONE,
            non_retryable=True,
        )  # fmt: skip
