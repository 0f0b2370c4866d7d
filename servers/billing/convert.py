"""Billing's domain values to and from the contract's messages (money as integer minor units)."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from google.protobuf import timestamp_pb2
from tickmesh.billing.v1 import billing_pb2
from tickmesh.common.v1 import billing_pb2 as invoice_pb2
from tickmesh.common.v1 import money_pb2

from mesh import protoconv
from mesh.errors import FieldViolation, InvalidArgument
from mesh.protoconv import tier_from_proto, tier_to_proto
from servers.billing import analytics, customer_health, sla
from servers.billing.analytics import CompanySlaFigures
from servers.billing.broker_report import BrokerAnalysis
from servers.billing.invoices import Invoice, InvoiceStatus
from servers.billing.lines import InvoiceLine, LineKind
from servers.billing.money import Money
from servers.billing.periods import BillingPeriod
from servers.billing.proration import ChangeEffect
from servers.billing.reconcile import Reconciliation


def money_pb(amount: Money) -> money_pb2.Money:
    """The contract's Money."""
    return protoconv.money(amount.cents, amount.currency)


def line_pb(line: InvoiceLine) -> invoice_pb2.InvoiceLine:
    """One invoice line; a line about no tier leaves tier unset."""
    return invoice_pb2.InvoiceLine(
        kind=line.kind.value,
        description=line.description,
        amount=money_pb(line.amount),
        tier=tier_to_proto(line.tier) if line.tier else None,
        quantity=line.quantity,
    )


def invoice_pb(invoice: Invoice) -> invoice_pb2.Invoice:
    """The contract's Invoice."""
    issued = timestamp_pb2.Timestamp()
    issued.FromDatetime(invoice.issued_at)
    return invoice_pb2.Invoice(
        invoice_id=invoice.invoice_id,
        company_id=invoice.company_id,
        billing_period=str(invoice.period),
        lines=[line_pb(line) for line in invoice.lines],
        total=money_pb(invoice.total),
        status=invoice.status.value,
        issued_at=issued,
        ticks_delivered=invoice.ticks_delivered,
        api_calls=invoice.api_calls,
    )


def invoice_from_pb(message: invoice_pb2.Invoice) -> Invoice:
    """A stored invoice back in domain form (its amounts exactly as stored)."""
    return Invoice(
        invoice_id=message.invoice_id,
        company_id=message.company_id,
        period=BillingPeriod.parse(message.billing_period),
        lines=tuple(
            InvoiceLine(
                LineKind(line.kind),
                line.description,
                Money(line.amount.minor_units, line.amount.currency or "USD"),
                tier_from_proto(line.tier) if line.tier else None,
                line.quantity,
            )
            for line in message.lines
        ),
        total=Money(message.total.minor_units, message.total.currency or "USD"),
        status=InvoiceStatus(message.status),
        issued_at=message.issued_at.ToDatetime(tzinfo=UTC),
        ticks_delivered=message.ticks_delivered,
        api_calls=message.api_calls,
    )


def revenue_pb(report: analytics.RevenueReport) -> billing_pb2.RevenueReportResponse:
    """MRR and its breakdowns, keyed by tier name and service."""
    return billing_pb2.RevenueReportResponse(
        billing_period=str(report.period),
        mrr=money_pb(report.mrr),
        arpu_by_tier={t.value: money_pb(m) for t, m in report.arpu_by_tier.items()},
        companies_by_tier={t.value: n for t, n in report.companies_by_tier.items()},
        revenue_by_service={s: money_pb(m) for s, m in report.revenue_by_service.items()},
    )


def churn_pb(entry: analytics.ChurnRiskEntry) -> billing_pb2.ChurnRiskEntry:
    return billing_pb2.ChurnRiskEntry(
        company_id=entry.company_id,
        tier=tier_to_proto(entry.tier),
        monthly_usage=list(entry.months),
        decline_percent=str(entry.decline_percent),
        risk=entry.risk.value,
    )


