"""Webhooks end to end over real services, Temporal and a real HTTP receiver: every event
arrives exactly once after retries, signed by the Standard Webhooks spec (checked here with
the standard library alone), every attempt is logged, a replay re-delivers on demand, and a
Workflow service restarted mid-retry loses no delivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from datetime import timedelta

import grpc
import pytest
from google.protobuf import duration_pb2
from tickmesh.billing.v1 import billing_pb2
from tickmesh.common.v1 import billing_pb2 as common_billing_pb2
from tickmesh.storage.v1 import storage_pb2
from tickmesh.workflow.v1 import lifecycle_pb2, webhooks_pb2, webhooks_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from tests.integration.storage_service.conftest import FREE, PRO
from tests.integration.workflow.conftest import WorkflowMesh
from tests.support.webhook_receiver import Received, webhook_receiver
from tests.waiting import eventually

pytestmark = pytest.mark.parametrize("storage_mesh", ["real"], indirect=True)


def verify(secret: str, received: Received) -> bool:
    """Standard Webhooks, by hand: HMAC-SHA256 over "id.timestamp.body" with the
    base64 key after `whsec_`, sent as `v1,<base64>`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = (
        f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}.".encode()
        + received.body
    )
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sent = [s.split(",", 1)[1] for s in received.headers["webhook-signature"].split()]
    return any(hmac.compare_digest(expected, s) for s in sent)


async def test_every_event_arrives_once_signed_after_retries(workflow_mesh: WorkflowMesh) -> None:
    mesh = workflow_mesh.mesh
    tenant = await mesh.tenant(PRO, name="Hooked Ltd")
    as_tenant = mesh.storage_stub(tenant.api_key)
    with webhook_receiver(fail_first=3) as receiver:
        created = await as_tenant.CreateWebhookEndpoint(
            storage_pb2.CreateWebhookEndpointRequest(url=receiver.url)
        )
        secret = created.endpoint.secret
        assert secret.startswith("whsec_")
        # Events: a scheduled downgrade, a revoked key, then (a month on) the tier
        # change itself and the closed invoice.
        await mesh.billing_stub(tenant.api_key).ChangeTier(
            billing_pb2.ChangeTierRequest(
                tier=FREE, effect=common_billing_pb2.CHANGE_EFFECT_END_OF_TERM
            )
        )
        spare = await as_tenant.IssueApiKey(
            storage_pb2.IssueApiKeyRequest(user_id=tenant.user_id, label="spare")
        )
        await as_tenant.RevokeApiKey(storage_pb2.RevokeApiKeyRequest(key_id=spare.key_id))
        # Meanwhile the Workflow service restarts: deliveries in their retries go on.
        await eventually(lambda: len(receiver.requests) >= 2, "two failed deliveries")
        await workflow_mesh.restart()
        by = duration_pb2.Duration()
        by.FromTimedelta(timedelta(days=32))
        await workflow_mesh.lifecycle.AdvanceClock(lifecycle_pb2.AdvanceClockRequest(by=by))

        expected = {"tier.change_scheduled", "key.revoked", "tier.changed", "invoice.issued"}

        def all_delivered() -> bool:
            types = {json.loads(r.body)["type"] for r in receiver.accepted()}
            return expected <= types

        await eventually(all_delivered, "every event delivered", within=60)
        accepted = receiver.accepted()
        per_event = Counter(r.headers["webhook-id"] for r in accepted)
        assert set(per_event.values()) == {1}, per_event  # exactly once each
        assert all(verify(secret, r) for r in accepted)
        assert not verify("whsec_" + base64.b64encode(b"x" * 24).decode(), accepted[0])
        body = json.loads(next(r.body for r in accepted if b"key.revoked" in r.body))
        assert body["data"] == {"key_id": spare.key_id, "company_id": tenant.company_id}

        log = await as_tenant.ListWebhookAttempts(storage_pb2.ListWebhookAttemptsRequest())
        failed = [a for a in log.attempts if not a.succeeded]
        assert len(failed) == 3 and all(a.status_code == 500 for a in failed)
        assert sum(a.succeeded for a in log.attempts) == len(accepted)

        # A replay delivers the same event (same webhook-id) again, on demand.
        event_id = accepted[0].headers["webhook-id"]
        async with grpc.aio.insecure_channel(
            workflow_mesh.server.address, interceptors=api_key_interceptors(tenant.api_key)
        ) as channel:
            replay = await webhooks_pb2_grpc.WebhookServiceStub(channel).ReplayWebhook(
                webhooks_pb2.ReplayWebhookRequest(
                    event_id=event_id, endpoint_id=created.endpoint.endpoint_id
                )
            )
        assert replay.delivered
        assert [r.headers["webhook-id"] for r in receiver.accepted()].count(event_id) == 2

        # Another company can neither see nor replay it.
        other = await mesh.tenant(PRO, name="Nosy Ltd")
        async with grpc.aio.insecure_channel(
            workflow_mesh.server.address, interceptors=api_key_interceptors(other.api_key)
        ) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await webhooks_pb2_grpc.WebhookServiceStub(channel).ReplayWebhook(
                    webhooks_pb2.ReplayWebhookRequest(
                        event_id=event_id, endpoint_id=created.endpoint.endpoint_id
                    )
                )
        assert denied.value.code() == grpc.StatusCode.NOT_FOUND
        theirs = await mesh.storage_stub(other.api_key).ListEvents(storage_pb2.ListEventsRequest())
        assert all(e.company_id == other.company_id for e in theirs.events)


async def test_endpoints_are_validated_and_secrets_shown_once(
    workflow_mesh: WorkflowMesh,
) -> None:
    mesh = workflow_mesh.mesh
    tenant = await mesh.tenant(PRO)
    stub = mesh.storage_stub(tenant.api_key)
    for url, types in (
        ("http://example.com/hooks", []),  # plain http off loopback
        ("ftp://127.0.0.1/x", []),
        ("https://example.com/hooks", ["no.such.event"]),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.CreateWebhookEndpoint(
                storage_pb2.CreateWebhookEndpointRequest(url=url, event_types=types)
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT, url
    created = await stub.CreateWebhookEndpoint(
        storage_pb2.CreateWebhookEndpointRequest(
            url="https://example.com/hooks", event_types=["invoice.issued"]
        )
    )
    listed = await stub.ListWebhookEndpoints(storage_pb2.ListWebhookEndpointsRequest())
    assert [e.endpoint_id for e in listed.endpoints] == [created.endpoint.endpoint_id]
    assert listed.endpoints[0].secret == ""  # shown once, at creation
    await stub.DeleteWebhookEndpoint(
        storage_pb2.DeleteWebhookEndpointRequest(endpoint_id=created.endpoint.endpoint_id)
    )
    listed = await stub.ListWebhookEndpoints(storage_pb2.ListWebhookEndpointsRequest())
    assert list(listed.endpoints) == []
