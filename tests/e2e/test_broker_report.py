"""Broker analytics in a running mesh: fxcm's feed is held down for a known time, and the
broker report (Billing.BrokerReport, and `tickmesh brokers`) shows the outage in fxcm's
uptime and completeness, while every broker's cost splits over the companies served to
the cent. Ingestion samples each second here; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.tiers import FREE_SYMBOLS
from tests.e2e.processes import ServiceProcesses
from tests.waiting import eventually

pytestmark = pytest.mark.e2e
HOLD_S = 6.0
"""How long fxcm's feed is held disconnected."""
SYNTHETIC_DOWNTIME_MAX_S = 15.0
"""A synthetic feed may also drop by itself for up to this long (collectors.PROFILES)."""
TIERS = (
    tenancy_pb2.TIER_FREE,
    tenancy_pb2.TIER_FREE,
    tenancy_pb2.TIER_PRO,
    tenancy_pb2.TIER_ENTERPRISE,
)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ServiceProcesses]:
    procs = ServiceProcesses(
        tmp_path / "mesh",
        extra_env={
            "TICKMESH_INGESTION_SEED": "17",
            "TICKMESH_INGESTION_QUOTES_PER_SECOND": "3000",
            "TICKMESH_INGESTION_BROKER_SAMPLE_SECONDS": "1",
        },
    )
    try:
        for service in ("storage", "ingestion", "bridge", "billing"):
            procs.start(service)
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
async def channels(processes: ServiceProcesses) -> AsyncIterator[list[grpc.aio.Channel]]:
    opened: list[grpc.aio.Channel] = []
    yield opened
    for channel in opened:
        await channel.close()


async def _served(stub: bridge_pb2_grpc.BridgeServiceStub) -> None:
    """Subscribe until the first ticks arrive: the company was served (and is metered)."""
    call = stub.Subscribe(bridge_pb2.SubscribeRequest(symbols=list(FREE_SYMBOLS)))
    try:
        async for message in call:
            if message.batch.ticks:
                return
    finally:
        call.cancel()


async def test_a_held_fxcm_feed_shows_in_the_report_and_costs_add_up(
    processes: ServiceProcesses, channels: list[grpc.aio.Channel]
) -> None:
    def channel(service: str, key: str) -> grpc.aio.Channel:
        opened = grpc.aio.insecure_channel(
            processes.address(service), interceptors=api_key_interceptors(key)
        )
        channels.append(opened)
        return opened

    operator = processes.operator_key
    storage = storage_pb2_grpc.StorageServiceStub(channel("storage", operator))
    companies = []
    for index, tier in enumerate(TIERS):
        created = await storage.CreateCompany(
            storage_pb2.CreateCompanyRequest(
                name=f"Brokers {index}", tier=tier, owner_email=f"o{index}@brokers.example.com",
                owner_name="O",
            )
        )  # fmt: skip
        companies.append(created.company.company_id)
        bridge = bridge_pb2_grpc.BridgeServiceStub(channel("bridge", created.owner_key.api_key))
        await asyncio.wait_for(_served(bridge), 30)

    ingestion = ingestion_pb2_grpc.IngestionServiceStub(channel("ingestion", operator))
    loop = asyncio.get_running_loop()
    await ingestion.SetBrokerFeed(
        ingestion_pb2.SetBrokerFeedRequest(
            broker="fxcm", state=ingestion_pb2.FEED_STATE_DISCONNECTED
        )
    )
    held_from = loop.time()
    await asyncio.sleep(HOLD_S)  # the outage's length is the point of the test
    await ingestion.SetBrokerFeed(
        ingestion_pb2.SetBrokerFeedRequest(broker="fxcm", state=ingestion_pb2.FEED_STATE_RUNNING)
    )
    held_s = loop.time() - held_from
    resumed_at = loop.time()

    billing = billing_pb2_grpc.BillingServiceStub(channel("billing", operator))
    report = billing_pb2.BrokerReportResponse()

    async def settled() -> bool:
        # Samples after the outage have arrived, and the usage of all four companies.
        nonlocal report
        report = await billing.BrokerReport(billing_pb2.BrokerReportRequest())
        fxcm = next((b for b in report.brokers if b.broker == "fxcm"), None)
        return (
            fxcm is not None
            and loop.time() - resumed_at >= 3
            and fxcm.observed_seconds >= held_s + 3
            and len(fxcm.cost_per_tenant) == len(companies)
        )

    await eventually(settled, "samples past the outage and usage of every company", within=60)
    brokers = {b.broker: b for b in report.brokers}
    assert sorted(brokers) == ["fxcm", "ic_markets", "pepperstone"]
    fxcm = brokers["fxcm"]
    observed = fxcm.observed_seconds
    down_s = observed * (1 - Decimal(fxcm.uptime_percent) / 100)
    # Seconds of sampling granularity either side; a synthetic drop of its own may add.
    assert held_s - 1.5 <= down_s <= held_s + 1.5 + SYNTHETIC_DOWNTIME_MAX_S, (down_s, held_s)
    # Nothing arrived while held, and the feed promised its rate throughout.
    completeness_cap = 100 * (1 - Decimal(held_s - 1.5) / observed)
    assert Decimal(fxcm.completeness_percent) <= completeness_cap
    assert fxcm.recommendation == "drop"
    assert any(r.startswith("uptime") for r in fxcm.reasons)
    assert fxcm.quotes > 0 and fxcm.latency_mean_us > 0
    assert {s.tier for s in fxcm.best_prices} == {
        tenancy_pb2.TIER_FREE,
        tenancy_pb2.TIER_PRO,
        tenancy_pb2.TIER_ENTERPRISE,
    }
    # While fxcm was away, free's view priced from a fallback: fxcm won under all of it.
    free_share = next(s for s in fxcm.best_prices if s.tier == tenancy_pb2.TIER_FREE)
    assert 0 < free_share.won < free_share.total

    # Cost per tenant served adds up to the configured costs ($700 each, seed 003).
    payers = {name: [c.company_id for c in b.cost_per_tenant] for name, b in brokers.items()}
    assert sorted(payers["fxcm"]) == sorted(companies)
    assert sorted(payers["ic_markets"]) == sorted(companies[2:])  # pro and enterprise
    assert payers["pepperstone"] == [companies[3]]
    for b in report.brokers:
        shares = sum(c.cost.minor_units for c in b.cost_per_tenant)
        assert shares == b.monthly_cost.minor_units == 70_000
        assert b.unallocated.minor_units == 0
    assert report.total_cost.minor_units == 210_000

    # The command prints the same report as a table.
    printed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tickmesh_cli.main", "brokers"],
        env=processes.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    rows = {line.split()[0]: line for line in printed.stdout.splitlines() if line.strip()}
    assert "DROP" in rows["fxcm"] and "4 x $175.00" in rows["fxcm"]
    assert "1 x $700.00" in rows["pepperstone"]
    assert "total configured cost: $2,100.00 a month" in printed.stdout
    assert rows["fxcm:"].startswith("fxcm: drop: uptime")