def upsell_pb(candidate: analytics.UpsellCandidate) -> billing_pb2.UpsellCandidate:
    return billing_pb2.UpsellCandidate(
        company_id=candidate.company_id,
        tier=tier_to_proto(candidate.tier),
        suggested_tier=tier_to_proto(candidate.suggested_tier),
        quota=candidate.quota,
        used_ratio=float(candidate.used_ratio),  # the contract's ratio is a display double
    )


def sla_violation_pb(figures: CompanySlaFigures) -> billing_pb2.CompanySlaViolation:
    """One company's reported SLA shortfall."""
    return billing_pb2.CompanySlaViolation(
        company_id=figures.company_id,
        tier=tier_to_proto(figures.tier),
        target_percent=str(sla.target(figures.tier)),
        measured_percent=str(figures.availability_percent),
        minutes=figures.minutes,
        minutes_missed=figures.minutes_missed,
        latency_p99_us=figures.latency_p99_us,
    )


def tier_sla_pb(entry: analytics.TierSla) -> billing_pb2.TierSla:
    return billing_pb2.TierSla(
        tier=tier_to_proto(entry.tier),
        target_percent=str(entry.target_percent),
        measured_percent=_or_empty(entry.measured_percent),
        latency_target_ms=entry.latency_target_ms,
        latency_p99_us=entry.latency_p99_us,
        met=entry.met,
        credits=money_pb(entry.credits),
    )


def health_pb(entry: customer_health.CompanyHealth) -> billing_pb2.CompanyHealth:
    return billing_pb2.CompanyHealth(
        company_id=entry.company_id,
        tier=tier_to_proto(entry.tier),
        score=float(entry.score),
        factors=list(entry.factors),
    )


def reconcile_pb(result: Reconciliation) -> billing_pb2.ReconcileResponse:
    return billing_pb2.ReconcileResponse(
        billing_period=str(result.period),
        entries=[
            billing_pb2.ReconcileEntry(
                company_id=e.company_id, delivered=e.delivered, billed=e.billed,
                difference=e.difference,
            )
            for e in result.entries
        ],
        balanced=result.balanced,
        bridges_counted=result.bridges,
    )  # fmt: skip


def _or_empty(value: Decimal | None) -> str:
    return "" if value is None else str(value)


_EFFECTS = {
    invoice_pb2.CHANGE_EFFECT_IMMEDIATE: ChangeEffect.IMMEDIATE,
    invoice_pb2.CHANGE_EFFECT_END_OF_TERM: ChangeEffect.END_OF_TERM,
}


def effect_from_pb(value: int) -> ChangeEffect:
    """When a tier change takes effect; INVALID_ARGUMENT for an unset or unknown value."""
    effect = _EFFECTS.get(value)  # type: ignore[call-overload]
    if effect is None:
        raise InvalidArgument(
            "effect must be CHANGE_EFFECT_IMMEDIATE or CHANGE_EFFECT_END_OF_TERM",
            violations=[FieldViolation("effect", "IMMEDIATE or END_OF_TERM")],
        )
    return effect


def _text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def broker_analysis_pb(a: BrokerAnalysis) -> billing_pb2.BrokerAnalysis:
    return billing_pb2.BrokerAnalysis(
        broker=a.broker,
        monthly_cost=money_pb(a.monthly_cost),
        uptime_percent=_text(a.uptime_percent),
        completeness_percent=_text(a.completeness_percent),
        latency_mean_us=a.latency_mean_us,
        latency_p99_us=a.latency_p99_us,
        quotes=a.quotes,
        outliers_rejected=a.outliers,
        invalid_rejected=a.invalid,
        best_prices=[
            billing_pb2.BestPriceShare(
                tier=tier_to_proto(s.tier), won=s.won, total=s.total, share_percent=_text(s.percent)
            )
            for s in a.best_prices
        ],
        tiers=[tier_to_proto(t) for t in a.tiers],
        cost_per_tenant=[
            billing_pb2.TenantCost(company_id=c, tier=tier_to_proto(t), cost=money_pb(m))
            for c, t, m in a.cost_per_tenant
        ],
        unallocated=money_pb(a.unallocated),
        recommendation=a.recommendation,
        reasons=list(a.reasons),
        observed_seconds=a.observed_s,
    )
