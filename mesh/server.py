"""Server wiring every service shares: interceptors, health, reflection, business metrics,
Hub registration, graceful stop, launcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.trace import Tracer

from mesh.binding import ServiceBinding, bind
from mesh.business_metrics import SERVICE as METRICS_SERVICE
from mesh.business_metrics import (
    BusinessMetrics,
    BusinessMetricsInterceptor,
    BusinessMetricsServicer,
)
from mesh.config import ConfigError, MeshConfig, join_host_port, load_config
from mesh.health import MeshHealthServicer
from mesh.interceptors.auth import AuthInterceptor
from mesh.interceptors.errors import ErrorInterceptor
from mesh.interceptors.metadata import MetadataInterceptor
from mesh.interceptors.request_id import RequestIdInterceptor
from mesh.logging import configure_logging
from mesh.reflection import enable_reflection
from mesh.registration import (
    ChannelFactory,
    Registrar,
    advertised_address,
    instance_spec,
    new_instance_id,
    signed_channel_factory,
)
from mesh.telemetry import configure_telemetry, shutdown_telemetry, tracer_for
from mesh.telemetry.server import TenantSpanInterceptor, TracingInterceptor

HEALTH_SERVICE_NAME: str = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
OVERALL = ""
"""The health service name that stands for the whole server."""

PENDING_CALL_LIMITS = (
    ("grpc.server.max_pending_requests", 20_000),
    ("grpc.server.max_pending_requests_hard_limit", 40_000),
)
"""Calls that arrived but that the event loop has not picked up yet. gRPC's defaults shed
them at random past 1,000 and all past 3,000, as CANCELLED: 5,000 subscribers reconnecting to
one Bridge at once saw ~3,000 refusals (bench/RESULTS.md). The loop picks them all up
within seconds; each still waits at most grpc.server_max_unrequested_time_in_server
(30 s by default)."""

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

_log = logging.getLogger(__name__)


class MeshServer:
    """A built, not yet started, server: `start()`, then `stop()` (or hand it to `serve`)."""

    def __init__(
        self,
        *,
        server: grpc.aio.Server,
        port: int,
        health: MeshHealthServicer,
        component: str,
        config: MeshConfig,
        service_names: Sequence[str],
        readiness: Callable[[], Awaitable[None]] | None,
        on_stop: Callable[[], Awaitable[None]] | None,
        metrics: BusinessMetrics | None = None,
        registrar: Registrar | None = None,
    ) -> None:
        self.server = server
        """The underlying grpc.aio server."""
        self.port = port
        """The bound port (the ephemeral one when the config asked for 0)."""
        self.health = health
        self.stopping = asyncio.Event()
        """Set when a stop begins: streaming handlers watch it and end their streams."""
        """The health servicer; start() and stop() drive it."""
        self.component = component
        """The component name used in logs (`hub`, `bridge`, ...)."""
        self.config = config
        self.service_names = tuple(service_names)
        """The bound services' names; each has its own health status."""
        self.metrics = metrics or BusinessMetrics(component, new_instance_id(component))
        """This server's business metrics (BusinessMetricsService serves them)."""
        self.instance_id = self.metrics.instance_id
        """This server's id in the mesh, `<component>-<8 hex>`."""
        self.registrar = registrar
        """Keeps this server registered at the Hub; None when no hub_address is set."""
        self._readiness = readiness
        self._on_stop = on_stop
        self._stopping: asyncio.Task[None] | None = None
        self._stop_requested = asyncio.Event()

    @property
    def address(self) -> str:
        """`host:port` this server listens on."""
        return join_host_port(self.config.host, self.port)

    async def start(self) -> None:
        """Start serving, wait for readiness (the stores are up), then report SERVING."""
        await self.server.start()
        _log.info("%s listening on %s", self.component, self.address)
        if self._readiness is not None:
            await self._readiness()
        # After stop() began, health.set() is ignored, so a late readiness cannot
        # resurrect a stopping server.
        for name in (OVERALL, *self.service_names):
            await self.health.set(name, _SERVING)
        _log.info("%s serving", self.component)
        if self.registrar is not None and not self._stop_requested.is_set():
            self.registrar.start()

    def request_stop(self) -> None:
        """Ask `serve` to stop this server (what SIGTERM does); returns at once."""
        self._stop_requested.set()

    async def stop_requested(self) -> None:
        """Return once request_stop() or stop() has been called."""
        await self._stop_requested.wait()

    async def stop(self) -> None:
        """Report NOT_SERVING, let in-flight RPCs finish for grace_seconds, then on_stop.

        Safe to call more than once and concurrently; every caller waits for the one stop.
        """
        self._stop_requested.set()
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        # Shielded: a caller cancelled while waiting must not cancel the shutdown itself.
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        _log.info("%s stopping (grace %.1fs)", self.component, self.config.grace_seconds)
        if self.registrar is not None:
            # Leave the Hub's rotation first, so no new routed call arrives while we drain.
            await self.registrar.stop()
        # NOT_SERVING first, so load balancers and the Hub route away before we close.
        await self.health.enter_graceful_shutdown()
        # Long-lived streams end now rather than after the grace period: health watchers
        # once they have seen NOT_SERVING, our own streams through `stopping`.
        await self.health.close_watches()
        self.stopping.set()
        await self.server.stop(self.config.grace_seconds)
        if self._on_stop is not None:
            await self._on_stop()
        _log.info("%s stopped", self.component)


