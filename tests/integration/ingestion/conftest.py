"""Fixtures for Ingestion integration tests: a real server on an ephemeral port, real channels."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.config import load_config
from mesh.host import build_service
from mesh.server import MeshServer
from servers.ingestion.app import SPEC

WAIT = 10.0  # upper bound of every wait on a condition
OPERATOR_KEY = "op_" + secrets.token_urlsafe(
    24
)  # StreamTicks/PublishTicks need a service or operator
Stub = ingestion_pb2_grpc.IngestionServiceStub
ServerFactory = Callable[..., Awaitable[MeshServer]]


@pytest.fixture
async def start_ingestion(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    """Start an Ingestion server with TICKMESH_* overrides; stopped after the test."""
    servers: list[MeshServer] = []

    async def start(**overrides: str) -> MeshServer:
        env = {
            "TICKMESH_DATA_DIR": str(tmp_path),
            "TICKMESH_TLS_INSECURE": "true",
            "TICKMESH_INGESTION_SYNTHETIC": "false",
            "TICKMESH_ADMIN_KEY": OPERATOR_KEY,
            "TICKMESH_GRACE_SECONDS": "30",  # so a stream ending promptly is told from grace
            **{f"TICKMESH_{key.upper()}": value for key, value in overrides.items()},
        }
        server = await build_service(SPEC, load_config(env=env), port=0)
        servers.append(server)
        await server.start()
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def ingestion(start_ingestion: ServerFactory) -> MeshServer:
    """An Ingestion server without synthetic feeds: tests drive it with PublishTicks."""
    return await start_ingestion()


@pytest.fixture
async def aio_channel() -> AsyncIterator[Callable[[str], grpc.aio.Channel]]:
    """Channels that present the operator key (this suite's caller is an operator feed)."""
    channels: list[grpc.aio.Channel] = []

    def make(target: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(target, interceptors=api_key_interceptors(OPERATOR_KEY))
        channels.append(channel)
        return channel

    yield make
    for channel in channels:
        await channel.close()


@pytest.fixture
def stub(ingestion: MeshServer, aio_channel: Callable[[str], grpc.aio.Channel]) -> Stub:
    return Stub(aio_channel(ingestion.address))


def now_us() -> int:
    return time.time_ns() // 1_000


_parity = itertools.count()


def sidecar_quotes(count: int, symbol: str = "EURUSD") -> list[market_pb2.Quote]:
    """Quotes from one broker whose bid alternates from call to call, so each makes a tick."""
    stamp = now_us()
    return [
        market_pb2.Quote(
            symbol=symbol,
            bid=round(1.085 + 0.00001 * (next(_parity) % 2), 5),
            ask=1.08503,
            broker="sidecar_x",
            broker_time_us=stamp,
            bid_size=1e6,
            ask_size=1e6,
        )
        for _ in range(count)
    ]


async def publish(
    stub: Stub, *chunks: list[market_pb2.Quote]
) -> ingestion_pb2.PublishTicksResponse:
    """One PublishTicks stream sending each chunk as a message."""
    requests = [ingestion_pb2.PublishTicksRequest(quotes=chunk) for chunk in chunks]
    reply: ingestion_pb2.PublishTicksResponse = await stub.PublishTicks(
        iter(requests), timeout=WAIT
    )
    return reply


async def read(call: grpc.aio.UnaryStreamCall) -> ingestion_pb2.StreamTicksResponse:
    """The next stream message, within WAIT."""
    message = await asyncio.wait_for(call.read(), WAIT)
    assert message is not grpc.aio.EOF, "the stream ended"
    assert isinstance(message, ingestion_pb2.StreamTicksResponse)
    return message


async def read_ticks_through(call: grpc.aio.UnaryStreamCall, last_seq: int) -> list[int]:
    """Sequences of the batches read until one reaches last_seq (other messages skipped)."""
    seen: list[int] = []
    while not seen or seen[-1] < last_seq:
        message = await read(call)
        if message.HasField("batch"):
            seen += [tick.sequence for tick in message.batch.ticks]
    return seen
