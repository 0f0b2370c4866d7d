"""The sidecar's server: any mesh method forwarded byte for byte, plus its own health,
reflection (relayed to the mesh) and metrics.

An application talks plain gRPC to the sidecar on loopback with no credentials; the
sidecar attaches its key, resolves an instance through the Hub (tier-aware, by the
key's tenant), retries what is safe (mesh/forwarding.py) and relays everything else:
deadlines, cancellation, metadata, statuses with their details.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import secrets
import signal
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tickmesh.common.v1 import metrics_pb2_grpc
from tickmesh.hub.v1 import hub_pb2

from mesh.business_metrics import SERVICE as METRICS_SERVICE
from mesh.channel_pool import ChannelPool
from mesh.config import MeshConfig, join_host_port
from mesh.forwarding import ROUTED_MODULES, Forwarder, routed_methods
from mesh.health import MeshHealthServicer
from mesh.server import HEALTH_SERVICE_NAME, OVERALL, mesh_interceptors
from mesh.sidecar.credentials import key_metadata, with_key
from mesh.sidecar.metrics import SidecarMetrics, SidecarMetricsServicer
from mesh.sidecar.reflection import ReflectionRelay
from mesh.sidecar.routing import SidecarRouting
from mesh.sidecar.upstream import open_upstream_channel

_log = logging.getLogger(__name__)

ATTEMPTS = 3
"""Tries of a call that may be replayed: the first and two more on other instances."""
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class ListenError(Exception):
    """The listen address is refused or cannot be bound; the message says why."""


@dataclass(frozen=True)
class SidecarSettings:
    """What `tickmesh sidecar` runs with."""

    listen: str
    """`host:port` the application connects to; port 0 picks a free one."""
    hub_address: str
    """The Hub that resolves instances."""
    key: str = field(repr=False)
    """The API key attached to every forwarded call (never logged)."""
    allow_remote: bool = False
    """Listen on a non-loopback address (anyone who reaches it acts with the key)."""
    grace_s: float = 5.0
    """How long a stop lets forwarded unary calls finish (streams end at once)."""
    mesh: MeshConfig | None = None
    """The mesh's configuration, for its transport security (None: plaintext)."""


def check_listen_address(listen: str, allow_remote: bool) -> None:
    """Refuse a non-loopback listen address unless allowed: the sidecar lends its key to
    whoever connects."""
    host = listen.rsplit(":", 1)[0].strip("[]")
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ListenError(
            f"--listen {listen}: not a loopback address; the sidecar lends its key to whoever "
            "connects, so it listens on 127.0.0.1 unless --allow-remote is given"
        )


class Sidecar:
    """A built sidecar: `start()`, then `stop()`."""

    def __init__(self, settings: SidecarSettings) -> None:
        check_listen_address(settings.listen, settings.allow_remote)
        self.settings = settings
        self.instance_id = f"sidecar-{secrets.token_hex(4)}"
        self.metrics = SidecarMetrics()
        upstream = functools.partial(open_upstream_channel, config=settings.mesh)
        self._hub_channel = upstream(settings.hub_address, "hub")
        self.routing = SidecarRouting(
            settings.hub_address, self._hub_channel, key_metadata(settings.key)
        )
        self.channels = ChannelPool(upstream)
        methods = routed_methods((*ROUTED_MODULES, hub_pb2))
        self.forwarder = Forwarder(
            self.routing, self.channels, methods,
            name="sidecar", outgoing=with_key(settings.key), attempts=ATTEMPTS,
            observer=self.metrics,
        )  # fmt: skip
        self.health = MeshHealthServicer()
        self._own = (HEALTH_SERVICE_NAME, METRICS_SERVICE.full_name)
        mesh_services = sorted({m.service for m in methods.values()})
        self.server = grpc.aio.server(
            interceptors=mesh_interceptors(),
            # Fail loudly if another sidecar holds the port, rather than share it.
            options=[("grpc.so_reuseport", 0)],
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        metrics_pb2_grpc.add_BusinessMetricsServiceServicer_to_server(
            SidecarMetricsServicer(self.metrics, self.instance_id), self.server
        )
        relay = ReflectionRelay(self.routing, self.channels, mesh_services, self._own)
        self.server.add_generic_rpc_handlers((relay, self.forwarder))
        try:
            self.port = self.server.add_insecure_port(settings.listen)
        except RuntimeError as exc:
            raise ListenError(f"cannot listen on {settings.listen}: {exc}") from None
        if not self.port:
            raise ListenError(f"cannot listen on {settings.listen}")
        self._stopping: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        """`host:port` the sidecar listens on."""
        return join_host_port(self.settings.listen.rsplit(":", 1)[0].strip("[]"), self.port)

    async def start(self) -> None:
        """Listen, then report SERVING."""
        await self.server.start()
        for name in (OVERALL, *self._own):
            await self.health.set(name, _SERVING)
        _log.info("sidecar listening on %s, resolving through the Hub at %s",
                  self.address, self.settings.hub_address)  # fmt: skip

    async def stop(self) -> None:
        """NOT_SERVING, end forwarded streams (their apps reconnect), let unary calls
        finish for grace_s, close the upstream channels. Safe to call twice."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        await self.health.enter_graceful_shutdown()
        await self.health.close_watches()
        self.forwarder.drain()
        await self.server.stop(self.settings.grace_s)
        await self.channels.close()
        await self._hub_channel.close()


async def run_sidecar(settings: SidecarSettings, ready: str = "sidecar ready") -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully; prints `ready` once serving."""
    sidecar = Sidecar(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await sidecar.start()
        print(f"{ready}: listening on {sidecar.address} (Hub {settings.hub_address})", flush=True)
        await stop.wait()
    finally:
        await sidecar.stop()
