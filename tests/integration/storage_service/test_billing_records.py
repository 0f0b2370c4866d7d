"""What Billing keeps in Storage: invoices (once per company and period) and the
subscription history it rates from."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import timestamp_pb2
from tickmesh.common.v1 import billing_pb2, money_pb2
from tickmesh.storage.v1 import storage_pb2

from tests.integration.storage_service.conftest import ENTERPRISE, FREE, PRO, StorageMesh


def _invoice(company_id: str, total: int, period: str = "2026-10") -> billing_pb2.Invoice:
    issued = timestamp_pb2.Timestamp()
    issued.FromDatetime(datetime(2026, 11, 1, tzinfo=UTC))
    return billing_pb2.Invoice(
        invoice_id=f"inv-{period}-{company_id}",
        company_id=company_id,
        billing_period=period,
        status="closed",
        total=money_pb2.Money(currency="USD", minor_units=total),
        issued_at=issued,
        lines=[billing_pb2.InvoiceLine(kind="subscription", description="pro, October")],
    )


async def test_an_invoice_is_stored_once_per_company_and_period(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant(PRO)
    billing = storage_mesh.service_stub("billing")
    first = await billing.SaveInvoice(
        storage_pb2.SaveInvoiceRequest(invoice=_invoice(tenant.company_id, 9_900))
    )
    again = await billing.SaveInvoice(
        storage_pb2.SaveInvoiceRequest(invoice=_invoice(tenant.company_id, 1))
    )
    assert not first.already_existed and again.already_existed
    assert again.invoice == first.invoice  # the stored one, byte for byte
    listed = await storage_mesh.storage_stub(tenant.api_key).ListInvoices(
        storage_pb2.ListInvoicesRequest()
    )
    assert [i.total.minor_units for i in listed.invoices] == [9_900]


async def test_invoices_are_private_and_written_only_by_services(storage_mesh: StorageMesh) -> None:
    a, b = await storage_mesh.tenant(), await storage_mesh.tenant(name="Beta Capital")
    as_a = storage_mesh.storage_stub(a.api_key)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await as_a.SaveInvoice(storage_pb2.SaveInvoiceRequest(invoice=_invoice(a.company_id, 0)))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await as_a.ListInvoices(storage_pb2.ListInvoicesRequest(company_id=b.company_id))
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await storage_mesh.service_stub().SaveInvoice(
            storage_pb2.SaveInvoiceRequest(invoice=_invoice(a.company_id, 0, period="2026-13"))
        )
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_subscription_events_list_changes_when_they_take_effect(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(FREE)
    op = storage_mesh.operator
    await op.ChangeTier(
        storage_pb2.ChangeTierRequest(company_id=tenant.company_id, tier=PRO, effect=1)
    )
    await op.ChangeTier(
        storage_pb2.ChangeTierRequest(company_id=tenant.company_id, tier=ENTERPRISE, effect=2)
    )
    events = await storage_mesh.service_stub().ListSubscriptionEvents(
        storage_pb2.ListSubscriptionEventsRequest(company_id=tenant.company_id)
    )
    assert [(e.kind, e.from_tier, e.to_tier) for e in events.events] == [
        ("created", 0, FREE),
        ("tier_changed", FREE, PRO),
    ]  # the END_OF_TERM change is pending, not yet effective
    sub = await storage_mesh.storage_stub(tenant.api_key).GetSubscription(
        storage_pb2.GetSubscriptionRequest()
    )
    assert sub.subscription.tier == PRO and sub.subscription.pending_tier == ENTERPRISE
