"""Mesh metrics from instance reports: revenue attribution, customer health, insights."""

from __future__ import annotations

from tickmesh.common.v1 import metrics_pb2, tenancy_pb2

from mesh.tiers import Tier
from servers.hub.insights import Report, ServiceHealth, aggregate, split

FREE, PRO, ENT = tenancy_pb2.TIER_FREE, tenancy_pb2.TIER_PRO, tenancy_pb2.TIER_ENTERPRISE


Activity = tuple[str, "tenancy_pb2.Tier", int, int, float]


def report(service: str, *companies: Activity, sessions: int = 0) -> Report:
    return Report(
        service,
        f"{service}-1",
        metrics_pb2.GetBusinessMetricsResponse(
            service=service,
            active_sessions_by_tier=[metrics_pb2.TierCount(tier=ENT, value=sessions)],
            companies=[
                metrics_pb2.CompanyActivity(
                    company_id=c, tier=t, requests=r, errors=e, quota_used_ratio=q
                )
                for c, t, r, e, q in companies
            ],
        ),
    )


def test_split_is_exact() -> None:
    assert split(100, {"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert split(49_900, {"bridge": 3, "billing": 1}) == {"bridge": 37_425, "billing": 12_475}
    assert split(0, {"a": 1}) == {"a": 0}
    assert split(100, {"a": 0}) == {"a": 0}


def test_revenue_is_price_times_companies_split_by_request_share() -> None:
    reports = [
        report("bridge", ("ent-1", ENT, 300, 0, 0.0), ("pro-1", PRO, 100, 0, 0.5), sessions=4),
        report("billing", ("ent-1", ENT, 100, 0, 0.0), ("free-1", FREE, 50, 0, 0.0)),
    ]
    services = [ServiceHealth("bridge", 1, 1), ServiceHealth("billing", 1, 1)]
    metrics = aggregate(reports, services)
    assert metrics.revenue_by_tier == {Tier.FREE: 0, Tier.PRO: 9_900, Tier.ENTERPRISE: 49_900}
    # Enterprise: 3/4 bridge, 1/4 billing; pro: all bridge.
    assert metrics.revenue_by_service == {"billing": 12_475, "bridge": 37_425 + 9_900}
    assert sum(metrics.revenue_by_service.values()) == 59_800
    assert metrics.sessions_by_tier[Tier.ENTERPRISE] == 4
    kinds = [i.kind for i in metrics.insights]
    assert kinds == ["top_revenue_service"]
    assert "bridge earns 79%" in metrics.insights[0].message


def test_customer_health_and_at_risk_customers() -> None:
    reports = [
        report(
            "bridge",
            ("good", PRO, 500, 0, 0.2),
            ("failing", ENT, 100, 60, 0.1),
            ("capped", FREE, 1000, 0, 1.0),
        ),
        report("billing", ("failing", ENT, 20, 0, 0.0)),
    ]
    metrics = aggregate(reports, [ServiceHealth("bridge", 1, 1)])
    by_id = {c.company_id: c for c in metrics.customers}
    assert by_id["good"].score == 100 and by_id["good"].factors == ("healthy usage",)
    assert by_id["failing"].score == 50  # 60 of 120 calls failed: -50
    assert by_id["capped"].score == 75 and "used up its daily quota" in by_id["capped"].factors
    assert [c.company_id for c in metrics.customers] == ["failing", "capped", "good"]
    at_risk = next(i for i in metrics.insights if i.kind == "at_risk_customers")
    assert "1 customer(s)" in at_risk.message and "failing (50)" in at_risk.message


def test_free_tier_pressure_and_unhealthy_services() -> None:
    reports = [
        report("bridge", ("f1", FREE, 900, 0, 0.9), ("p1", PRO, 100, 0, 0.0)),
        Report("ingestion", "ingestion-1", error="DEADLINE_EXCEEDED: slow"),
    ]
    services = [
        ServiceHealth("bridge", 2, 2),
        ServiceHealth("ingestion", 1, 1),
        ServiceHealth("storage", 1, 0),
    ]
    metrics = aggregate(reports, services)
    insights = {i.kind: i for i in metrics.insights}
    assert "free tenants make 90% of requests" in insights["free_tier_pressure"].message
    assert "1 of them are at or near their quota" in insights["free_tier_pressure"].message
    unhealthy = insights["unhealthy_services"].message
    assert "ingestion" in unhealthy and "storage" in unhealthy and "bridge" not in unhealthy
