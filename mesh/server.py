"""The gRPC server every service runs: the mesh's interceptors, health, reflection, business
metrics, Hub registration, and the order of start and graceful stop."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Sequence

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
from mesh.channels import MeshChannels, mesh_signer
from mesh.config import MeshConfig, join_host_port
from mesh.health import MeshHealthServicer
from mesh.interceptors.auth import AuthInterceptor
from mesh.interceptors.errors import ErrorInterceptor
from mesh.interceptors.message_size import MessageSizeInterceptor
from mesh.interceptors.metadata import MetadataInterceptor
from mesh.interceptors.request_id import RequestIdInterceptor
from mesh.lifecycle import Lifecycle, cancel
from mesh.message_limits import MAX_RECEIVE_BYTES
from mesh.reflection import enable_reflection
from mesh.registration import Registrar, advertised_address, instance_spec, new_instance_id
from mesh.telemetry import configure_telemetry, tracer_for
from mesh.telemetry.server import TenantSpanInterceptor, TracingInterceptor
from mesh.transport import add_port

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
        lifecycle: Lifecycle,
        metrics: BusinessMetrics,
        registrar: Registrar | None = None,
        handle: object = None,
    ) -> None:
        self.server = server
        """The underlying grpc.aio server."""
        self.port = port
        """The bound port (the ephemeral one when the config asked for 0)."""
        self.health = health
        """The health servicer; start() and stop() drive it."""
        self.component = component
        """The component name used in logs (`hub`, `bridge`, ...)."""
        self.config = config
        self.service_names = tuple(service_names)
        """The bound services' names; each has its own health status."""
        self.lifecycle = lifecycle
        """The service's parts: started before SERVING, drained and stopped by stop()."""
        self.metrics = metrics
        """This server's business metrics (BusinessMetricsService serves them)."""
        self.instance_id = self.metrics.instance_id
        """This server's id in the mesh, `<component>-<8 hex>`."""
        self.registrar = registrar
        """Keeps this server registered at the Hub; None when no hub_address is set."""
        self.handle = handle
        """The service's own domain object (the Bridge's parts, the Hub), for tests and
        diagnostics; None when the service exposes none."""
        self._stopping: asyncio.Task[None] | None = None
        self._stop_requested = asyncio.Event()

    @property
    def address(self) -> str:
        """`host:port` this server listens on."""
        return join_host_port(self.config.host, self.port)

    async def start(self) -> None:
        """Start serving, start the service's parts (which may wait for readiness: an
        upstream answering), then report SERVING."""
        await self.server.start()
        _log.info("%s listening on %s", self.component, self.address)
        await self.lifecycle.start()
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
        # once they have seen NOT_SERVING, the service's own streams through its parts.
        await self.health.close_watches()
        self.lifecycle.drain()
        await self.server.stop(self.config.grace_seconds)
        await self.lifecycle.stop()
        _log.info("%s stopped", self.component)


def mesh_interceptors(tracer: Tracer | None = None) -> list[grpc.aio.ServerInterceptor]:
    """The interceptors every server runs first, outermost first (with `tracer`, the
    server span too)."""
    # RequestIdInterceptor opens the call scope that the others read; ErrorInterceptor maps
    # whatever is raised inside it; MetadataInterceptor refuses malformed metadata by
    # raising, so it must sit inside the error mapping. The span sits between the first
    # two: it records the request id and the status the error mapping ends a call with.
    tracing = [TracingInterceptor(tracer)] if tracer is not None else []
    # MessageSizeInterceptor right inside them: an oversize request is refused before any
    # other interceptor (authentication, quotas) spends work on it.
    return [
        RequestIdInterceptor(), *tracing, ErrorInterceptor(), MetadataInterceptor(),
        MessageSizeInterceptor(),
    ]  # fmt: skip


