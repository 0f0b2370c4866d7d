"""Reconnect options for every long-lived tickmesh channel, in services and the client SDK."""

from __future__ import annotations

ChannelOptions = tuple[tuple[str, int], ...]


def reconnect_options(initial_ms: int, max_ms: int) -> ChannelOptions:
    """gRPC's reconnect backoff from `initial_ms` up to `max_ms`, each connect attempt
    given at least `initial_ms` (min_reconnect_backoff_ms is the connect timeout's floor,
    20 s by default: a peer that vanished without a reset would hold each attempt that
    long)."""
    return (
        ("grpc.initial_reconnect_backoff_ms", initial_ms),
        ("grpc.min_reconnect_backoff_ms", initial_ms),
        ("grpc.max_reconnect_backoff_ms", max_ms),
    )


# A peer that restarts should be found again in about a second, not after gRPC's default
# reconnect backoff (which grows to two minutes, past any retry loop of our own).
RECONNECT_OPTIONS = reconnect_options(200, 2000)
