"""Collecting a period's invoices: charge each closed, unpaid invoice with the company's
payment method; a failed charge makes the subscription past due, so that unless paid it
expires to free when its period ends (the dunning path, with its webhooks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tickmesh.common.v1 import billing_pb2 as invoice_pb2

from servers.billing.payments import PaymentGateway
from servers.billing.periods import BillingPeriod
from servers.billing.storage_source import StorageSource, each


@dataclass(frozen=True, slots=True)
class Collected:
    """One invoice's charge."""

    company_id: str
    invoice_id: str
    payment_status: str
    reason: str = ""


async def collect_period(
    storage: StorageSource,
    gateway: PaymentGateway,
    period: BillingPeriod,
    at: datetime,
    company_id: str = "",
) -> list[Collected]:
    """Charge every open invoice of `period` (one company's, when named)."""
    ids = [company_id] if company_id else [c.company_id for c in await storage.companies()]
    results = await each(sorted(ids), lambda c: _collect(storage, gateway, c, period, at))
    return [r for r in results if r is not None]


async def _collect(
    storage: StorageSource, gateway: PaymentGateway, company: str, period: BillingPeriod,
    at: datetime,
) -> Collected | None:  # fmt: skip
    stored = await storage.invoices(company, period)
    if not stored or stored[0].payment_status != "open":
        return None  # not closed yet, or charged already
    invoice: invoice_pb2.Invoice = stored[0]
    amount = invoice.total.minor_units
    if amount <= 0:  # nothing due (free, or covered by credit)
        status = await storage.record_payment(invoice, "succeeded", at, reference="", reason="")
        return Collected(company, invoice.invoice_id, status)
    method = await storage.payment_method(company)
    if method is None:
        charge_status, reference, reason = "declined", "", "no payment method on file"
    else:
        charge = await gateway.charge(method.token, amount, idempotency_key=invoice.invoice_id)
        charge_status, reference, reason = charge.status, charge.reference, charge.reason
    status = await storage.record_payment(
        invoice, charge_status, at, reference=reference, reason=reason
    )
    if status == "past_due":
        await storage.mark_past_due(company, at)
    return Collected(company, invoice.invoice_id, status, reason)
