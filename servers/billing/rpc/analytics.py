"""Billing RPCs for the operator: revenue, churn risk, upsell, SLA and customer health."""

from __future__ import annotations

from datetime import timedelta

import grpc
from tickmesh.billing.v1 import billing_pb2

from mesh.errors import NotFound
from servers.billing import analytics, broker_report, convert, customer_health, reports
from servers.billing.money import total
from servers.billing.periods import BillingPeriod
from servers.billing.rpc._base import BillingRpcs, require_staff


class AnalyticsRpcs(BillingRpcs):
    """RevenueReport, ChurnRisk, UpsellCandidates, SlaReport, CustomerHealth, BrokerReport:
    staff only."""

    async def RevenueReport(
        self, request: billing_pb2.RevenueReportRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.RevenueReportResponse:
        require_staff()
        period = self._period(request.billing_period)
        # The tiers in force at the period's last instant (now, for the current period).
        at = min(self._clock.now(), period.end - timedelta(microseconds=1))
        accounts = await reports.revenue_accounts(self._storage, period, at)
        return convert.revenue_pb(analytics.revenue_report(period, accounts))

    async def ChurnRisk(
        self, request: billing_pb2.ChurnRiskRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ChurnRiskResponse:
        require_staff()
        usages = await reports.monthly_usages(self._storage, self._period(request.billing_period))
        entries = analytics.churn_risk(usages)
        return billing_pb2.ChurnRiskResponse(entries=[convert.churn_pb(e) for e in entries])

    async def UpsellCandidates(
        self, request: billing_pb2.UpsellCandidatesRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.UpsellCandidatesResponse:
        require_staff()
        threshold = analytics.upsell_threshold(request.threshold)
        usages = await reports.quota_usages(self._storage, self._quota)
        found = analytics.upsell_candidates(usages, threshold)
        return billing_pb2.UpsellCandidatesResponse(
            candidates=[convert.upsell_pb(c) for c in found]
        )

    async def SlaReport(
        self, request: billing_pb2.SlaReportRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.SlaReportResponse:
        require_staff()
        period = self._period(request.billing_period)
        invoices = await reports.period_invoices(self._storage, period, self._clock)
        tiers, companies = await self._storage.sla_figures(period)
        report = analytics.sla_report(tiers, invoices)
        return billing_pb2.SlaReportResponse(
            tiers=[convert.tier_sla_pb(t) for t in report],
            violations=[convert.sla_violation_pb(v) for v in analytics.sla_violations(companies)],
        )

    async def CustomerHealth(
        self, request: billing_pb2.CustomerHealthRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.CustomerHealthResponse:
        require_staff()
        companies = await self._storage.companies()
        if request.company_id:
            companies = [c for c in companies if c.company_id == request.company_id]
            if not companies:
                raise NotFound(f"company {request.company_id!r} not found")
        period = BillingPeriod.containing(self._clock.now())
        inputs = await reports.health_inputs(self._storage, self._quota, companies, period)
        scores = customer_health.health_report(inputs)
        return billing_pb2.CustomerHealthResponse(companies=[convert.health_pb(h) for h in scores])

    async def BrokerReport(
        self, request: billing_pb2.BrokerReportRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.BrokerReportResponse:
        require_staff()
        period = self._period(request.billing_period)
        figures, served = await self._storage.broker_figures(period)
        report = broker_report.broker_report(self._broker_costs, figures, served)
        return billing_pb2.BrokerReportResponse(
            billing_period=str(period),
            brokers=[convert.broker_analysis_pb(a) for a in report],
            total_cost=convert.money_pb(total(self._broker_costs.values())),
        )
