"""Market-data history end to end: Storage records Ingestion's ticks, the Bridge serves
them under the tier rules, usage lands on the invoice.

Storage, Ingestion, the Bridge (and Billing) run as their own processes. The recorder
runs inside Storage, so killing Storage with SIGKILL kills the process that records.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.common.v1 import market_pb2, tenancy_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from clients import subscriber
from clients.errors import TickmeshError
from mesh.client_interceptors import api_key_interceptors
from tests.e2e.processes import ServiceProcesses
from tests.waiting import eventually

pytestmark = pytest.mark.e2e
WAIT = 90.0
SECOND_US = 1_000_000
TICKMESH = str(Path(sys.executable).parent / "tickmesh")  # the installed command


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[ServiceProcesses]:
    processes = ServiceProcesses(
        tmp_path / "mesh", extra_env={"TICKMESH_METERING_FLUSH_SECONDS": "0.05"}
    )
    try:
        yield processes
    finally:
        processes.stop_all()


async def _wait(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll a remote condition (no event exists for it) until it holds; bounded."""
    await eventually(condition, what, within=WAIT, every=0.2)


async def _companies(mesh: ServiceProcesses) -> dict[str, str]:
    async with grpc.aio.insecure_channel(
        mesh.address("storage"), interceptors=api_key_interceptors(mesh.operator_key)
    ) as channel:
        operator = storage_pb2_grpc.StorageServiceStub(channel)
        keys = {}
        for label, tier in (("free", tenancy_pb2.TIER_FREE), ("pro", tenancy_pb2.TIER_PRO),
                            ("enterprise", tenancy_pb2.TIER_ENTERPRISE)):  # fmt: skip
            created = await operator.CreateCompany(
                storage_pb2.CreateCompanyRequest(
                    name=f"History {label}", tier=tier,
                    owner_email=f"o@{label}.example.com", owner_name="Owner",
                )
            )  # fmt: skip
            keys[label] = created.owner_key.api_key
        return keys


async def _ticks(mesh: ServiceProcesses, key: str, symbols: list[str], start: int, end: int = 0):  # type: ignore[no-untyped-def]
    out: list[market_pb2.Tick] = []
    async for batch in subscriber.history(mesh.address("bridge"), key, symbols, start, end):
        out.extend(batch.ticks)
    return out


def _now_us() -> int:
    return time.time_ns() // 1000


