"""Ports for the processes `up` runs beside the services (console, shared store, Temporal).

A port of 0 means "any free one", picked here, when `up` starts, so a restart keeps it.
The kernel hands out a port it gave before once that socket closes, so a pick must not
be a port a service is configured for but has not bound yet, nor one picked earlier in
this process for another side process: both have happened (the Temporal UI took the
Hub's port and the Hub could not bind).
"""

from __future__ import annotations

import socket
from collections.abc import Collection

from mesh.config import SERVICES, MeshConfig

_picked: set[int] = set()
"""Ports picked for 0 in this process, never handed out twice."""

_TRIES = 64


def service_ports(config: MeshConfig) -> set[int]:
    """The fixed ports of the mesh's services (0, any free port, is none)."""
    return {port for service in SERVICES if (port := config.port_of(service))}


def claim_port(host: str, port: int, avoid: Collection[int] = ()) -> int:
    """`port` when it can be bound on `host` now (OSError if not), or for 0 a free port
    not in `avoid` and not picked before in this process.

    SO_REUSEADDR as servers set it, so a port in TIME_WAIT from the last run counts as
    free. The caller's process binds it a moment later; losing that race makes it exit
    at once, with the reason in its log."""
    if port:
        with _socket() as sock:
            sock.bind((host, port))
        return port
    held: list[socket.socket] = []
    try:
        for _ in range(_TRIES):  # holding each refused pick makes the next one differ
            sock = _socket()
            held.append(sock)
            sock.bind((host, 0))
            picked: int = sock.getsockname()[1]
            if picked not in avoid and picked not in _picked:
                _picked.add(picked)
                return picked
    finally:
        for sock in held:
            sock.close()
    raise OSError(f"no free port on {host} outside {len(avoid) + len(_picked)} taken ones")


def _socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock
