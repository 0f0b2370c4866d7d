"""Generic fixtures shared by every test tree."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator

import grpc
import pytest

from mesh.temporal_server import TemporalServer
from tests.support.temporal import start_dev_server

ChannelFactory = Callable[[str], grpc.aio.Channel]

# The shared test meshes run plaintext on loopback (the suite's channels are insecure);
# TLS, mutual TLS and their refusals are covered by tests/e2e/test_tls.py, which turns it
# back on for the meshes it starts. Set before any config is loaded or process spawned.
os.environ.setdefault("TICKMESH_TLS_INSECURE", "true")


@pytest.fixture
async def aio_channel() -> AsyncIterator[ChannelFactory]:
    """A factory of insecure grpc.aio channels to a target; all are closed after the test."""
    channels: list[grpc.aio.Channel] = []

    def make(target: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(target)
        channels.append(channel)
        return channel

    yield make
    for channel in channels:
        await channel.close()


@pytest.fixture(scope="session")
def temporal_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalServer]:
    """One Temporal dev server for the whole test session; each mesh using it takes a
    task queue of its own (which also prefixes its schedule and workflow ids)."""
    server = start_dev_server(tmp_path_factory.mktemp("temporal"))
    try:
        yield server
    finally:
        server.stop()
