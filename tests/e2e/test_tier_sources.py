"""Per-tier sources over real processes: what each tier receives comes from the brokers the
catalog sells it, and a stopped broker fails over to the tier's fallback and back.

Provenance is checked on the ticks that arrive, against the source switches Ingestion
reports (a synthetic feed may disconnect on its own during a run: a tick from a fallback
is right exactly while its view had failed over). Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.common.v1 import market_pb2, tenancy_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.tiers import CATALOG, FREE_SYMBOLS, Tier
from tests.e2e.processes import ServiceProcesses
from tests.waiting import eventually

pytestmark = pytest.mark.e2e
WAIT = 60.0
PROTO_TIER = {Tier.FREE: tenancy_pb2.TIER_FREE, Tier.PRO: tenancy_pb2.TIER_PRO,
              Tier.ENTERPRISE: tenancy_pb2.TIER_ENTERPRISE}  # fmt: skip
SYMBOLS = list(FREE_SYMBOLS)  # every tier has them: the same symbols, three views


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ServiceProcesses]:
    procs = ServiceProcesses(
        tmp_path / "mesh",
        extra_env={"TICKMESH_INGESTION_SEED": "17", "TICKMESH_INGESTION_QUOTES_PER_SECOND": "3000"},
    )
    try:
        for service in ("storage", "ingestion", "bridge"):
            procs.start(service)
        yield procs
    finally:
        procs.stop_all()


@dataclass
class Mesh:
    processes: ServiceProcesses
    keys: dict[Tier, str] = field(default_factory=dict)
    companies: dict[Tier, str] = field(default_factory=dict)
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def channel(self, service: str, key: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(
            self.processes.address(service), interceptors=api_key_interceptors(key)
        )
        self.channels.append(channel)
        return channel

    def ingestion(self) -> ingestion_pb2_grpc.IngestionServiceStub:
        key = self.processes.operator_key
        return ingestion_pb2_grpc.IngestionServiceStub(self.channel("ingestion", key))

    def subscribe(self, tier: Tier) -> Subscriber:
        stub = bridge_pb2_grpc.BridgeServiceStub(self.channel("bridge", self.keys[tier]))
        return Subscriber(stub.Subscribe(bridge_pb2.SubscribeRequest(symbols=SYMBOLS)))


@dataclass
class Subscriber:
    call: object
    ticks: list[market_pb2.Tick] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def start(self) -> Subscriber:
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for message in self.call:  # type: ignore[attr-defined]
            self.ticks += message.batch.ticks if message.HasField("batch") else ()

    async def stop(self) -> None:
        self.call.cancel()  # type: ignore[attr-defined]
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await self.task


@pytest.fixture
async def mesh(processes: ServiceProcesses) -> AsyncIterator[Mesh]:
    m = Mesh(processes)
    operator = storage_pb2_grpc.StorageServiceStub(m.channel("storage", processes.operator_key))
    for tier, value in PROTO_TIER.items():
        created = await operator.CreateCompany(
            storage_pb2.CreateCompanyRequest(
                name=f"Sources {tier}", tier=value, owner_email=f"o@{tier}.example.com",
                owner_name="O",
            )
        )  # fmt: skip
        m.keys[tier] = created.owner_key.api_key
        m.companies[tier] = created.company.company_id
    try:
        yield m
    finally:
        for channel in m.channels:
            await channel.close()


async def _switches(mesh: Mesh, tier: Tier) -> list[ingestion_pb2.SourceSwitch]:
    reply = await mesh.ingestion().ListSourceSwitches(
        ingestion_pb2.ListSourceSwitchesRequest(tier=PROTO_TIER[tier])
    )
    return list(reply.switches)


def _allowed(
    tier: Tier, tick: market_pb2.Tick, switches: list[ingestion_pb2.SourceSwitch]
) -> set[str]:
    """The brokers the tier's view of the tick's symbol used when the tick was made."""
    sources = set(CATALOG[tier].brokers)
    for switch in switches:
        if switch.symbol == tick.symbol and switch.time_us <= tick.ingest_time_us:
            sources = set(switch.to_brokers)
    return sources


async def test_each_tier_receives_prices_from_its_own_brokers(mesh: Mesh) -> None:
    subscribers = {tier: mesh.subscribe(tier).start() for tier in Tier}
    await eventually(
        lambda: all(len(s.ticks) >= 15 for s in subscribers.values()),
        "every tier receiving ticks",
        within=WAIT,
        every=0.1,
    )
    for subscriber in subscribers.values():
        await subscriber.stop()
    for tier, subscriber in subscribers.items():
        switches = await _switches(mesh, tier)
        wrong = [
            (t.symbol, t.broker)
            for t in subscriber.ticks
            if t.broker not in _allowed(tier, t, switches)
        ]
        assert not wrong, f"{tier}: {wrong[:5]} (switches: {switches})"
    enterprise = subscribers[Tier.ENTERPRISE].ticks
    quoted = {q.broker for t in enterprise for q in t.broker_quotes}
    assert quoted == set(CATALOG[Tier.ENTERPRISE].brokers)
    assert {t.broker for t in enterprise} | {t.ask_broker for t in enterprise} >= {"pepperstone"}


@pytest.mark.parametrize(
    ("state", "cause"),
    [
        (ingestion_pb2.FEED_STATE_DISCONNECTED, "fxcm down"),
        (ingestion_pb2.FEED_STATE_SILENT, "fxcm stale"),
    ],
)
async def test_a_stopped_fxcm_fails_free_over_and_back(
    mesh: Mesh, state: ingestion_pb2.FeedState, cause: str
) -> None:
    ingestion = mesh.ingestion()
    free = mesh.subscribe(Tier.FREE).start()
    enterprise = mesh.subscribe(Tier.ENTERPRISE).start()
    await eventually(lambda: any(t.broker == "fxcm" for t in free.ticks), "fxcm prices", every=0.1)

    await ingestion.SetBrokerFeed(ingestion_pb2.SetBrokerFeedRequest(broker="fxcm", state=state))
    stopped_at = len(free.ticks)
    # Bounded: a disconnect at once, silence after the 5 s staleness limit (+ sweep).
    await eventually(
        lambda: any(t.broker == "ic_markets" for t in free.ticks[stopped_at:]),
        "free prices from the fallback ic_markets",
        within=15.0,
        every=0.1,
    )
    failovers: list[ingestion_pb2.SourceSwitch] = []

    async def every_symbol_failed_over() -> bool:
        failovers[:] = [
            s for s in await _switches(mesh, Tier.FREE)
            if s.kind == ingestion_pb2.SWITCH_KIND_FAILOVER and s.cause.startswith(cause)
        ]  # fmt: skip
        return {s.symbol for s in failovers} == set(FREE_SYMBOLS)

    await eventually(every_symbol_failed_over, "a failover per free symbol", within=15.0)
    assert all(list(s.to_brokers) == ["ic_markets"] for s in failovers)

    # The SLA minutes show it: enterprise's views have two sources of their three (its
    # stream minutes go out every 10 s), free's failover kept its one.
    storage = storage_pb2_grpc.StorageServiceStub(
        mesh.channel("storage", mesh.processes.operator_key)
    )
    figures: dict[Tier, storage_pb2.SlaFigures] = {}

    async def enterprise_below_redundancy() -> bool:
        for tier in (Tier.FREE, Tier.ENTERPRISE):
            reply = await storage.QuerySla(
                storage_pb2.QuerySlaRequest(
                    billing_period=datetime.now(UTC).strftime("%Y-%m"),
                    company_id=mesh.companies[tier],
                )
            )
            figures.update((tier, f) for f in reply.figures)
        ent, free = figures.get(Tier.ENTERPRISE), figures.get(Tier.FREE)
        return bool(ent and ent.minutes_below_redundancy and free and free.stream_minutes)

    await eventually(
        enterprise_below_redundancy, "enterprise's minutes below redundancy", within=30.0
    )
    assert figures[Tier.ENTERPRISE].live_sources_min == 2, figures[Tier.ENTERPRISE]
    assert figures[Tier.FREE].live_sources_min == 1, figures[Tier.FREE]

    await ingestion.SetBrokerFeed(
        ingestion_pb2.SetBrokerFeedRequest(broker="fxcm", state=ingestion_pb2.FEED_STATE_RUNNING)
    )
    back_at = len(free.ticks)
    await eventually(
        lambda: any(t.broker == "fxcm" for t in free.ticks[back_at:]),
        "free prices from fxcm again",
        within=15.0,
        every=0.1,
    )
    recoveries = [
        s for s in await _switches(mesh, Tier.FREE) if s.kind == ingestion_pb2.SWITCH_KIND_RECOVERY
    ]
    assert recoveries and all(list(s.to_brokers) == ["fxcm"] for s in recoveries)
    await free.stop()
    await enterprise.stop()
    status = await ingestion.ListSourceSwitches(ingestion_pb2.ListSourceSwitchesRequest())
    assert status.failovers >= len(FREE_SYMBOLS) and status.recoveries >= len(FREE_SYMBOLS)
