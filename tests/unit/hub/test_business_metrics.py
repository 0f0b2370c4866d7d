"""The per-server business metrics registry (mesh/business_metrics.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from tickmesh.common.v1 import tenancy_pb2

from mesh.business_metrics import BusinessMetrics, _quota_ratio
from mesh.tiers import Tier


def test_counts_sessions_companies_and_gauges() -> None:
    now = [datetime(2025, 1, 31, 23, 0, tzinfo=UTC)]
    metrics = BusinessMetrics("bridge", "bridge-00000001", now=lambda: now[0])
    metrics.record_request(Tier.PRO, "co-1")
    metrics.record_request(Tier.PRO, "co-1")
    metrics.record_error(Tier.PRO, "co-1")
    metrics.record_quota(Tier.PRO, "co-1", 0.25)
    metrics.record_untenanted()
    metrics.add_gauge_source(lambda: {"resolutions.bridge.pro": 3.0})
    with metrics.session(Tier.ENTERPRISE):
        assert metrics.active_sessions() == 1
        snapshot = metrics.snapshot()
    assert metrics.active_sessions() == 0
    assert (snapshot.service, snapshot.instance_id) == ("bridge", "bridge-00000001")
    by_tier = {c.tier: c.value for c in snapshot.requests_by_tier}
    assert by_tier[tenancy_pb2.TIER_PRO] == 2
    sessions = {c.tier: c.value for c in snapshot.active_sessions_by_tier}
    assert sessions[tenancy_pb2.TIER_ENTERPRISE] == 1
    [company] = snapshot.companies
    assert (company.company_id, company.requests, company.errors) == ("co-1", 2, 1)
    assert company.quota_used_ratio == 0.25
    assert snapshot.gauges["untenanted_requests"] == 1
    assert snapshot.gauges["requests_total"] == 3
    assert snapshot.gauges["resolutions.bridge.pro"] == 3

    # A new billing period starts with no per-company activity.
    now[0] = datetime(2025, 2, 1, 0, 0, tzinfo=UTC)
    assert list(metrics.snapshot().companies) == []


def test_quota_ratio_from_ratelimit_headers() -> None:
    assert _quota_ratio([("ratelimit-limit", "1000"), ("ratelimit-remaining", "250")]) == 0.75
    assert _quota_ratio([("x-request-id", "r")]) is None