def mesh_interceptors(tracer: Tracer | None = None) -> list[grpc.aio.ServerInterceptor]:
    """The interceptors every server runs first, outermost first (with `tracer`, the
    server span too)."""
    # RequestIdInterceptor opens the call scope that the others read; ErrorInterceptor maps
    # whatever is raised inside it; MetadataInterceptor refuses malformed metadata by
    # raising, so it must sit inside the error mapping. The span sits between the first
    # two: it records the request id and the status the error mapping ends a call with.
    tracing = [TracingInterceptor(tracer)] if tracer is not None else []
    return [RequestIdInterceptor(), *tracing, ErrorInterceptor(), MetadataInterceptor()]


async def build_server(
    config: MeshConfig,
    *,
    component: str,
    port: int,
    bindings: Sequence[ServiceBinding],
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    readiness: Callable[[], Awaitable[None]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
    channel_factory: ChannelFactory | None = None,
) -> MeshServer:
    """Create (not start) a server on config.host:port (0 = ephemeral) hosting `bindings`.

    Adds health (every service NOT_SERVING until start() finds the server ready),
    BusinessMetricsService, and reflection v1 + v1alpha listing every service.
    `interceptors` run inside the mesh's own. With config.hub_address set, the server
    registers at the Hub once SERVING and deregisters when it stops, over channels from
    `channel_factory` (default: channels signed as this service with the mesh secret).
    """
    # Before the server exists: its interceptors are fixed when it is created.
    configure_telemetry(config, component)
    tracer = tracer_for(component)
    if tracer is not None:
        interceptors = _after_auth(interceptors, TenantSpanInterceptor())
    metrics = BusinessMetrics(component, new_instance_id(component))
    bindings = [
        *bindings,
        bind(METRICS_SERVICE, BusinessMetricsServicer(metrics)),
    ]
    own = BusinessMetricsInterceptor(metrics, [binding.name for binding in bindings])
    server = grpc.aio.server(
        interceptors=[*mesh_interceptors(tracer), *_with_metrics(interceptors, own)],
        # gRPC sets SO_REUSEPORT by default on Linux, so a second copy of a service would
        # bind the same port silently and take half its connections; fail loudly instead.
        options=[("grpc.so_reuseport", 0), *PENDING_CALL_LIMITS],
    )
    names = [binding.name for binding in bindings]
    for binding in bindings:
        binding.register(server)

    health = MeshHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for name in (OVERALL, *names):
        await health.set(name, _NOT_SERVING)
    enable_reflection(server, [*names, HEALTH_SERVICE_NAME])

    address = join_host_port(config.host, port)
    cause: Exception | None = None
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpc raises for an address in use; older versions return 0
        bound, cause = 0, exc
    if not bound:
        await server.stop(None)
        raise RuntimeError(f"{component}: cannot bind {address}") from cause
    registrar = None
    if config.hub_address:
        registrar = Registrar(
            spec=instance_spec(
                config, component, metrics.instance_id, advertised_address(config, bound)
            ),
            hub_address=config.hub_address,
            channel_factory=channel_factory or signed_channel_factory(config, component),
            ttl_s=config.instance_ttl_seconds,
            active_sessions=metrics.active_sessions,
        )
    return MeshServer(
        server=server,
        port=bound,
        health=health,
        component=component,
        config=config,
        service_names=names,
        readiness=readiness,
        on_stop=on_stop,
        metrics=metrics,
        registrar=registrar,
    )


def _after_auth(
    interceptors: Sequence[grpc.aio.ServerInterceptor], extra: grpc.aio.ServerInterceptor
) -> list[grpc.aio.ServerInterceptor]:
    """`interceptors` with `extra` right after authentication; unchanged when there is none
    (`extra` reads the authenticated caller)."""
    out = list(interceptors)
    auth = [i for i, interceptor in enumerate(out) if isinstance(interceptor, AuthInterceptor)]
    if auth:
        out.insert(auth[-1] + 1, extra)
    return out


def _with_metrics(
    interceptors: Sequence[grpc.aio.ServerInterceptor], metrics: BusinessMetricsInterceptor
) -> list[grpc.aio.ServerInterceptor]:
    """`interceptors` with the metrics one right after authentication (it reads the caller,
    and must wrap the quota check to count refused calls), or last when there is none."""
    out = list(interceptors)
    auth = [i for i, interceptor in enumerate(out) if isinstance(interceptor, AuthInterceptor)]
    out.insert(auth[-1] + 1 if auth else len(out), metrics)
    return out


async def serve(mesh_server: MeshServer) -> None:
    """Start, serve until SIGTERM/SIGINT (or until something calls stop()), stop gracefully."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Signal handlers exist only on Unix and in the main thread; elsewhere the caller
        # stops the server itself.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, mesh_server.request_stop)
            installed.append(sig)
    # Not server.wait_for_termination(): cancelling a wait on it cancels grpc's internal
    # shutdown future, and the server's own stop() then raises CancelledError.
    stop_requested = asyncio.ensure_future(mesh_server.stop_requested())
    try:
        # A signal while readiness is still pending (a store that never comes up) must
        # stop the server too, so starting races against it.
        starting = asyncio.ensure_future(mesh_server.start())
        await asyncio.wait({starting, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()
            await stop_requested
        else:
            await _cancel(starting)
    finally:
        await _cancel(stop_requested)
        # Handlers stay installed through the graceful stop, so a second signal during
        # it (an impatient operator) cannot kill the process half-way.
        await mesh_server.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)


async def _cancel(task: asyncio.Future[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def run(create: Callable[[MeshConfig], Awaitable[MeshServer]]) -> None:
    """Entry point of `python -m servers.<svc>`: config, logging, serve; exit 0 when stopped.

    A configuration error prints one line on stderr and exits with status 2.
    """
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"tickmesh: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(config.log_level, config.log_format, service="tickmesh")

    async def main() -> None:
        mesh_server = await create(config)
        # Now the component is known; later records carry its name.
        configure_logging(config.log_level, config.log_format, service=mesh_server.component)
        await serve(mesh_server)

    try:
        asyncio.run(main())
    except ConfigError as exc:
        print(f"tickmesh: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        # The last spans and metrics out before the process ends (a no-op when off).
        shutdown_telemetry()