async def build_server(
    config: MeshConfig,
    *,
    component: str,
    port: int,
    bindings: Sequence[ServiceBinding],
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    lifecycle: Lifecycle | None = None,
    generic_handlers: Sequence[grpc.GenericRpcHandler] = (),
    metrics: BusinessMetrics | None = None,
    health: MeshHealthServicer | None = None,
    channels: MeshChannels | None = None,
    handle: object = None,
) -> MeshServer:
    """Create (not start) a server on config.host:port (0 = ephemeral) hosting `bindings`.

    Adds health (every service NOT_SERVING until start() has started the lifecycle's
    parts), BusinessMetricsService, and reflection v1 + v1alpha listing every service.
    `interceptors` run inside the mesh's own; `generic_handlers` answer what no binding
    does. With config.hub_address set, the server registers at the Hub once SERVING and
    deregisters when it stops, over a channel from `channels` (default: signed as
    `component` with the mesh secret). The service host (mesh/host.py) calls this.
    """
    # Before the server exists: its interceptors are fixed when it is created.
    configure_telemetry(config, component)
    tracer = tracer_for(component)
    if tracer is not None:
        interceptors = _after_auth(interceptors, TenantSpanInterceptor())
    metrics = metrics or BusinessMetrics(component, new_instance_id(component))
    bindings = [
        *bindings,
        bind(METRICS_SERVICE, BusinessMetricsServicer(metrics)),
    ]
    own = BusinessMetricsInterceptor(metrics, [binding.name for binding in bindings])
    server = grpc.aio.server(
        interceptors=[*mesh_interceptors(tracer), *_with_metrics(interceptors, own)],
        # gRPC sets SO_REUSEPORT by default on Linux, so a second copy of a service would
        # bind the same port silently and take half its connections; fail loudly instead.
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
            *PENDING_CALL_LIMITS,
        ],
    )
    names = [binding.name for binding in bindings]
    for binding in bindings:
        binding.register(server)
    if generic_handlers:
        # After the bindings, so the bound services win.
        server.add_generic_rpc_handlers(tuple(generic_handlers))

    health = health or MeshHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for name in (OVERALL, *names):
        await health.set(name, _NOT_SERVING)
    enable_reflection(server, [*names, HEALTH_SERVICE_NAME])

    address = join_host_port(config.host, port)
    cause: Exception | None = None
    try:
        bound = add_port(server, address, config, component)
    except RuntimeError as exc:  # grpc raises for an address in use; older versions return 0
        bound, cause = 0, exc
    if not bound:
        await server.stop(None)
        raise RuntimeError(f"{component}: cannot bind {address}") from cause
    registrar = None
    if config.hub_address:
        channels = channels or MeshChannels(component, mesh_signer(config), config)
        registrar = Registrar(
            spec=instance_spec(
                config, component, metrics.instance_id, advertised_address(config, bound)
            ),
            hub_address=config.hub_address,
            channel_factory=channels.service_channel,
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
        lifecycle=lifecycle or Lifecycle(),
        metrics=metrics,
        registrar=registrar,
        handle=handle,
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


def freeze_startup_heap() -> None:
    """Collect once and move every object alive now (imports, stores, channels: most of
    a service's heap) to the collector's permanent generation. A full collection then
    scans only what came after: Storage's took 55-75 ms with the startup heap in it,
    stalling every call in flight (GetBars p99, bench/RESULTS.md)."""
    gc.collect()
    gc.freeze()


async def serve(mesh_server: MeshServer, on_started: Callable[[], None] | None = None) -> None:
    """Start, serve until SIGTERM/SIGINT (or until something calls stop()), stop gracefully.
    `on_started` runs once the server is SERVING."""
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
            if on_started is not None:
                on_started()
            await stop_requested
        else:
            await cancel(starting)
    finally:
        await cancel(stop_requested)
        # Handlers stay installed through the graceful stop, so a second signal during
        # it (an impatient operator) cannot kill the process half-way.
        await mesh_server.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
        # The process ends next. Its interpreter's last garbage collections walk every object
        # the imports made (protobuf, SQLAlchemy, OpenTelemetry): 0.2-0.4 s per service, most
        # of each stage of an ordered stop. stop() closed all that must be closed; freezing the
        # heap at exit leaves the rest to the kernel (exit in ~20 ms). atexit: a process that
        # runs on after serve() (a test) keeps its collector.
        atexit.register(gc.freeze)
