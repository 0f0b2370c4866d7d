"""BillingService servicer: authorizes the caller, reads Storage, rates with the billing modules."""

from __future__ import annotations

from datetime import timedelta

import grpc
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc

from mesh.errors import FailedPrecondition, NotFound
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
from servers.billing.closing import close_period
from servers.billing.invoices import preview_invoice
from servers.billing.periods import BillingPeriod
from servers.billing.reconcile import reconcile
from servers.billing.storage_source import StorageSource
from servers.billing.tier_change import change_tier

OPERATOR, SERVICE, TENANT = PrincipalKind.OPERATOR, PrincipalKind.SERVICE, PrincipalKind.TENANT


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
        closed = await close_period(self._storage, self._clock, period, request.company_id)
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
        changed = await change_tier(
            self._storage, self._clock, company, tier, effect, actor_label()
        )
        return billing_pb2.ChangeTierResponse(
            previous_tier=changed.recorded.previous_tier,
            tier=request.tier,
            effective_at=changed.recorded.effective_at,
            proration=[convert.line_pb(line) for line in changed.proration],
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
        billed = await reports.billed_ticks(self._storage, companies, period)
        delivered = await self._bridges.delivered(companies, period)
        result = reconcile(period, delivered.per_company, billed, bridges=delivered.bridges)
        return convert.reconcile_pb(result)
