"""Revenue report, churn risk, upsell candidates, SLA report and customer health."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from mesh.errors import InvalidArgument
from mesh.tiers import MB, Tier
from servers.billing.analytics import (
    UNATTRIBUTED,
    CompanyAccount,
    MonthlyUsage,
    Risk,
    TierSlaFigures,
    churn_risk,
    revenue_report,
    sla_report,
    upsell_candidates,
    upsell_threshold,
)
from servers.billing.customer_health import HealthInput, health, health_report
from servers.billing.lines import LineKind
from servers.billing.money import Money, total
from servers.billing.quotas import QuotaUsage, next_tier

from .helpers import NOV, at, created, rate_preview

FREE, PRO, ENT = Tier.FREE, Tier.PRO, Tier.ENTERPRISE


def test_revenue_report_splits_to_the_cent() -> None:
    accounts = [
        CompanyAccount("a", PRO, usage_by_service={"bridge": 2, "ingestion": 1}),
        CompanyAccount("b", ENT, usage_by_service={"storage": 1, "bridge": 1, "ingestion": 1}),
        CompanyAccount("c", PRO),  # paying, no usage recorded
        CompanyAccount("d", FREE, usage_by_service={"bridge": 10**9}),  # free usage earns nothing
        CompanyAccount("e", ENT, active=False, usage_by_service={"bridge": 5}),  # cancelled
    ]
    report = revenue_report(NOV, accounts)
    # MRR = 99 + 499 + 99 = 697.00
    assert report.mrr == Money(69700)
    assert report.companies_by_tier == {PRO: 2, ENT: 1}
    # ARPU pro = 198.00 / 2 = 99.00; enterprise = 499.00 / 1
    assert report.arpu_by_tier == {PRO: Money(9900), ENT: Money(49900)}
    # a: 99.00 split 2:1 -> bridge 66.00, ingestion 33.00
    # b: 499.00 split 1:1:1 -> 166.333 each; the spare cent goes to the first (bridge): 166.34
    # c: 99.00 unattributed
    assert report.revenue_by_service == {
        "bridge": Money(6600 + 16634),  # 232.34
        "ingestion": Money(3300 + 16633),  # 199.33
        "storage": Money(16633),  # 166.33
        UNATTRIBUTED: Money(9900),
    }
    # 232.34 + 199.33 + 166.33 + 99.00 = 697.00
    assert total(report.revenue_by_service.values()) == report.mrr


def test_revenue_report_of_nobody() -> None:
    report = revenue_report(NOV, [CompanyAccount("d", FREE)])
    assert report.mrr == Money(0) and report.revenue_by_service == {}
    assert report.arpu_by_tier == {PRO: Money(0), ENT: Money(0)}


def test_churn_risk_from_three_months() -> None:
    usages = [
        MonthlyUsage("a", PRO, (1000, 800, 400)),  # (1000-400)/1000 = 60 % -> high
        MonthlyUsage("b", PRO, (1000, 900, 700)),  # 30 % -> medium
        MonthlyUsage("c", ENT, (1000, 950, 900)),  # 10 % -> low
        MonthlyUsage("d", PRO, (1000, 1200, 800)),  # rose then fell: not declining
        MonthlyUsage("e", PRO, (1000, 1000, 900)),  # flat then fell: not strictly declining
        MonthlyUsage("f", FREE, (3, 2, 1)),  # 2/3 = 66.666 % -> 66.67, high
        MonthlyUsage("g", PRO, (1000, 600, 500)),  # exactly 50 %: medium, as the seed says
        MonthlyUsage("h", PRO, (0, 0, 0)),
    ]
    entries = churn_risk(usages)
    assert [(e.company_id, e.decline_percent, e.risk) for e in entries] == [
        ("f", Decimal("66.67"), Risk.HIGH),
        ("a", Decimal("60.00"), Risk.HIGH),
        ("g", Decimal("50.00"), Risk.MEDIUM),
        ("b", Decimal("30.00"), Risk.MEDIUM),
        ("c", Decimal("10.00"), Risk.LOW),
    ]
    assert entries[1].months == (1000, 800, 400)


def test_upsell_at_80_percent() -> None:
    usages = [
        QuotaUsage("a", FREE, daily_api_calls=800),  # 800 / 1,000 = 80 %: in
        QuotaUsage("b", FREE, daily_api_calls=799),  # 79.9 %: out
        QuotaUsage("c", PRO, concurrent_streams=4),  # 4 / 5 = 80 %: in
        QuotaUsage("d", ENT, concurrent_streams=50),  # top tier: nothing to sell
        QuotaUsage("e", FREE, storage_bytes=90 * MB, daily_api_calls=850),  # 90 % and 85 %
        QuotaUsage("f", PRO, daily_api_calls=40_000),  # 40,000 / 50,000 = 80 %: in
    ]
    found = upsell_candidates(usages)
    assert [(c.company_id, c.quota, c.used_ratio, c.suggested_tier) for c in found] == [
        ("e", "storage", Fraction(9, 10), PRO),
        ("e", "daily_api_calls", Fraction(17, 20), PRO),
        ("a", "daily_api_calls", Fraction(4, 5), PRO),
        ("c", "concurrent_streams", Fraction(4, 5), ENT),
        ("f", "daily_api_calls", Fraction(4, 5), ENT),
    ]
    # a higher threshold keeps only the storage one
    assert [c.company_id for c in upsell_candidates(usages, Fraction(9, 10))] == ["e"]


def test_upsell_threshold_from_the_contract() -> None:
    assert upsell_threshold(0.0) == Fraction(4, 5)  # proto default
    assert upsell_threshold(0.8) == Fraction(4, 5)  # exactly, not 0.8000000000000000444
    assert upsell_threshold(Decimal("0.95")) == Fraction(19, 20)
    for bad in (1.5, -0.1, float("nan"), float("inf")):
        with pytest.raises(InvalidArgument):
            upsell_threshold(bad)


def test_next_tier() -> None:
    assert (next_tier(FREE), next_tier(PRO), next_tier(ENT)) == (PRO, ENT, None)


def test_sla_report_per_tier() -> None:
    invoices = [
        rate_preview(NOV, created(PRO, at(2025, 10, 1)), availability={PRO: Decimal("99.5")}),
        rate_preview(NOV, created(PRO, at(2025, 10, 1)), availability={PRO: Decimal("98")}),
        rate_preview(NOV, created(FREE, at(2025, 10, 1)), availability={FREE: Decimal("90")}),
    ]
    # the free miss credits nothing: 50 % of $0.00
    assert invoices[2].lines_of(LineKind.SLA_CREDIT) == []
    figures = [
        TierSlaFigures(PRO, Decimal("99.5"), latency_p99_us=80_000),
        TierSlaFigures(FREE, Decimal("90")),
    ]
    report = {t.tier: t for t in sla_report(figures, invoices)}
    # pro credits: 10 % of 99.00 = 9.90, plus 25 % of 99.00 = 24.75 -> 34.65
    assert report[PRO].credits == Money(3465)
    assert (report[PRO].target_percent, report[PRO].measured_percent) == (
        Decimal("99.9"),
        Decimal("99.5"),
    )
    assert not report[PRO].met and report[PRO].latency_target_ms == 100
    assert not report[FREE].met and report[FREE].credits == Money(0)
    # nothing measured for enterprise: met, no credits
    assert report[ENT].met and report[ENT].measured_percent is None
    assert report[ENT].credits == Money(0)


def test_health_score_weights() -> None:
    inp = HealthInput(
        "a",
        FREE,
        monthly_usage=(1000, 800, 500),
        quota=QuotaUsage("a", FREE, daily_api_calls=300),
        requests=1000,
        errors=10,
        availability=Decimal("99.5"),
    )
    result = health(inp)
    # trend 500/1000 = 0.5 * 40 = 20.0
    # quota 300/1000 = 30 % of daily calls, *2 = 0.6 * 20 = 12.0
    # errors 10/1000 = 1 %, 1 - 20 * 0.01 = 0.8 * 20 = 16.0
    # sla free 99.5 >= 99: met, 1 * 20 = 20.0
    assert result.score == Decimal("68.0")
    assert result.factors == (
        "usage_trend: usage 1,000 -> 500: 20.0/40",
        "quota_use: peak 30.0% of daily_api_calls: 12.0/20",
        "errors: 10 errors in 1,000 calls: 16.0/20",
        "sla: availability 99.5% vs 99% target: 20.0/20",
    )


def test_health_report_is_worst_first() -> None:
    thriving = HealthInput(
        "t", PRO, (100, 150, 200), QuotaUsage("t", PRO, concurrent_streams=5), 10, 0, None
    )
    # trend capped 1 -> 40; quota 5/5 -> 20; no errors 20; not measured 20 = 100
    dying = HealthInput("d", ENT, (1000, 10, 0), None, 100, 50, Decimal("94"))
    # trend 0; no quota 0; 50 % errors 0; 94 % -> 50 % credit -> 0 = 0
    middling = HealthInput("m", PRO, (1000, 900, 900), None, 0, 0, Decimal("99.5"))
    # trend 0.9 * 40 = 36; quota 0; errors 20; sla 10 % credit: 1 - 10/50 = 0.8 * 20 = 16 -> 72
    scores = [(h.company_id, h.score) for h in health_report([thriving, dying, middling])]
    assert scores == [("d", Decimal("0.0")), ("m", Decimal("72.0")), ("t", Decimal("100.0"))]
