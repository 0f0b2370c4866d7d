"""Invoices through the Billing service on a real Storage: preview, tier change, close."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import grpc
import pytest
from tickmesh.billing.v1 import billing_pb2
from tickmesh.common.v1 import billing_pb2 as invoice_pb2
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from servers.billing.clock import ManualClock
from tests.integration.billing.conftest import (
    ENTERPRISE,
    FREE,
    PRO,
    StorageMesh,
    billing_server,
    created_at,
    half_up,
    this_month,
)

IMMEDIATE = invoice_pb2.CHANGE_EFFECT_IMMEDIATE
END_OF_TERM = invoice_pb2.CHANGE_EFFECT_END_OF_TERM
PRO_CENTS, ENTERPRISE_CENTS = 9_900, 49_900


def days_from(instant: datetime) -> tuple[int, int]:
    """(days billed from `instant`'s day to the month end, days in the month).

    The rule: the day of an event is billed entirely from that event on, so a company
    created on the 17th of a 30-day month pays 14/30 of the month (17th..30th).
    """
    in_month = calendar.monthrange(instant.year, instant.month)[1]
    return in_month - instant.day + 1, in_month


def usage_event(company: str, user: str, key: str, service: str, endpoint: str, points: int):
    now_us = int(datetime.now(UTC).timestamp() * 1e6)
    return tenancy_pb2.UsageEvent(
        idempotency_key=key, company_id=company, user_id=user, tier=PRO, service=service,
        endpoint=endpoint, data_points=points, processing_time_us=10, event_time_us=now_us,
        billing_period=this_month(),
    )  # fmt: skip


async def test_preview_bills_a_new_pro_tenant_from_its_creation_day(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    await storage_mesh.service_stub("bridge").RecordUsage(
        storage_pb2.RecordUsageRequest(
            events=[
                usage_event(tenant.company_id, tenant.user_id, "t1", "bridge", "ticks", 1234),
                usage_event(tenant.company_id, tenant.user_id, "c1", "hub", "GetQuote", 1),
            ]
        )
    )
    reply = await storage_mesh.billing_stub(tenant.api_key).PreviewInvoice(
        billing_pb2.PreviewInvoiceRequest()
    )
    invoice = reply.invoice
    days, in_month = days_from(await created_at(storage_mesh, tenant))
    expected = half_up(Fraction(PRO_CENTS * days, in_month))  # $99.00 * days / days-in-month
    subscription = [line for line in invoice.lines if line.kind == "subscription"]
    assert [(s.amount.minor_units, s.tier, s.quantity) for s in subscription] == [
        (expected, PRO, str(days))
    ]
    assert invoice.total.minor_units == expected and invoice.total.currency == "USD"
    assert (invoice.status, invoice.billing_period) == ("draft", this_month())
    assert invoice.company_id == tenant.company_id
    assert invoice.ticks_delivered == 1234  # bridge/ticks data points
    assert invoice.api_calls >= 1  # hub/GetQuote, plus whatever the tenant's calls metered
    # The same period previewed by the operator, by name, is the same invoice.
    again = await storage_mesh.billing_stub(storage_mesh.config.admin_key).PreviewInvoice(
        billing_pb2.PreviewInvoiceRequest(company_id=tenant.company_id, billing_period=this_month())
    )
    assert again.invoice.invoice_id == invoice.invoice_id
    assert again.invoice.total == invoice.total


async def test_mid_period_upgrade_is_prorated_to_the_cent_and_shows_on_the_invoice(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    billing = storage_mesh.billing_stub(tenant.api_key)
    await billing.SetPaymentMethod(billing_pb2.SetPaymentMethodRequest(token="pm_sim_ok"))
    changed = await billing.ChangeTier(
        billing_pb2.ChangeTierRequest(tier=ENTERPRISE, effect=IMMEDIATE)
    )
    assert (changed.previous_tier, changed.tier) == (PRO, ENTERPRISE)
    at = changed.effective_at.ToDatetime(tzinfo=UTC)
    days, in_month = days_from(at)
    # Credit the unused pro days, charge the same days at the enterprise price.
    credit = -half_up(Fraction(PRO_CENTS * days, in_month))
    charge = half_up(Fraction(ENTERPRISE_CENTS * days, in_month))
    assert [(p.kind, p.amount.minor_units, p.tier, p.quantity) for p in changed.proration] == [
        ("proration_credit", credit, PRO, str(days)),
        ("proration_charge", charge, ENTERPRISE, str(days)),
    ]
    preview = (await billing.PreviewInvoice(billing_pb2.PreviewInvoiceRequest())).invoice
    start_days, _ = days_from(await created_at(storage_mesh, tenant))
    fee = half_up(Fraction(PRO_CENTS * start_days, in_month))
    money = [(line.kind, line.amount.minor_units) for line in preview.lines if line.kind != "usage"]
    assert money == [
        ("subscription", fee),
        ("proration_credit", credit),
        ("proration_charge", charge),
    ]
    assert preview.total.minor_units == fee + credit + charge
    # An immediate change to the tier it already has prorates nothing: refused.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await billing.ChangeTier(billing_pb2.ChangeTierRequest(tier=ENTERPRISE, effect=IMMEDIATE))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # END_OF_TERM moves no money now and waits for the period end.
    later = await billing.ChangeTier(billing_pb2.ChangeTierRequest(tier=PRO, effect=END_OF_TERM))
    assert (later.previous_tier, later.tier, list(later.proration)) == (ENTERPRISE, PRO, [])
    period_end = (at.replace(day=1) + timedelta(days=32)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    assert later.effective_at.ToDatetime(tzinfo=UTC) == period_end
    unchanged = (await billing.PreviewInvoice(billing_pb2.PreviewInvoiceRequest())).invoice
    assert unchanged.total == preview.total


async def test_an_operator_changes_any_tier_and_is_recorded_as_the_actor(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(FREE)
    operator = storage_mesh.billing_stub(storage_mesh.config.admin_key)
    changed = await operator.ChangeTier(
        billing_pb2.ChangeTierRequest(company_id=tenant.company_id, tier=PRO, effect=IMMEDIATE)
    )
    assert (changed.previous_tier, changed.tier) == (FREE, PRO)
    assert [p.kind for p in changed.proration] == ["proration_credit", "proration_charge"]
    assert changed.proration[0].amount.minor_units == 0  # nothing paid for free days
    events = await storage_mesh.service_stub().ListSubscriptionEvents(
        storage_pb2.ListSubscriptionEventsRequest(company_id=tenant.company_id)
    )
    assert [(e.kind, e.actor) for e in events.events][-1] == ("tier_changed", "operator")


async def test_closing_the_current_period_is_refused(storage_mesh: StorageMesh) -> None:
    await storage_mesh.tenant(PRO)
    operator = storage_mesh.billing_stub(storage_mesh.config.admin_key)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await operator.CloseBillingPeriod(
            billing_pb2.CloseBillingPeriodRequest(billing_period=this_month())
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "has not ended" in (refused.value.details() or "")


async def test_closing_a_past_period_twice_returns_the_same_invoices(
    storage_mesh: StorageMesh,
) -> None:
    # A period has to have ended to close, and Storage creates companies "now". So Billing
    # runs on a clock one month ahead: this calendar month is a past period to it, and the
    # tenants created just now were customers for part of it (prorated from creation).
    pro = await storage_mesh.tenant(PRO, name="Pro Co")
    free = await storage_mesh.tenant(FREE, name="Free Co")
    now = datetime.now(UTC)
    next_month = (now.replace(day=1) + timedelta(days=32)).replace(day=2)
    async with billing_server(storage_mesh, clock=ManualClock(next_month)) as future:
        close = billing_pb2.CloseBillingPeriodRequest(billing_period=this_month())
        first = await future.operator.CloseBillingPeriod(close)
        second = await future.operator.CloseBillingPeriod(close)
        one = await future.operator.CloseBillingPeriod(
            billing_pb2.CloseBillingPeriodRequest(
                billing_period=this_month(), company_id=pro.company_id
            )
        )
        # Before the tenants existed there is nothing to invoice.
        earlier = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        before = await future.operator.CloseBillingPeriod(
            billing_pb2.CloseBillingPeriodRequest(billing_period=earlier)
        )
    assert (first.already_closed, second.already_closed, one.already_closed) == (0, 2, 1)
    assert list(first.invoices) == list(second.invoices)  # byte for byte
    by_company = {i.company_id: i for i in first.invoices}
    assert set(by_company) == {pro.company_id, free.company_id}
    days, in_month = days_from(await created_at(storage_mesh, pro))
    assert by_company[pro.company_id].total.minor_units == half_up(
        Fraction(PRO_CENTS * days, in_month)
    )
    assert by_company[free.company_id].total.minor_units == 0
    assert all(i.status == "closed" for i in first.invoices)
    assert list(one.invoices) == [by_company[pro.company_id]]
    assert list(before.invoices) == [] and before.already_closed == 0
    # The tenant sees its closed invoice, and only its own.
    listed = await storage_mesh.billing_stub(pro.api_key).ListInvoices(
        billing_pb2.ListInvoicesRequest()
    )
    assert list(listed.invoices) == [by_company[pro.company_id]]
