"""Payments and dunning over real services, Temporal, the test clock and a real webhook
receiver: an upgrade needs a payment method; a declined charge walks the subscription
through past due to free, and each step is a webhook."""

from __future__ import annotations

import json
from datetime import timedelta

import grpc
import pytest
from google.protobuf import duration_pb2
from tickmesh.billing.v1 import billing_pb2
from tickmesh.common.v1 import billing_pb2 as common_billing_pb2
from tickmesh.storage.v1 import storage_pb2
from tickmesh.workflow.v1 import lifecycle_pb2

from tests.integration.storage_service.conftest import FREE, PRO
from tests.integration.workflow.conftest import WorkflowMesh
from tests.support.webhook_receiver import webhook_receiver
from tests.waiting import eventually

pytestmark = pytest.mark.parametrize("storage_mesh", ["real"], indirect=True)
IMMEDIATE = common_billing_pb2.CHANGE_EFFECT_IMMEDIATE


def _days(n: int) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromTimedelta(timedelta(days=n))
    return out


async def test_an_upgrade_without_a_payment_method_is_refused(workflow_mesh: WorkflowMesh) -> None:
    mesh = workflow_mesh.mesh
    tenant = await mesh.tenant(FREE)
    billing = mesh.billing_stub(tenant.api_key)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await billing.ChangeTier(billing_pb2.ChangeTierRequest(tier=PRO, effect=IMMEDIATE))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "SetPaymentMethod" in (refused.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await billing.SetPaymentMethod(
            billing_pb2.SetPaymentMethodRequest(token="4242424242424242")
        )
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    card = await billing.SetPaymentMethod(billing_pb2.SetPaymentMethodRequest(token="pm_sim_ok"))
    assert (card.brand, card.last4) == ("visa", "4242")
    await billing.ChangeTier(billing_pb2.ChangeTierRequest(tier=PRO, effect=IMMEDIATE))
    # The operator may grant a paid tier without a card on file.
    other = await mesh.tenant(FREE)
    operator = mesh.billing_stub(mesh.config.admin_key)
    await operator.ChangeTier(
        billing_pb2.ChangeTierRequest(company_id=other.company_id, tier=PRO, effect=IMMEDIATE)
    )


async def test_a_declined_payment_walks_past_due_to_free_with_webhooks(
    workflow_mesh: WorkflowMesh,
) -> None:
    mesh, lifecycle = workflow_mesh.mesh, workflow_mesh.lifecycle
    paying = await mesh.tenant(FREE, name="Paying Ltd")
    declined = await mesh.tenant(FREE, name="Declined Ltd")
    for tenant, token in ((paying, "pm_sim_ok"), (declined, "pm_sim_declined")):
        billing = mesh.billing_stub(tenant.api_key)
        await billing.SetPaymentMethod(billing_pb2.SetPaymentMethodRequest(token=token))
        await billing.ChangeTier(billing_pb2.ChangeTierRequest(tier=PRO, effect=IMMEDIATE))
    with webhook_receiver() as receiver:
        await mesh.storage_stub(declined.api_key).CreateWebhookEndpoint(
            storage_pb2.CreateWebhookEndpointRequest(url=receiver.url)
        )
        # First month end: both invoices close; one is paid, the other declined.
        first = await lifecycle.AdvanceClock(lifecycle_pb2.AdvanceClockRequest(by=_days(32)))
        month_end = next(r for r in first.runs if r.schedule == "month-end-close")
        assert "1 paid, 1 past due" in month_end.summary
        invoices = {}
        for tenant in (paying, declined):
            listed = await mesh.billing_stub(tenant.api_key).ListInvoices(
                billing_pb2.ListInvoicesRequest()
            )
            invoices[tenant.company_id] = [i.payment_status for i in listed.invoices]
        assert invoices == {paying.company_id: ["paid"], declined.company_id: ["past_due"]}
        sub = await mesh.storage_stub(declined.api_key).GetSubscription(
            storage_pb2.GetSubscriptionRequest()
        )
        assert (sub.subscription.tier, sub.subscription.status) == (PRO, "past_due")

        # Second month end: still unpaid, so it expires to free; the paying one renews.
        await lifecycle.AdvanceClock(lifecycle_pb2.AdvanceClockRequest(by=_days(31)))
        for tenant, tier in ((paying, PRO), (declined, FREE)):
            now = await mesh.storage_stub(tenant.api_key).GetSubscription(
                storage_pb2.GetSubscriptionRequest()
            )
            assert now.subscription.tier == tier, tenant.company_id

        walk = ["invoice.issued", "payment.failed", "subscription.expiring", "subscription.expired"]

        def delivered() -> bool:
            types = {json.loads(r.body)["type"] for r in receiver.accepted()}
            return set(walk) <= types

        await eventually(delivered, "the dunning webhooks", within=60)
        # Deliveries may overtake each other (as with any webhooks): the order is the
        # events' own business time.
        when: dict[str, str] = {}
        for body in sorted((json.loads(r.body) for r in receiver.accepted()),
                           key=lambda b: b["timestamp"]):  # fmt: skip
            when.setdefault(body["type"], body["timestamp"])
        assert when["invoice.issued"] <= when["payment.failed"] <= when["subscription.expiring"]
        assert when["subscription.expiring"] < when["subscription.expired"]
