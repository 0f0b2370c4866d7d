"""SLA measured per tenant in a running mesh: the Bridge samples what it writes and each
tenant's stream minutes, Storage holds them, and a degraded enterprise stream becomes a
credit on the invoice.

The degradation is real: the Bridge process is paused (SIGSTOP) past enterprise's 10 ms
latency target, repeatedly, while an enterprise tenant is subscribed; every message
written after a pause carries ticks that waited for it. A pro tenant subscribed after
the pauses is measured too and owes nothing. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.tiers import MAJOR_PAIRS
from tests.e2e.processes import ServiceProcesses
from tests.waiting import eventually

pytestmark = pytest.mark.e2e
PAUSES = 4
# Far past enterprise's 10 ms target, short of the upstream's 10 s idle timeout, and long
# enough that a pause costs served time whatever its phase against the Bridge's
# once-a-second look (a step counts unserved only past 1.25 s: at 1.2 s, four pauses
# cost between 0 and 4 s of it, and one CI run measured 90.3 % where < 90 was expected).
PAUSE_S = 2.5


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ServiceProcesses]:
    procs = ServiceProcesses(
        tmp_path / "mesh", extra_env={"TICKMESH_INGESTION_QUOTES_PER_SECOND": "3000"}
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


def _channel(
    processes: ServiceProcesses, opened: list[grpc.aio.Channel], service: str, key: str
) -> grpc.aio.Channel:
    channel = grpc.aio.insecure_channel(
        processes.address(service), interceptors=api_key_interceptors(key)
    )
    opened.append(channel)
    return channel


async def _subscribe(
    stub: bridge_pb2_grpc.BridgeServiceStub, seconds: float, flowing: asyncio.Event | None = None
) -> int:
    """Read a stream of busy majors for `seconds`; the ticks received. `flowing` is set
    once the first ticks arrived."""
    call = stub.Subscribe(bridge_pb2.SubscribeRequest(symbols=list(MAJOR_PAIRS[:10])))
    ticks = 0

    async def read() -> None:
        nonlocal ticks
        async for message in call:
            ticks += len(message.batch.ticks)
            if ticks and flowing is not None:
                flowing.set()

    task = asyncio.create_task(read())
    await asyncio.sleep(seconds)  # the stream's duration is the point: a window of use
    call.cancel()
    with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
        await task
    return ticks


async def test_a_degraded_enterprise_stream_is_measured_and_credited(
    processes: ServiceProcesses, channels: list[grpc.aio.Channel]
) -> None:
    operator = processes.operator_key
    storage = storage_pb2_grpc.StorageServiceStub(
        _channel(processes, channels, "storage", operator)
    )
    keys, companies = {}, {}
    for tier in (tenancy_pb2.TIER_ENTERPRISE, tenancy_pb2.TIER_PRO):
        created = await storage.CreateCompany(
            storage_pb2.CreateCompanyRequest(
                name=f"SLA {tier}", tier=tier, owner_email=f"o{tier}@sla.example.com",
                owner_name="O",
            )
        )  # fmt: skip
        keys[tier], companies[tier] = created.owner_key.api_key, created.company.company_id

    def bridge(tier: int) -> bridge_pb2_grpc.BridgeServiceStub:
        return bridge_pb2_grpc.BridgeServiceStub(
            _channel(processes, channels, "bridge", keys[tier])
        )

    bridge_pid = processes.processes["bridge"].pid

    flowing = asyncio.Event()

    async def degrade() -> None:
        # Once the stream delivers: the outages must fall inside a stream that runs.
        await asyncio.wait_for(flowing.wait(), 30)
        for _ in range(PAUSES):
            os.kill(bridge_pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(PAUSE_S)  # the outage being measured
            finally:
                os.kill(bridge_pid, signal.SIGCONT)
            await asyncio.sleep(0.3)

    enterprise_ticks, _ = await asyncio.gather(
        _subscribe(
            bridge(tenancy_pb2.TIER_ENTERPRISE), 1.0 + PAUSES * (PAUSE_S + 0.3) + 1.0, flowing
        ),
        degrade(),
    )
    pro_ticks = await _subscribe(bridge(tenancy_pb2.TIER_PRO), 4.0)
    assert enterprise_ticks and pro_ticks

    period = datetime.now(UTC).strftime("%Y-%m")
    figures: dict[int, storage_pb2.SlaFigures] = {}

    async def both_sampled() -> bool:
        for tier, company in companies.items():
            reply = await storage.QuerySla(
                storage_pb2.QuerySlaRequest(billing_period=period, company_id=company)
            )
            figures.update({f.tier: f for f in reply.figures if f.tier == tier})
        return len(figures) == 2 and figures[tenancy_pb2.TIER_PRO].samples >= 3

    await eventually(both_sampled, "SLA samples of both tenants in Storage", within=30.0, every=0.2)

    async def stream_minutes_in() -> bool:
        # The Bridge sends each tenant's current minute every 10 s, as far as it went.
        await both_sampled()
        return all(f.stream_minutes for f in figures.values())

    await eventually(stream_minutes_in, "both tenants' stream minutes", within=40.0, every=0.5)
    enterprise, pro = figures[tenancy_pb2.TIER_ENTERPRISE], figures[tenancy_pb2.TIER_PRO]
    # Each pause left the Bridge's once-a-second look >= 1.25 s late: open, not served.
    assert Decimal(enterprise.stream_availability_percent) < 90, enterprise
    assert Decimal(pro.stream_availability_percent) > Decimal(
        enterprise.stream_availability_percent
    ), pro
    for figure in (enterprise, pro):
        assert 0 < Decimal(figure.completeness_percent) <= 100, figure
        assert figure.live_sources_min >= 1, figure
    # Pro's throttle holds updates by design: sampled apart, reported with the hold.
    assert pro.held_samples > 0, pro
    assert pro.latency_with_hold_p99_us >= pro.latency_p99_us, pro
    assert enterprise.within_target < enterprise.samples  # the pauses were measured
    assert enterprise.latency_p99_us >= 500_000
    assert pro.latency_p99_us < 1_000_000

    billing = billing_pb2_grpc.BillingServiceStub(
        _channel(processes, channels, "billing", operator)
    )

    async def credits(tier: int) -> list[str]:
        reply = await billing.PreviewInvoice(
            billing_pb2.PreviewInvoiceRequest(company_id=companies[tier])
        )
        return [line.description for line in reply.invoice.lines if line.kind == "sla_credit"]

    # More samples missed the target than met it, so at least one minute did (Storage's
    # rule: a minute is available when at least half its samples met the target).
    assert Decimal(enterprise.availability_percent) < Decimal("99.99"), enterprise
    assert Decimal(pro.availability_percent) == 100, pro
    [credit] = await credits(tenancy_pb2.TIER_ENTERPRISE)
    assert "SLA credit enterprise" in credit
    assert await credits(tenancy_pb2.TIER_PRO) == []

    # Customer health reads the same measured availability.
    health = await billing.CustomerHealth(
        billing_pb2.CustomerHealthRequest(company_id=companies[tenancy_pb2.TIER_ENTERPRISE])
    )
    [sla_factor] = [f for c in health.companies for f in c.factors if f.startswith("sla:")]
    assert "vs 99.99% target" in sla_factor and not sla_factor.endswith(" 20.0/20"), sla_factor
