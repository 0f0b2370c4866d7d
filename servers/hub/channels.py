"""One gRPC channel per instance address, shared by the proxy, health checks and metrics."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import grpc

from mesh.channel_options import reconnect_options
from mesh.config import MeshConfig
from mesh.lifecycle import cancel
from mesh.telemetry import tracer_for
from mesh.telemetry.client import tracing_interceptors
from mesh.transport import aio_channel

# Half the mesh's RECONNECT_OPTIONS: a restarted instance is found again within a fraction of a
# second, and a dead one fails calls fast instead of queueing them.
CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    *reconnect_options(100, 1000),
    # The proxy forwards whatever the instance accepts; the instance enforces its limits.
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
)

DRAIN_S = 30.0
"""How long a released channel lets forwarded calls finish before closing."""

Identity = None  # a None (de)serializer passes raw bytes through untouched


def _traced_channel(address: str, config: MeshConfig | None = None) -> grpc.aio.Channel:
    # Tracing is looked up per channel, not per pool: the Hub's telemetry is configured
    # by the time it opens its first channel (the pool itself exists earlier).
    interceptors = tracing_interceptors(tracer_for("hub"))
    config = config if config is not None else MeshConfig(tls_insecure=True)
    return aio_channel(address, config, interceptors=interceptors, options=CHANNEL_OPTIONS)


def channel_factory(config: MeshConfig) -> Callable[[str], grpc.aio.Channel]:
    """Channels to instances, secured as the mesh is (TLS trusting the mesh CA). Forwarded
    calls carry their caller's own credentials, so these present no certificate."""
    return functools.partial(_traced_channel, config=config)


class _Entry:
    __slots__ = ("callables", "channel")

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.callables: dict[tuple[str, str], Any] = {}


class ChannelPool:
    """Channels by address, with cached raw-bytes multi-callables per method."""

    def __init__(self, factory: Callable[[str], grpc.aio.Channel] | None = None) -> None:
        self._factory = factory or _traced_channel
        self._entries: dict[str, _Entry] = {}
        self._draining: set[asyncio.Task[None]] = set()

    def channel(self, address: str) -> grpc.aio.Channel:
        """The channel to `address`, opened on first use."""
        return self._entry(address).channel

    def unary_unary(self, address: str, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
        return self._callable(address, method, "unary_unary")

    def unary_stream(self, address: str, method: str) -> grpc.aio.UnaryStreamMultiCallable:
        return self._callable(address, method, "unary_stream")

    def stream_unary(self, address: str, method: str) -> grpc.aio.StreamUnaryMultiCallable:
        return self._callable(address, method, "stream_unary")

    def stream_stream(self, address: str, method: str) -> grpc.aio.StreamStreamMultiCallable:
        return self._callable(address, method, "stream_stream")

    def release(self, address: str) -> None:
        """No instance lives at `address` any more: close its channel once in-flight calls
        end (or after DRAIN_S), without waiting here."""
        entry = self._entries.pop(address, None)
        if entry is not None:
            task = asyncio.ensure_future(entry.channel.close(grace=DRAIN_S))
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)

    async def close(self) -> None:
        """Close every channel now."""
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            await entry.channel.close()
        await cancel(*self._draining)

    def _entry(self, address: str) -> _Entry:
        entry = self._entries.get(address)
        if entry is None:
            entry = self._entries[address] = _Entry(self._factory(address))
        return entry

    def _callable(self, address: str, method: str, shape: str) -> object:
        entry = self._entry(address)
        key = (method, shape)
        found = entry.callables.get(key)
        if found is None:
            make = getattr(entry.channel, shape)
            found = entry.callables[key] = make(
                method, request_serializer=Identity, response_deserializer=Identity
            )
        return found
