"""One process, one in-memory exporter: Storage, Ingestion, a Bridge and the Hub on port 0
(embedded backends), so every span and metric of a call through the mesh lands here."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.config import MeshConfig, load_config
from mesh.server import MeshServer
from mesh.telemetry import install_pipeline, shutdown_telemetry, tracer_for
from mesh.telemetry.client import tracing_interceptors
from servers.bridge.app import SPEC as BRIDGE
from servers.bridge.parts import BridgeParts
from servers.hub.app import SPEC as HUB
from servers.ingestion.app import SPEC as INGESTION
from servers.storage.app import SPEC as STORAGE

WAIT = 10.0
"""Upper bound of every wait (generous: the machine is shared)."""


@dataclass
class Telemetry:
    """What the mesh exported: finished spans and metrics."""

    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self) -> tuple[ReadableSpan, ...]:
        return self.spans.get_finished_spans()

    async def wait_for_span(self, predicate: Callable[[ReadableSpan], bool]) -> ReadableSpan:
        """The first finished span matching `predicate`, waiting for it up to WAIT."""
        async with asyncio.timeout(WAIT):
            while True:
                found = next((s for s in self.finished() if predicate(s)), None)
                if found is not None:
                    return found
                await asyncio.sleep(0.02)

    def points(self, name: str) -> list[tuple[dict[str, object], object]]:
        """(attributes, data point) of every point of metric `name`, collected now."""
        data = self.metrics.get_metrics_data()
        out = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        out.extend((dict(p.attributes or {}), p) for p in metric.data.data_points)
        return out

    def value(self, name: str, **attributes: str) -> int:
        """The current value of a counter, summed over points with these attributes."""
        return sum(
            int(p.value)  # type: ignore[attr-defined]
            for attrs, p in self.points(name)
            if all(attrs.get(k) == v for k, v in attributes.items())
        )


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    """Telemetry on in this process with in-memory exporters; off again afterwards."""
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    install_pipeline(spans, reader, sample_ratio=1.0)
    try:
        yield Telemetry(spans, reader)
    finally:
        shutdown_telemetry()


@dataclass
class TracedMesh:
    """The servers, and clients whose calls carry the key and a client span."""

    config: MeshConfig
    storage: MeshServer
    ingestion: MeshServer
    bridge: MeshServer
    bridge_parts: BridgeParts
    hub: MeshServer
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def client_channel(self, address: str, api_key: str) -> grpc.aio.Channel:
        """A channel as an application would open it: the SDK's key interceptors, and
        tracing with the application's own tracer (here tickmesh-client)."""
        interceptors = [*tracing_interceptors(tracer_for("client")), *api_key_interceptors(api_key)]
        channel = grpc.aio.insecure_channel(address, interceptors=interceptors)
        self.channels.append(channel)
        return channel

    async def tenant(self, tier: int) -> tuple[str, str]:
        """A new company of `tier`: its id and its owner's API key."""
        assert self.config.admin_key
        channel = grpc.aio.insecure_channel(
            self.storage.address, interceptors=api_key_interceptors(self.config.admin_key)
        )
        self.channels.append(channel)
        created = await storage_pb2_grpc.StorageServiceStub(channel).CreateCompany(
            storage_pb2.CreateCompanyRequest(
                name=f"Co {secrets.token_hex(3)}",
                tier=tier,  # type: ignore[arg-type]
                owner_email=f"owner-{secrets.token_hex(4)}@example.com",
                owner_name="Owner",
            ),
            timeout=WAIT,
        )
        return created.company.company_id, created.owner_key.api_key


def _config(tmp: Path) -> MeshConfig:
    return load_config(
        env={
            "TICKMESH_DATA_DIR": str(tmp),
            "TICKMESH_TLS_INSECURE": "true",
            "TICKMESH_MESH_SECRET": secrets.token_urlsafe(32),
            "TICKMESH_ADMIN_KEY": "op_" + secrets.token_urlsafe(24),
            "TICKMESH_LOG_FORMAT": "text",
            "TICKMESH_GRACE_SECONDS": "1",
            "TICKMESH_INSTANCE_TTL_SECONDS": "3",
            "TICKMESH_INGESTION_QUOTES_PER_SECOND": "400",
            "TICKMESH_INGESTION_SEED": "7",
            "TICKMESH_BRIDGE_HEARTBEAT_SECONDS": "0.2",
        }
    )


@pytest_asyncio.fixture
async def traced_mesh(telemetry: Telemetry, tmp_path: Path) -> AsyncIterator[TracedMesh]:
    """The four servers, created after telemetry is on (their interceptors depend on it)."""
    config = _config(tmp_path)
    started: list[MeshServer] = []
    try:
        storage = await STORAGE.create(config, port=0)
        await storage.start()
        started.append(storage)
        config = dataclasses.replace(config, storage_port=storage.port)
        hub = await HUB.create(config, port=0)
        await hub.start()
        started.append(hub)
        ingestion = await INGESTION.create(
            dataclasses.replace(config, data_dir=tmp_path / "ingestion"), port=0
        )
        await ingestion.start()
        started.append(ingestion)
        bridge_config = dataclasses.replace(
            config,
            ingestion_port=ingestion.port,
            hub_address=hub.address,
            data_dir=tmp_path / "bridge",
        )
        bridge = await BRIDGE.create(bridge_config, port=0)
        bridge_parts = bridge.handle
        assert isinstance(bridge_parts, BridgeParts)
        await bridge.start()
        started.append(bridge)
        mesh = TracedMesh(config, storage, ingestion, bridge, bridge_parts, hub)
        await _wait_routable(mesh, bridge.instance_id)
        yield mesh
        for channel in mesh.channels:
            await channel.close()
    finally:
        for server in reversed(started):
            await server.stop()


async def _wait_routable(mesh: TracedMesh, instance_id: str) -> None:
    """Until the Hub lists the Bridge as SERVING (its health check has run)."""
    assert mesh.config.admin_key
    async with grpc.aio.insecure_channel(
        mesh.hub.address, interceptors=api_key_interceptors(mesh.config.admin_key)
    ) as channel:
        stub = hub_pb2_grpc.HubServiceStub(channel)
        async with asyncio.timeout(WAIT):
            while True:
                reply = await stub.ListInstances(hub_pb2.ListInstancesRequest())
                if any(
                    i.spec.instance_id == instance_id
                    and i.health == hub_pb2.INSTANCE_HEALTH_SERVING
                    for i in reply.instances
                ):
                    return
                await asyncio.sleep(0.05)


PRO = tenancy_pb2.TIER_PRO
FREE = tenancy_pb2.TIER_FREE
