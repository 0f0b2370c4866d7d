"""Billed equals delivered, exactly, per tenant, across a SIGKILL of Storage mid-flush.

Storage, Ingestion and the Bridge run as their own processes. Subscribers of every
tier receive ticks while the Bridge flushes usage every 50 ms; Storage is killed with
SIGKILL while batches are in flight (the Bridge's log shows a delivery failing) and
restarted on the same data. Afterwards, for every tenant, the ticks billed (usage
stored in ClickHouse) equal the ticks the Bridge delivered, and the clients received.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from tests.e2e.processes import ServiceProcesses

pytestmark = pytest.mark.e2e
TIERS = {
    "free": (tenancy_pb2.TIER_FREE, ["EURUSD", "GBPUSD", "USDJPY"]),
    "pro": (tenancy_pb2.TIER_PRO, ["EURUSD", "EURJPY", "GBPJPY", "AUDUSD"]),
    "enterprise": (tenancy_pb2.TIER_ENTERPRISE, ["EURUSD", "EURJPY", "XAUUSD", "USDZAR"]),
}
WAIT = 60.0


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[ServiceProcesses]:
    processes = ServiceProcesses(
        tmp_path / "mesh", extra_env={"TICKMESH_METERING_FLUSH_SECONDS": "0.05"}
    )
    try:
        yield processes
    finally:
        processes.stop_all()


def _stub(mesh: ServiceProcesses, service: str, key: str, channels: list[grpc.aio.Channel]):  # type: ignore[no-untyped-def]
    channel = grpc.aio.insecure_channel(
        mesh.address(service), interceptors=api_key_interceptors(key)
    )
    channels.append(channel)
    return channel


async def _wait(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll a remote condition (no event exists for it) until it holds; bounded."""
    try:
        async with asyncio.timeout(WAIT):
            while not await condition():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_billed_equals_delivered_across_a_storage_crash(mesh: ServiceProcesses) -> None:
    for service in ("storage", "ingestion", "bridge"):
        await asyncio.to_thread(mesh.start, service)
    channels: list[grpc.aio.Channel] = []
    try:
        operator = storage_pb2_grpc.StorageServiceStub(
            _stub(mesh, "storage", mesh.operator_key, channels)
        )
        keys: dict[str, str] = {}
        for label, (tier, _) in TIERS.items():
            created = await operator.CreateCompany(
                storage_pb2.CreateCompanyRequest(
                    name=f"Crash {label}", tier=tier,
                    owner_email=f"o@{label}.example.com", owner_name="Owner",
                )
            )  # fmt: skip
            keys[label] = created.owner_key.api_key

        received = dict.fromkeys(TIERS, 0)
        stop = asyncio.Event()

        async def subscriber(label: str) -> None:
            stub = bridge_pb2_grpc.BridgeServiceStub(_stub(mesh, "bridge", keys[label], channels))
            call = stub.Subscribe(bridge_pb2.SubscribeRequest(symbols=TIERS[label][1]))
            async for message in call:
                if message.HasField("ack"):
                    received[label] += len(message.ack.snapshot.ticks)
                elif message.HasField("batch"):
                    received[label] += len(message.batch.ticks)
                if stop.is_set():
                    break
            call.cancel()

        readers = [asyncio.create_task(subscriber(label)) for label in TIERS]

        async def everyone_received() -> bool:
            return all(count >= 5 for count in received.values())

        await _wait(everyone_received, "ticks for every tier")

        # Kill Storage while the Bridge is flushing usage (every 50 ms).
        await asyncio.to_thread(mesh.kill, "storage")

        async def bridge_saw_failure() -> bool:
            return "not delivered, will retry" in mesh.log("bridge")

        await _wait(bridge_saw_failure, "a failed usage delivery")
        before_restart = dict(received)
        await asyncio.to_thread(mesh.start, "storage")

        async def more_after_restart() -> bool:
            return all(received[t] > before_restart[t] for t in TIERS)

        await _wait(more_after_restart, "ticks after the restart")
        stop.set()
        await asyncio.wait_for(asyncio.gather(*readers), WAIT)

        period = datetime.now(UTC).strftime("%Y-%m")
        for label in TIERS:
            bridge = bridge_pb2_grpc.BridgeServiceStub(_stub(mesh, "bridge", keys[label], channels))
            storage = storage_pb2_grpc.StorageServiceStub(
                _stub(mesh, "storage", keys[label], channels)
            )
            delivered = (await bridge.GetUsage(bridge_pb2.GetUsageRequest())).ticks_delivered
            assert delivered >= received[label] > 0, label

            async def billed_matches(storage=storage, delivered=delivered, label=label) -> bool:  # type: ignore[no-untyped-def]
                usage = await storage.QueryUsage(
                    storage_pb2.QueryUsageRequest(billing_period=period, group_by="endpoint")
                )
                ticks = sum(r.data_points for r in usage.rows if r.key == "bridge/ticks")
                assert ticks <= delivered, f"{label}: billed {ticks} > delivered {delivered}"
                return ticks == delivered

            await _wait(billed_matches, f"billed == delivered for {label}")
    finally:
        for channel in channels:
            await channel.close()
