"""Closing a billing period: each customer's invoice rated once, stored, never re-rated."""

from __future__ import annotations

from tickmesh.common.v1 import billing_pb2 as invoice_pb2

from servers.billing import convert
from servers.billing.clock import Clock
from servers.billing.invoices import close_invoice
from servers.billing.periods import BillingPeriod
from servers.billing.storage_source import StorageSource, each
from servers.billing.subscriptions import segments_for_period

Closed = tuple[invoice_pb2.Invoice, bool]
"""An invoice and whether it had been stored before (closed already)."""


async def close_period(
    storage: StorageSource, clock: Clock, period: BillingPeriod, company_id: str = ""
) -> list[Closed]:
    """Close `period` for one company, or for every company when none is named; a company
    that was no customer in the period (created after it) gets no invoice."""
    ids = [company_id] if company_id else [c.company_id for c in await storage.companies()]
    results = await each(sorted(ids), lambda c: _close(storage, clock, c, period))
    return [r for r in results if r is not None]


async def _close(
    storage: StorageSource, clock: Clock, company: str, period: BillingPeriod
) -> Closed | None:
    stored = await storage.invoices(company, period)
    if stored:  # closed already: the stored invoice is final, never re-rated
        return stored[0], True
    events = await storage.history(company)
    if not segments_for_period(period, events):
        return None
    inp = await storage.invoice_input(company, period, events)
    invoice, _ = close_invoice(inp, clock)
    # Storage keeps the first invoice per company and period: a concurrent close wins.
    return await storage.save_invoice(convert.invoice_pb(invoice))
