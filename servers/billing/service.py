"""BillingService servicer: authorizes the caller, reads Storage, rates with the billing modules."""

from __future__ import annotations

from datetime import UTC, timedelta

import grpc
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.common.v1 import billing_pb2 as invoice_pb2

from mesh.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from mesh.protoconv import tier_from_proto
from mesh.tenancy.current import (
    PrincipalKind,
    actor_label,
    company_in_reach,
    current_principal,
)
from mesh.tenancy.quota import QuotaStore
from servers.billing import analytics, convert, customer_health, reports
from servers.billing.bridge_counters import BridgeCounters
from servers.billing.catalog import tier_catalog
from servers.billing.clock import Clock, SystemClock
from servers.billing.invoices import close_invoice, preview_invoice
from servers.billing.lines import InvoiceLine
from servers.billing.periods import BillingPeriod
from servers.billing.proration import ChangeEffect, quote_change
from servers.billing.reconcile import reconcile
from servers.billing.storage_source import StorageSource, each, tier_at
from servers.billing.subscriptions import segments_for_period

OPERATOR, SERVICE, TENANT = PrincipalKind.OPERATOR, PrincipalKind.SERVICE, PrincipalKind.TENANT
_EFFECTS = {
    invoice_pb2.CHANGE_EFFECT_IMMEDIATE: ChangeEffect.IMMEDIATE,
    invoice_pb2.CHANGE_EFFECT_END_OF_TERM: ChangeEffect.END_OF_TERM,
}


def _staff() -> None:
    current_principal().require(OPERATOR, SERVICE)


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    """Every BillingService RPC; the numbers come from Storage, the rules from the modules."""

    def __init__(
        self,
        storage: StorageSource,
        bridges: BridgeCounters,
        quota: QuotaStore,
        clock: Clock | None = None,
    ) -> None:
        self._storage = storage
        self._bridges = bridges
        self._quota = quota
        self._clock = clock or SystemClock()

    def _period(self, text: str) -> BillingPeriod:
        return BillingPeriod.parse(text) if text else BillingPeriod.containing(self._clock.now())

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
        _staff()
        period = BillingPeriod.parse(request.billing_period)
        if self._clock.now() < period.end:
            raise FailedPrecondition(
                f"billing period {period} has not ended; it closes from {period.end.isoformat()}"
            )
        if request.company_id:
            ids = [request.company_id]
        else:
            ids = [c.company_id for c in await self._storage.companies()]
        results = await each(sorted(ids), lambda c: self._close(c, period))
        closed = [r for r in results if r is not None]
        return billing_pb2.CloseBillingPeriodResponse(
            invoices=[invoice for invoice, _ in closed],
            already_closed=sum(again for _, again in closed),
        )

    async def _close(
        self, company: str, period: BillingPeriod
    ) -> tuple[invoice_pb2.Invoice, bool] | None:
        """The company's closed invoice and whether it was stored before; None if not a customer
        in the period (created after it)."""
        stored = await self._storage.invoices(company, period)
        if stored:  # closed already: the stored invoice is final, never re-rated
            return stored[0], True
        events = await self._storage.history(company)
        if not segments_for_period(period, events):
            return None
        inp = await self._storage.invoice_input(company, period, events)
        invoice, _ = close_invoice(inp, self._clock)
        # Storage keeps the first invoice per company and period: a concurrent close wins.
        return await self._storage.save_invoice(convert.invoice_pb(invoice))

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
        effect = _EFFECTS.get(request.effect)
        if effect is None:
            raise InvalidArgument(
                "effect must be CHANGE_EFFECT_IMMEDIATE or CHANGE_EFFECT_END_OF_TERM",
                violations=[FieldViolation("effect", "IMMEDIATE or END_OF_TERM")],
            )
        now = self._clock.now()
        current = tier_at(await self._storage.history(company), now)
        if current is None:
            raise FailedPrecondition(f"company {company} has no subscription at {now.isoformat()}")
        quote_change(current, tier, effect, now)  # refuses a no-op before anything is written
        reply = await self._storage.change_tier(company, tier, effect, actor_label())
        previous = tier_from_proto(reply.previous_tier)
        effective_at = reply.effective_at.ToDatetime(tzinfo=UTC)
        lines: tuple[InvoiceLine, ...] = ()
        if effect is ChangeEffect.IMMEDIATE and previous != tier:
            # Priced at the instant Storage recorded: the period's invoice shows these lines.
            lines = quote_change(previous, tier, effect, effective_at).lines
        return billing_pb2.ChangeTierResponse(
            previous_tier=reply.previous_tier,
            tier=request.tier,
            effective_at=reply.effective_at,
            proration=[convert.line_pb(line) for line in lines],
        )

    async def RevenueReport(
        self, request: billing_pb2.RevenueReportRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.RevenueReportResponse:
        _staff()
        period = self._period(request.billing_period)
        # The tiers in force at the period's last instant (now, for the current period).
        at = min(self._clock.now(), period.end - timedelta(microseconds=1))
        accounts = await reports.revenue_accounts(self._storage, period, at)
        return convert.revenue_pb(analytics.revenue_report(period, accounts))

    async def ChurnRisk(
        self, request: billing_pb2.ChurnRiskRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ChurnRiskResponse:
        _staff()
        usages = await reports.monthly_usages(self._storage, self._period(request.billing_period))
        entries = analytics.churn_risk(usages)
        return billing_pb2.ChurnRiskResponse(entries=[convert.churn_pb(e) for e in entries])

    async def UpsellCandidates(
        self, request: billing_pb2.UpsellCandidatesRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.UpsellCandidatesResponse:
        _staff()
        threshold = analytics.upsell_threshold(request.threshold)
        usages = await reports.quota_usages(self._storage, self._quota)
        found = analytics.upsell_candidates(usages, threshold)
        return billing_pb2.UpsellCandidatesResponse(
            candidates=[convert.upsell_pb(c) for c in found]
        )

    async def SlaReport(
        self, request: billing_pb2.SlaReportRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.SlaReportResponse:
        _staff()
        period = self._period(request.billing_period)
        invoices = await reports.period_invoices(self._storage, period, self._clock)
        report = analytics.sla_report(await self._storage.tier_sla(period), invoices)
        return billing_pb2.SlaReportResponse(tiers=[convert.tier_sla_pb(t) for t in report])

    async def CustomerHealth(
        self, request: billing_pb2.CustomerHealthRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.CustomerHealthResponse:
        _staff()
        companies = await self._storage.companies()
        if request.company_id:
            companies = [c for c in companies if c.company_id == request.company_id]
            if not companies:
                raise NotFound(f"company {request.company_id!r} not found")
        period = BillingPeriod.containing(self._clock.now())
        inputs = await reports.health_inputs(self._storage, self._quota, companies, period)
        scores = customer_health.health_report(inputs)
        return billing_pb2.CustomerHealthResponse(companies=[convert.health_pb(h) for h in scores])

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
        billed = {}
        for company in companies:
            billed[company] = (await self._storage.usage_summary(company, period)).ticks_delivered
        delivered = await self._bridges.delivered(companies, period)
        result = reconcile(period, delivered.per_company, billed, bridges=delivered.bridges)
        return convert.reconcile_pb(result)
