"""A real Bridge server against a FakeIngestion, with the test-only tenant interceptor."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.backoff import Backoff
from mesh.config import MeshConfig
from mesh.server import MeshServer
from mesh.tenancy_stack import TenancyOptions
from mesh.tiers import FREE_SYMBOLS, MAJOR_PAIRS, Tier
from servers.bridge.app import bridge_spec
from servers.bridge.parts import BridgeParts
from servers.bridge.session import SessionLimits
from servers.bridge.settings import BridgeTuning
from tests.integration.bridge.fake_ingestion import WAIT, FakeIngestion, start_fake_ingestion
from tests.integration.bridge.tenancy import resolve_test_key, tenant_metadata
from tests.waiting import eventually

EXOTICS = ("USDTRY", "USDZAR", "XAUUSD")
SYNTHETIC = tuple(f"S{i:05d}" for i in range(600))  # enterprise-only, for wide subscriptions
UNIVERSE = (*MAJOR_PAIRS, *EXOTICS, *SYNTHETIC)
assert set(FREE_SYMBOLS) <= set(MAJOR_PAIRS)

TEST_TUNING = BridgeTuning(
    session=SessionLimits(heartbeat_s=0.5),
    backoff=Backoff(initial_s=0.01, max_s=0.2),
)


wait_until = eventually  # a server object's condition, or an async probe (a Redis read)


async def next_message(
    call: grpc.aio.UnaryStreamCall, within: float = WAIT
) -> bridge_pb2.SubscribeResponse:
    """The stream's next message; fails on end of stream or after `within` seconds."""
    message = await asyncio.wait_for(call.read(), within)
    assert message is not grpc.aio.EOF, "the stream ended"
    assert isinstance(message, bridge_pb2.SubscribeResponse)
    return message


@dataclass
class Client:
    """A Bridge client acting for one tenant (through a test key)."""

    stub: bridge_pb2_grpc.BridgeServiceStub
    company: str
    user: str
    tier: Tier

    @property
    def metadata(self) -> tuple[tuple[str, str]]:
        return tenant_metadata(self.company, self.user, self.tier)

    def subscribe(
        self, *symbols: str, resume_from: int = 0, **options: object
    ) -> grpc.aio.UnaryStreamCall:
        request = bridge_pb2.SubscribeRequest(
            symbols=symbols,
            resume_from=resume_from,
            options=bridge_pb2.SubscribeOptions(**options),  # type: ignore[arg-type]
        )
        return self.stub.Subscribe(request, metadata=self.metadata)

    async def stats(self, session_id: str = "") -> bridge_pb2.GetSessionStatsResponse:
        return await self.stub.GetSessionStats(
            bridge_pb2.GetSessionStatsRequest(session_id=session_id),
            metadata=self.metadata,
            timeout=WAIT,
        )

    async def usage(self, period: str = "") -> bridge_pb2.GetUsageResponse:
        return await self.stub.GetUsage(
            bridge_pb2.GetUsageRequest(billing_period=period), metadata=self.metadata,
            timeout=WAIT,
        )  # fmt: skip


@dataclass
class Bridge:
    """A started Bridge and its upstream."""

    server: MeshServer
    parts: BridgeParts
    upstream: FakeIngestion
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def client(
        self, tier: Tier, company: str | None = None, user: str = "u1",
        options: list[tuple[str, object]] | None = None,
    ) -> Client:  # fmt: skip
        """A client on its own channel (a company of its own unless named)."""
        channel = grpc.aio.insecure_channel(self.server.address, options=options)
        self.channels.append(channel)
        company = company or f"co{uuid.uuid4().hex[:10]}"
        return Client(bridge_pb2_grpc.BridgeServiceStub(channel), company, user, tier)

    async def fed(self) -> None:
        """Wait until the Bridge has dispatched everything fed so far."""
        target = self.upstream.next_seq - 1
        await wait_until(lambda: self.parts.fanout.watermark >= target)


BridgeFactory = Callable[..., Awaitable[Bridge]]


class RecordedUsage:
    """Stands in for Storage.RecordUsage: keeps every usage event the Bridges send."""

    def __init__(self) -> None:
        self.events: dict[str, tenancy_pb2.UsageEvent] = {}

    async def record(
        self, request: storage_pb2.RecordUsageRequest
    ) -> storage_pb2.RecordUsageResponse:
        fresh = [e for e in request.events if e.idempotency_key not in self.events]
        self.events.update((e.idempotency_key, e) for e in fresh)
        return storage_pb2.RecordUsageResponse(
            accepted=len(fresh), duplicates=len(request.events) - len(fresh)
        )

    def ticks_of(self, company: str) -> int:
        """Ticks metered for `company` (the Bridge's delivered-ticks usage)."""
        return sum(
            e.data_points
            for e in self.events.values()
            if e.company_id == company and (e.service, e.endpoint) == ("bridge", "ticks")
        )


@pytest.fixture
def recorded() -> RecordedUsage:
    return RecordedUsage()


@pytest.fixture
async def make_bridge(tmp_path: Path, recorded: RecordedUsage) -> AsyncIterator[BridgeFactory]:
    """Starts FakeIngestion + Bridge pairs; everything is stopped after the test."""
    started: list[tuple[Bridge, grpc.aio.Server]] = []

    async def make(
        tuning: BridgeTuning = TEST_TUNING, grace_seconds: float = 1.0, *,
        redis_url: str | None = None, redis_prefix: str | None = None,
        instance: str | None = None,
    ) -> Bridge:  # fmt: skip
        """A Bridge on the in-process store unless `redis_url` is given; `instance` and
        `redis_prefix` repeated make a restart of an earlier Bridge (same data dir)."""
        upstream_server, fake, port = await start_fake_ingestion(UNIVERSE)
        config = MeshConfig(tls_insecure=True,
            ingestion_address=f"127.0.0.1:{port}", grace_seconds=grace_seconds,
            redis_url=redis_url,
            redis_prefix=redis_prefix or f"bridge-test:{uuid.uuid4().hex[:8]}:",
            data_dir=tmp_path, metering_flush_seconds=0.05,
        )  # fmt: skip
        tenancy = TenancyOptions(
            authenticate_key=resolve_test_key, usage_sender=recorded.record,
            instance=instance or f"bridge-{uuid.uuid4().hex[:8]}",
        )  # fmt: skip
        server = await bridge_spec(tuning).create(config, port=0, tenancy=tenancy)
        assert isinstance(server.handle, BridgeParts)
        bridge = Bridge(server, server.handle, fake)
        started.append((bridge, upstream_server))
        await asyncio.wait_for(server.start(), WAIT)
        # Ready means the stream was opened; wait until the fake has it, so nothing fed
        # from here on misses the (live, from_seq=0) first stream.
        await fake.wait_for(lambda: fake.open_streams == 1)
        return bridge

    yield make
    for bridge, upstream_server in started:
        for channel in bridge.channels:
            await channel.close()
        await bridge.server.stop()
        await upstream_server.stop(None)


@pytest.fixture
async def bridge(make_bridge: BridgeFactory) -> Bridge:
    """One Bridge with the test tuning."""
    return await make_bridge()
