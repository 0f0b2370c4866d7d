"""Channels by address with cached raw-bytes multi-callables: what a forwarding proxy (the
Hub's, the sidecar's) calls its upstreams through.

Each channel is opened knowing which mesh service the instance at its address serves, so
TLS verifies the instance as that service (mesh.transport.aio_channel)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc

from mesh.lifecycle import cancel

DRAIN_S = 30.0
"""How long a released channel lets forwarded calls finish before closing."""

Identity = None  # a None (de)serializer passes raw bytes through untouched


class _Entry:
    __slots__ = ("callables", "channel")

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.callables: dict[tuple[str, str], Any] = {}


ChannelFactory = Callable[[str, str], grpc.aio.Channel]
"""A channel to (address, the mesh service the instance there serves)."""


class ChannelPool:
    """Channels by address, with cached raw-bytes multi-callables per method."""

    def __init__(self, factory: ChannelFactory) -> None:
        self._factory = factory
        self._entries: dict[str, _Entry] = {}
        self._draining: set[asyncio.Task[None]] = set()

    def channel(self, address: str, service: str) -> grpc.aio.Channel:
        """The channel to the `service` instance at `address`, opened on first use."""
        return self._entry(address, service).channel

    def unary_unary(
        self, address: str, service: str, method: str
    ) -> grpc.aio.UnaryUnaryMultiCallable:
        return self._callable(address, service, method, "unary_unary")

    def unary_stream(
        self, address: str, service: str, method: str
    ) -> grpc.aio.UnaryStreamMultiCallable:
        return self._callable(address, service, method, "unary_stream")

    def stream_unary(
        self, address: str, service: str, method: str
    ) -> grpc.aio.StreamUnaryMultiCallable:
        return self._callable(address, service, method, "stream_unary")

    def stream_stream(
        self, address: str, service: str, method: str
    ) -> grpc.aio.StreamStreamMultiCallable:
        return self._callable(address, service, method, "stream_stream")

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

    def _entry(self, address: str, service: str) -> _Entry:
        # Keyed by address alone: an address serves one instance at a time, and a new
        # instance there gets a fresh channel (release() when the old one goes).
        entry = self._entries.get(address)
        if entry is None:
            entry = self._entries[address] = _Entry(self._factory(address, service))
        return entry

    def _callable(self, address: str, service: str, method: str, shape: str) -> object:
        entry = self._entry(address, service)
        key = (method, shape)
        found = entry.callables.get(key)
        if found is None:
            make = getattr(entry.channel, shape)
            found = entry.callables[key] = make(
                method, request_serializer=Identity, response_deserializer=Identity
            )
        return found
