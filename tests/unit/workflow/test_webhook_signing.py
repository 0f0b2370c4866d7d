"""Webhook payloads and signatures, without a network: what the package's own verifier
(the receiver's side of the spec) accepts, and what it refuses."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from tickmesh.storage.v1 import storage_pb2

from servers.workflow.webhook_delivery import WebhookJob, payload, signed_headers
from servers.workflow.webhook_dispatch import wants

SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()
JOB = WebhookJob(
    "evt_" + "a" * 24, "we_" + "b" * 24, "c" * 12, "tier.changed",
    "2027-01-01T00:00:00Z", '{"from_tier": "pro", "to_tier": "free"}',
)  # fmt: skip


def test_a_signed_delivery_verifies_with_the_standard_webhooks_verifier() -> None:
    body = payload(JOB)
    headers = signed_headers(SECRET, JOB, body, datetime.now(UTC))
    verified = Webhook(SECRET).verify(body, headers)
    assert verified == {
        "type": "tier.changed",
        "timestamp": "2027-01-01T00:00:00Z",
        "data": {"from_tier": "pro", "to_tier": "free", "company_id": "c" * 12},
    }
    assert headers["webhook-id"] == JOB.event_id


def test_a_tampered_body_or_another_secret_fails_verification() -> None:
    body = payload(JOB)
    headers = signed_headers(SECRET, JOB, body, datetime.now(UTC))
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"free", b"pro!"), headers)
    other = "whsec_" + base64.b64encode(b"o" * 24).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)


def test_the_body_is_compact_sorted_json() -> None:
    assert json.loads(payload(JOB))["data"]["company_id"] == "c" * 12
    assert b" " not in payload(JOB)


def test_endpoints_receive_the_types_they_asked_for_while_enabled() -> None:
    every = storage_pb2.WebhookEndpoint(status="enabled")
    some = storage_pb2.WebhookEndpoint(status="enabled", event_types=["invoice.issued"])
    off = storage_pb2.WebhookEndpoint(status="disabled")
    assert wants(every, "tier.changed") and wants(some, "invoice.issued")
    assert not wants(some, "tier.changed") and not wants(off, "invoice.issued")
