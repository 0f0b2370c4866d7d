"""The Hub's channels to instances, shared by the proxy, health checks and metrics."""

from __future__ import annotations

import functools
from typing import Any

import grpc

from mesh.channel_options import reconnect_options
from mesh.channel_pool import ChannelFactory, ChannelPool
from mesh.config import MeshConfig
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


def _traced_channel(
    address: str, service: str, config: MeshConfig | None = None
) -> grpc.aio.Channel:
    # Tracing is looked up per channel, not per pool: the Hub's telemetry is configured
    # by the time it opens its first channel (the pool itself exists earlier).
    interceptors = tracing_interceptors(tracer_for("hub"))
    config = config if config is not None else MeshConfig(tls_insecure=True)
    return aio_channel(
        address, config, interceptors=interceptors, options=CHANNEL_OPTIONS, service=service
    )


def channel_factory(config: MeshConfig) -> ChannelFactory:
    """Channels to instances, secured as the mesh is (TLS trusting the mesh CA, each
    instance verified as its service). Forwarded calls carry their caller's own
    credentials, so these present no certificate."""
    return functools.partial(_traced_channel, config=config)


def hub_channel_pool(config: MeshConfig | None = None) -> ChannelPool:
    """The pool of the Hub's traced channels to instances, secured as the mesh is."""
    return ChannelPool(functools.partial(_traced_channel, config=config))
