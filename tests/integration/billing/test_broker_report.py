"""The broker report from a real Storage (chDB): Ingestion's samples and the Bridge's usage in,
uptime, completeness, cost per tenant and the verdict out."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import grpc
import pytest
from tickmesh.billing.v1 import billing_pb2
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.metering.vocabulary import TICK_ENDPOINT, TICK_SERVICE
from tests.integration.billing.conftest import ENTERPRISE, FREE, PRO, StorageMesh, Tenant

MINUTE_US = 60_000_000


def _usage(tenant: Tenant, tier: int, ticks: int) -> tenancy_pb2.UsageEvent:
    now_us = int(time.time() * 1e6)
    return tenancy_pb2.UsageEvent(
        idempotency_key=f"t:{tenant.company_id}:{tier}", company_id=tenant.company_id,
        user_id=tenant.user_id, tier=tier, service=TICK_SERVICE, endpoint=TICK_ENDPOINT,
        data_points=ticks, processing_time_us=100, event_time_us=now_us,
        billing_period=datetime.now(UTC).strftime("%Y-%m"),
    )  # fmt: skip


def _sample(broker: str, end_us: int, *, up_us: int, quotes: int, won: dict[int, int]):
    return storage_pb2.BrokerSample(
        broker=broker, time_us=end_us, interval_us=MINUTE_US, up_us=up_us, quotes=quotes,
        expected_quotes=600.0, invalid=1, outliers=2, latency_sum_us=quotes * 2_000,
        latency_count=quotes, latency_p99_us=6_000,
        best_prices_won=[storage_pb2.BestPricesWon(tier=t, won=n) for t, n in won.items()],
    )  # fmt: skip


async def test_an_outage_shows_and_costs_add_up(storage_mesh: StorageMesh) -> None:
    now_us = int(time.time() * 1e6)
    if (
        datetime.fromtimestamp((now_us - 10 * MINUTE_US) / 1e6, UTC).month
        != datetime.now(UTC).month
    ):
        pytest.skip("needs ten minutes of this month behind us")
    free_a, free_b = await storage_mesh.tenant(FREE), await storage_mesh.tenant(FREE, "Beta")
    pro, enterprise = await storage_mesh.tenant(PRO), await storage_mesh.tenant(ENTERPRISE)
    idle = await storage_mesh.tenant(ENTERPRISE, "Idle")  # never served: carries nothing
    bridge = storage_mesh.service_stub("bridge")
    await bridge.RecordUsage(
        storage_pb2.RecordUsageRequest(
            events=[
                _usage(free_a, FREE, 50),
                _usage(free_b, FREE, 70),
                _usage(pro, PRO, 300),
                _usage(enterprise, ENTERPRISE, 900),
            ]
        )
    )
    # Ten minutes: fxcm down for three of them (no quotes then); the others fine.
    samples = []
    for minute in range(10):
        end = now_us - (9 - minute) * MINUTE_US
        fxcm_down = 3 <= minute < 6
        samples += [
            _sample(
                "fxcm", end, up_us=0 if fxcm_down else MINUTE_US,
                quotes=0 if fxcm_down else 600, won={FREE: 100, PRO: 40, ENTERPRISE: 20},
            ),
            _sample("ic_markets", end, up_us=MINUTE_US, quotes=600, won={PRO: 60, ENTERPRISE: 50}),
            _sample("pepperstone", end, up_us=MINUTE_US, quotes=600, won={ENTERPRISE: 30}),
        ]  # fmt: skip
    ingestion = storage_mesh.service_stub("ingestion")
    stored = await ingestion.RecordBrokerSamples(
        storage_pb2.RecordBrokerSamplesRequest(samples=samples)
    )
    assert stored.accepted == 30

    report = await storage_mesh.billing_stub(storage_mesh.config.admin_key).BrokerReport(
        billing_pb2.BrokerReportRequest()
    )
    brokers = {b.broker: b for b in report.brokers}
    assert sorted(brokers) == ["fxcm", "ic_markets", "pepperstone"]
    fxcm = brokers["fxcm"]
    assert (fxcm.uptime_percent, fxcm.completeness_percent) == ("70.0000", "70.0000")
    assert fxcm.recommendation == "drop"
    assert (fxcm.outliers_rejected, fxcm.invalid_rejected, fxcm.observed_seconds) == (20, 10, 600)
    assert fxcm.latency_mean_us == 2_000
    shares = {s.tier: (s.won, s.total, s.share_percent) for s in fxcm.best_prices}
    assert shares == {
        FREE: (1000, 1000, "100.0000"),
        PRO: (400, 1000, "40.0000"),
        ENTERPRISE: (200, 1000, "20.0000"),
    }
    assert brokers["ic_markets"].uptime_percent == "100.0000"
    assert brokers["ic_markets"].recommendation == "keep"
    # Who carries each broker: fxcm every served company, ic_markets pro and enterprise,
    # pepperstone enterprise alone; the idle company nothing. Shares add up to the cost.
    payers = {name: {c.company_id for c in b.cost_per_tenant} for name, b in brokers.items()}
    served = (free_a, free_b, pro, enterprise)
    assert payers["fxcm"] == {t.company_id for t in served}
    assert payers["ic_markets"] == {pro.company_id, enterprise.company_id}
    assert payers["pepperstone"] == {enterprise.company_id}
    assert idle.company_id not in set().union(*payers.values())
    for b in report.brokers:
        assert sum(c.cost.minor_units for c in b.cost_per_tenant) == b.monthly_cost.minor_units
        assert b.monthly_cost.minor_units == 70_000 and b.unallocated.minor_units == 0
    assert report.total_cost.minor_units == 210_000


async def test_broker_samples_are_for_services_and_the_report_for_staff(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(ENTERPRISE)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await storage_mesh.billing_stub(tenant.api_key).BrokerReport(
            billing_pb2.BrokerReportRequest()
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await storage_mesh.storage_stub(tenant.api_key).RecordBrokerSamples(
            storage_pb2.RecordBrokerSamplesRequest()
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    bad = storage_pb2.BrokerSample(
        broker="fxcm", time_us=int(time.time() * 1e6), interval_us=1_000, up_us=5_000
    )
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await storage_mesh.service_stub("ingestion").RecordBrokerSamples(
            storage_pb2.RecordBrokerSamplesRequest(samples=[bad])
        )
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "up_us" in (invalid.value.details() or "")
    # Nothing sampled yet: every configured broker is listed, for review, its cost unallocated.
    report = await storage_mesh.billing_stub(storage_mesh.config.admin_key).BrokerReport(
        billing_pb2.BrokerReportRequest()
    )
    assert [(b.broker, b.recommendation) for b in report.brokers] == [
        ("fxcm", "review"),
        ("ic_markets", "review"),
        ("pepperstone", "review"),
    ]
    assert all(b.unallocated.minor_units == 70_000 for b in report.brokers)
