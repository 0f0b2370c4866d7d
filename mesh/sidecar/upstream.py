"""The one place the sidecar opens a channel to the mesh (the Hub and every instance).

Secured as the mesh is (TLS trusting the mesh CA, mesh.transport), so every upstream
call of the sidecar gets it; plaintext only for a mesh run with --insecure on loopback.
"""

from __future__ import annotations

from typing import Any

import grpc

from mesh.channel_options import reconnect_options
from mesh.config import MeshConfig
from mesh.transport import aio_channel

UPSTREAM_OPTIONS: tuple[tuple[str, Any], ...] = (
    # Like the Hub's proxy: a restarted instance is found again within a fraction of a
    # second, and a dead one fails calls fast (so they are retried elsewhere) instead of
    # queueing them.
    *reconnect_options(100, 1000),
    # The sidecar forwards whatever the instance accepts; the instance enforces its limits.
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    # Its own subchannels: another channel's backoff to the same peer must not hold ours.
    ("grpc.use_local_subchannel_pool", 1),
)


def open_upstream_channel(
    address: str, service: str, config: MeshConfig | None = None
) -> grpc.aio.Channel:
    """A channel from the sidecar to the `service` instance at `address` (`host:port`) in
    the mesh, verified as that service; with no config, plaintext (a test mesh on
    loopback)."""
    if config is None:
        return grpc.aio.insecure_channel(address, options=UPSTREAM_OPTIONS)
    return aio_channel(address, config, options=UPSTREAM_OPTIONS, service=service)
