"""Two Bridges behind the Hub; one is SIGKILLed under load.

Subscribers know only the Hub's address (its proxy forwards Bridge.Subscribe).
When one Bridge dies, its clients get UNAVAILABLE and the SDK reconnects through
the Hub, which routes them to the surviving Bridge, where they resume after their
last sequence: no duplicate, no gap. New subscriptions reach the survivor.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from clients.subscriber import Ack, Backoff, Gap, Reconnecting, Ticks, subscribe
from mesh.client_interceptors import api_key_interceptors
from mesh.tiers import MAJOR_PAIRS
from tests.e2e.processes import ServiceProcesses

pytestmark = pytest.mark.e2e
WAIT = 60.0
CLIENTS = 6


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[ServiceProcesses]:
    procs = ServiceProcesses(tmp_path / "mesh")
    procs.extra_env["TICKMESH_HUB_ADDRESS"] = procs.address("hub")
    try:
        for service in ("storage", "ingestion", "hub", "bridge"):
            procs.start(service)
        procs.start("bridge", name="bridge-b")
        yield procs
    finally:
        procs.stop_all()


@dataclass
class Client:
    """What one SDK subscriber saw."""

    sequences: list[int] = field(default_factory=list)
    acks: int = 0
    reconnects: int = 0
    gaps: int = 0
    errors: list[str] = field(default_factory=list)


async def _run_client(hub: str, key: str, client: Client, stop: asyncio.Event) -> None:
    events = subscribe(hub, key, list(MAJOR_PAIRS[:8]), backoff=Backoff(initial_s=0.1, max_s=0.5))
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, Ack):
                client.acks += 1
            elif isinstance(event, Ticks):
                client.sequences.extend(t.sequence for t in event.batch.ticks)
            elif isinstance(event, Reconnecting):
                client.reconnects += 1
                client.errors.append(event.error.code.name)
            elif isinstance(event, Gap):
                client.gaps += 1
            if stop.is_set():
                return


async def _bridges_in_rotation(hub: hub_pb2_grpc.HubServiceStub) -> set[str]:
    reply = await hub.ListInstances(hub_pb2.ListInstancesRequest(service="bridge"))
    return {i.spec.address for i in reply.instances if i.health == hub_pb2.INSTANCE_HEALTH_SERVING}


async def _until(condition, within: float = WAIT) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(within):
        while not await condition():  # noqa: ASYNC110 - a remote condition, polled
            await asyncio.sleep(0.05)


async def test_a_killed_bridge_fails_over_through_the_hub(mesh: ServiceProcesses) -> None:
    channels: list[grpc.aio.Channel] = []

    def channel(service: str, key: str) -> grpc.aio.Channel:
        ch = grpc.aio.insecure_channel(
            mesh.address(service), interceptors=api_key_interceptors(key)
        )
        channels.append(ch)
        return ch

    try:
        hub = hub_pb2_grpc.HubServiceStub(channel("hub", mesh.operator_key))
        both = {mesh.address("bridge"), mesh.address("bridge-b")}

        async def both_registered() -> bool:
            return await _bridges_in_rotation(hub) == both

        await _until(both_registered)
        created = await storage_pb2_grpc.StorageServiceStub(
            channel("storage", mesh.operator_key)
        ).CreateCompany(
            storage_pb2.CreateCompanyRequest(
                name="Failover Ltd", tier=tenancy_pb2.TIER_ENTERPRISE,
                owner_email="o@failover.example.com", owner_name="O",
            )
        )  # fmt: skip
        key = created.owner_key.api_key
        clients = [Client() for _ in range(CLIENTS)]
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(_run_client(mesh.address("hub"), key, c, stop)) for c in clients
        ]

        async def all_streaming() -> bool:
            return all(len(c.sequences) >= 5 for c in clients)

        await _until(all_streaming)
        await asyncio.to_thread(mesh.kill, "bridge")

        async def out_of_rotation() -> bool:
            return await _bridges_in_rotation(hub) == {mesh.address("bridge-b")}

        await _until(out_of_rotation, within=2.0)  # issue 6: leaves rotation within 2 s
        marks = [len(c.sequences) for c in clients]

        async def all_flowing_again() -> bool:
            return all(len(c.sequences) > m + 5 for c, m in zip(clients, marks, strict=True))

        await _until(all_flowing_again)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)

        moved = [c for c in clients if c.reconnects]
        assert moved, "no client was on the killed Bridge (the Hub should spread them)"
        for client in clients:
            assert len(client.sequences) == len(set(client.sequences)), "a sequence twice"
            assert client.gaps == 0, "resumed inside the survivor's state: nothing lost"
        for client in moved:
            assert set(client.errors) <= {"UNAVAILABLE"}, client.errors
            assert client.acks == 1 + client.reconnects  # re-acked after each reconnect
    finally:
        for ch in channels:
            await ch.close()