def _brute_force_bars(ticks: list[market_pb2.Tick], width_us: int) -> list[tuple]:
    bars: dict[int, list[market_pb2.Tick]] = {}
    for tick in sorted(ticks, key=lambda t: t.sequence):
        bars.setdefault(tick.ingest_time_us // width_us * width_us, []).append(tick)
    out = []
    for start, group in sorted(bars.items()):
        mids = [(t.bid + t.ask) / 2 for t in group]
        out.append((start, mids[0], max(mids), min(mids), mids[-1], group[-1].bid,
                    group[-1].ask, len(group)))  # fmt: skip
    return out


async def test_recorder_survives_sigkill_and_bars_match_the_ticks(mesh: ServiceProcesses) -> None:
    for service in ("storage", "ingestion", "bridge"):
        await asyncio.to_thread(mesh.start, service)
    keys = await _companies(mesh)
    enterprise = keys["enterprise"]
    began = _now_us() - 60 * SECOND_US

    async def recorded_some() -> bool:
        return len(await _ticks(mesh, enterprise, ["EURUSD"], began)) >= 200

    await _wait(recorded_some, "EURUSD ticks recorded")
    await asyncio.to_thread(mesh.kill, "storage")  # the process that records
    await asyncio.to_thread(mesh.start, "storage")
    restarted = _now_us()

    after_restart: list[market_pb2.Tick] = []

    async def recorded_after_restart() -> bool:
        after_restart[:] = await _ticks(mesh, enterprise, ["EURUSD"], restarted)
        return len(after_restart) >= 50

    await _wait(recorded_after_restart, "ticks recorded after the restart")

    # Every symbol, in two streams (at most 50 symbols each): the sequences recorded are
    # one unbroken run, each exactly once, across the kill.
    async with grpc.aio.insecure_channel(mesh.address("ingestion")) as channel:
        from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

        listed = await ingestion_pb2_grpc.IngestionServiceStub(channel).ListSymbols(
            ingestion_pb2.ListSymbolsRequest()
        )
    universe = sorted(info.symbol for info in listed.symbols)
    # Writes land in sequence order, each whole: once this EURUSD tick is visible, every
    # tick before it is, so the range up to it is complete for every symbol.
    end = after_restart[-1].ingest_time_us
    ticks = []
    for part in (universe[:26], universe[26:]):
        ticks.extend(await _ticks(mesh, enterprise, part, began - 60 * SECOND_US, end))
    sequences = sorted(t.sequence for t in ticks)
    assert len(sequences) == len(set(sequences)), "a sequence recorded twice"
    assert sequences[-1] - sequences[0] + 1 == len(sequences), "a gap in the recording"
    assert any(t.ingest_time_us >= restarted for t in ticks)

    # Bars from the views equal bars computed from the recorded ticks. The range ends on a
    # second boundary, so every bar in it is complete.
    cut = end // SECOND_US * SECOND_US
    eurusd = [t for t in ticks if t.symbol == "EURUSD" and t.ingest_time_us < cut]
    expected = _brute_force_bars(eurusd, SECOND_US)
    got = await subscriber.bars(
        mesh.address("bridge"), enterprise, "EURUSD", "1s", began - 60 * SECOND_US, cut
    )
    assert [(b.start_time_us, b.open, b.high, b.low, b.close, b.bid_close, b.ask_close,
             b.tick_count) for b in got] == expected  # fmt: skip
    assert sum(b.tick_count for b in got) == len(eurusd) > 0
    # Paging walks the same bars.
    paged = await subscriber.bars(
        mesh.address("bridge"), enterprise, "EURUSD", "1s", began - 60 * SECOND_US, cut,
        page_size=7,
    )  # fmt: skip
    assert [b.start_time_us for b in paged] == [b.start_time_us for b in got]


async def test_tier_rules_and_usage_on_the_invoice(mesh: ServiceProcesses) -> None:
    mesh.extra_env["TICKMESH_HUB_ADDRESS"] = mesh.address("hub")  # services register
    for service in ("hub", "storage", "ingestion", "bridge", "billing"):
        await asyncio.to_thread(mesh.start, service)
    keys = await _companies(mesh)
    bridge = mesh.address("bridge")
    start = _now_us() - 60 * SECOND_US

    async def recorded() -> bool:
        return len(await _ticks(mesh, keys["free"], ["EURUSD"], start)) >= 5

    await _wait(recorded, "EURUSD ticks recorded")

    # How far back: 8 days is past free's 7, within pro's 90.
    eight_days = _now_us() - 8 * 86_400 * SECOND_US
    with pytest.raises(TickmeshError) as refused:
        await subscriber.bars(bridge, keys["free"], "EURUSD", "1h", eight_days)
    assert refused.value.code is grpc.StatusCode.OUT_OF_RANGE
    assert refused.value.metadata["required_tier"] == "pro"
    assert "pro" in refused.value.message
    assert await subscriber.bars(bridge, keys["pro"], "EURUSD", "1h", eight_days) is not None

    # Which symbols: XAUUSD is enterprise only.
    with pytest.raises(TickmeshError) as denied:
        await _ticks(mesh, keys["pro"], ["XAUUSD"], start)
    assert denied.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert "enterprise" in denied.value.message

    # Which fields: the live projection.
    free = await _ticks(mesh, keys["free"], ["EURUSD"], start)
    pro = await _ticks(mesh, keys["pro"], ["EURUSD"], start)
    rich = await _ticks(mesh, keys["enterprise"], ["EURUSD"], start)
    assert all(t.bid and t.ask and t.sequence for t in free)
    assert not any(t.spread_pips or t.quality_score or t.broker_quotes for t in free)
    assert any(t.spread_pips for t in pro) and not any(t.broker_quotes for t in pro)
    assert any(t.broker_quotes for t in rich)
    quote = await subscriber.quotes(bridge, keys["free"], ["EURUSD", "GBPUSD"])
    assert [q.symbol for q in quote] == ["EURUSD", "GBPUSD"]
    assert not any(q.spread_pips for q in quote)

    # Through the Hub, which routes history to a Bridge like live data.
    routed: list[market_pb2.Tick] = []

    async def through_the_hub() -> bool:
        try:
            routed[:] = await subscriber.quotes(mesh.address("hub"), keys["free"], ["EURUSD"])
        except TickmeshError as exc:  # the Bridge has not registered with the Hub yet
            assert exc.retryable, exc
            return False
        return True

    await _wait(through_the_hub, "a quote through the Hub")
    assert [q.symbol for q in routed] == ["EURUSD"]

    # The CLI prints them (a chart line, then a table).
    shown = await asyncio.to_thread(
        subprocess.run,
        [TICKMESH, "bars", "--key", keys["free"], "--symbol", "EURUSD",
         "--interval", "1s", "--since", "2m", "--target", bridge],
        env=mesh.env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.startswith("EURUSD 1s: ") and "open" in shown.stdout
    refused_cli = await asyncio.to_thread(
        subprocess.run,
        [TICKMESH, "bars", "--key", keys["free"], "--symbol", "EURUSD",
         "--since", "8d", "--target", bridge],
        env=mesh.env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused_cli.returncode == 1
    assert "OUT_OF_RANGE" in refused_cli.stdout and "pro" in refused_cli.stdout

    # Bad input: precise codes.
    with pytest.raises(TickmeshError) as bad:
        now = _now_us()
        await subscriber.bars(bridge, keys["free"], "EURUSD", "1m", now, now - SECOND_US)
    assert bad.value.code is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(TickmeshError) as bad:
        await subscriber.bars(bridge, keys["free"], "EURUSD", "1m", start, page_size=10_001)
    assert bad.value.code is grpc.StatusCode.INVALID_ARGUMENT

    # Usage: the rows the free company received appear on its invoice.
    received = len(free) + len(quote)
    period = datetime.now(UTC).strftime("%Y-%m")
    async with grpc.aio.insecure_channel(
        mesh.address("billing"), interceptors=api_key_interceptors(mesh.operator_key)
    ) as channel:
        billing = billing_pb2_grpc.BillingServiceStub(channel)
        async with grpc.aio.insecure_channel(
            mesh.address("storage"), interceptors=api_key_interceptors(keys["free"])
        ) as own:
            company = (
                await storage_pb2_grpc.StorageServiceStub(own).GetCompany(
                    storage_pb2.GetCompanyRequest()
                )
            ).company.company_id

        async def on_invoice() -> bool:
            invoice = (
                await billing.PreviewInvoice(
                    billing_pb2.PreviewInvoiceRequest(company_id=company, billing_period=period)
                )
            ).invoice
            lines = [x for x in invoice.lines if x.description == "market-data history rows"]
            return bool(lines) and int(lines[0].quantity) >= received

        await _wait(on_invoice, "history rows on the invoice")
