"""Billing RPCs about one customer's money: the catalog, invoices, tier changes, reconcile."""

from __future__ import annotations

import grpc
from tickmesh.billing.v1 import billing_pb2

from mesh.business_time import as_of
from mesh.errors import FailedPrecondition
from mesh.protoconv import tier_from_proto
from mesh.tenancy.current import actor_label, company_in_reach, current_principal
from mesh.tiers import Tier
from servers.billing import convert, reports
from servers.billing.catalog import tier_catalog
from servers.billing.clock import ManualClock
from servers.billing.closing import close_period
from servers.billing.invoices import preview_invoice
from servers.billing.periods import BillingPeriod
from servers.billing.reconcile import reconcile
from servers.billing.rpc._base import OPERATOR, SERVICE, TENANT, BillingRpcs, require_staff
from servers.billing.rpc.payments import require_payment_method
from servers.billing.tier_change import change_tier


class InvoicingRpcs(BillingRpcs):
    """GetTierCatalog, PreviewInvoice, CloseBillingPeriod, ListInvoices, ChangeTier, Reconcile."""

    async def GetTierCatalog(
        self, request: billing_pb2.GetTierCatalogRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.GetTierCatalogResponse:
        return tier_catalog()

    async def PreviewInvoice(
        self, request: billing_pb2.PreviewInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.PreviewInvoiceResponse:
        company = company_in_reach(request.company_id)
        period = self._period(request.billing_period)
        invoice = preview_invoice(await self._storage.invoice_input(company, period), self._clock)
        return billing_pb2.PreviewInvoiceResponse(invoice=convert.invoice_pb(invoice))

    async def CloseBillingPeriod(
        self, request: billing_pb2.CloseBillingPeriodRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.CloseBillingPeriodResponse:
        require_staff()
        period = BillingPeriod.parse(request.billing_period)
        at = as_of(request)
        # The workflow service closes at its business time (its test clock in test mode).
        clock = ManualClock(at) if at else self._clock
        if clock.now() < period.end:
            raise FailedPrecondition(
                f"billing period {period} has not ended; it closes from {period.end.isoformat()}"
            )
        closed = await close_period(self._storage, clock, period, request.company_id)
        return billing_pb2.CloseBillingPeriodResponse(
            invoices=[invoice for invoice, _ in closed],
            already_closed=sum(again for _, again in closed),
        )

    async def ListInvoices(
        self, request: billing_pb2.ListInvoicesRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ListInvoicesResponse:
        company = company_in_reach(request.company_id)
        if current_principal().kind is not TENANT:
            await self._storage.history(company)  # NOT_FOUND rather than an empty list
        return billing_pb2.ListInvoicesResponse(invoices=await self._storage.invoices(company))

    async def ChangeTier(
        self, request: billing_pb2.ChangeTierRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ChangeTierResponse:
        company = company_in_reach(request.company_id)
        tier = tier_from_proto(request.tier)
        effect = convert.effect_from_pb(request.effect)
        if tier is not Tier.FREE:
            await require_payment_method(self._storage, company)
        changed = await change_tier(
            self._storage, self._clock, company, tier, effect, actor_label()
        )
        return billing_pb2.ChangeTierResponse(
            previous_tier=changed.recorded.previous_tier,
            tier=request.tier,
            effective_at=changed.recorded.effective_at,
            proration=[convert.line_pb(line) for line in changed.proration],
        )

    async def Reconcile(
        self, request: billing_pb2.ReconcileRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ReconcileResponse:
        principal = current_principal()
        period = self._period(request.billing_period)
        if principal.kind is TENANT:
            companies = [principal.require_tenant().company_id]
        else:
            principal.require(OPERATOR, SERVICE)
            companies = [c.company_id for c in await self._storage.companies()]
        billed = await reports.billed_ticks(self._storage, companies, period)
        delivered = await self._bridges.delivered(companies, period)
        result = reconcile(period, delivered.per_company, billed, bridges=delivered.bridges)
        return convert.reconcile_pb(result)
