"""Generic fixtures shared by every test tree."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc
import pytest

ChannelFactory = Callable[[str], grpc.aio.Channel]


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
