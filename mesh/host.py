"""The service host: builds and runs any service from its ServiceSpec.

A service declares what is its own (a name, a settings dataclass, a build function that
returns its gRPC bindings and adds its lifecycle parts); the host puts around it what
every service shares: telemetry, signed channels to its peers, tenancy (auth, quotas,
metering), health, reflection, business metrics, Hub registration, and the order of
start and stop. Whatever a build opened is closed again when a later step fails.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc

from mesh.binding import ServiceBinding
from mesh.business_metrics import BusinessMetrics
from mesh.channels import MeshChannels, mesh_signer
from mesh.config import SERVICES, ConfigError, MeshConfig, load_config, load_settings
from mesh.health import MeshHealthServicer
from mesh.known_settings import check_known
from mesh.lifecycle import Lifecycle, Part
from mesh.logging import configure_logging
from mesh.registration import new_instance_id
from mesh.server import MeshServer, build_server, freeze_startup_heap, serve
from mesh.telemetry import configure_telemetry, shutdown_telemetry
from mesh.tenancy_stack import Tenancy, TenancyOptions, open_tenancy

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class NoSettings:
    """The settings of a service that has none of its own."""


@dataclass(frozen=True, slots=True)
class Service:
    """What a build function returns."""

    bindings: Sequence[ServiceBinding]
    """The contract services this server answers."""

    generic_handlers: Sequence[grpc.GenericRpcHandler] = ()
    """Handlers for whatever no binding answers (the Hub's proxy)."""

    handle: object = None
    """The service's domain object, kept on MeshServer.handle for tests and diagnostics."""


@dataclass(frozen=True, slots=True)
class ServiceSpec(Generic[S]):
    """One service, as the host needs to know it."""

    name: str
    """The component name: logs, metrics, Hub registration, signed identity, the default
    port (`<name>_port`) and the settings section (TICKMESH_<NAME>_*, `[<name>]`)."""

    build: Callable[[Assembly[S]], Awaitable[Service]]
    """Builds the service from its assembly: opens what it needs, adds its parts."""

    settings: type[S] = NoSettings  # type: ignore[assignment]
    """The service's own settings dataclass, declared with mesh.config.setting()."""

    async def create(
        self,
        config: MeshConfig,
        *,
        port: int | None = None,
        settings: S | None = None,
        tenancy: TenancyOptions | None = None,
    ) -> MeshServer:
        """build_service(self, ...): the server, built, not started."""
        return await build_service(self, config, port=port, settings=settings, tenancy=tenancy)


@dataclass(eq=False)
class Assembly(Generic[S]):
    """What a build function gets: the shared config, its settings, and the mesh's parts."""

    name: str
    config: MeshConfig
    settings: S
    channels: MeshChannels
    """Channels to other services, signed as this one."""
    metrics: BusinessMetrics
    health: MeshHealthServicer
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    tenancy_overrides: TenancyOptions | None = None
    _tenancy: Tenancy | None = None

    async def tenancy(self, **options: Any) -> Tenancy:
        """This server's tenancy, opened on first use with `options` (TenancyOptions'
        fields); options the host was given (tests) win. Closed when the server stops."""
        if self._tenancy is None:
            merged = TenancyOptions(**options).merged(self.tenancy_overrides)
            self._tenancy = await open_tenancy(self.config, self.channels, merged)
            self.add(Part("tenancy", stop=self._tenancy.aclose))
        return self._tenancy

    def add(self, part: Part) -> Part:
        """Add a lifecycle part: started in order before SERVING, stopped in reverse."""
        return self.lifecycle.add(part)

    def opened(self, name: str, close: Callable[[], Awaitable[None]]) -> None:
        """Record something the build just opened (a store), closed when the server stops
        or when a later step of the build fails."""
        self.lifecycle.add(Part(name, stop=close))


async def build_service(
    spec: ServiceSpec[S],
    config: MeshConfig,
    *,
    port: int | None = None,
    settings: S | None = None,
    tenancy: TenancyOptions | None = None,
) -> MeshServer:
    """Build (not start) `spec`'s server on `port` (default: `<name>_port` for the mesh's
    services, any free port for others; 0: any free).

    `settings` replaces the ones loaded from the config's sources; `tenancy` overrides
    the spec's tenancy options (tests resolve keys and receive usage themselves).
    """
    name = spec.name
    # Before any channel or server exists: instrumentation wraps what is created after.
    configure_telemetry(config, name)
    channels = MeshChannels(name, mesh_signer(config), config)
    assembly = Assembly(
        name=name,
        config=config,
        settings=settings if settings is not None else load_settings(spec.settings, config, name),
        channels=channels,
        metrics=BusinessMetrics(name, new_instance_id(name)),
        health=MeshHealthServicer(),
        tenancy_overrides=tenancy,
    )
    # First added, so stopped last: every other part may still call out while it stops.
    assembly.opened("channels", channels.aclose)
    try:
        service = await spec.build(assembly)
        tenancy_stack = await assembly.tenancy()  # the defaults, if the build opened none
        return await build_server(
            config,
            component=name,
            port=_default_port(config, name) if port is None else port,
            bindings=service.bindings,
            interceptors=tenancy_stack.server_interceptors,
            lifecycle=assembly.lifecycle,
            generic_handlers=service.generic_handlers,
            metrics=assembly.metrics,
            health=assembly.health,
            channels=channels,
            handle=service.handle,
        )
    except BaseException:
        await assembly.lifecycle.stop()
        raise


def _default_port(config: MeshConfig, name: str) -> int:
    return config.port_of(name) if name in SERVICES else 0


def run_service(spec: ServiceSpec[Any], *, skip_finalization: bool = False) -> None:
    """Entry point of `python -m servers.<svc>`: config, logging, serve; exit 0 when stopped.

    A configuration error prints one line on stderr and exits with status 2. With
    `skip_finalization`, a clean stop ends the process without the interpreter's teardown,
    for a service whose native libraries keep threads that may call into Python while it
    finalizes (a fatal error and SIGABRT, not a clean exit).
    """
    try:
        config = load_config()
        check_known(config)
    except ConfigError as exc:
        print(f"tickmesh: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(config.log_level, config.log_format, service=spec.name)

    async def main() -> None:
        # A process of its own: its startup heap can be frozen (tests serving in their
        # own process call serve() without it).
        await serve(await build_service(spec, config), on_started=freeze_startup_heap)

    try:
        asyncio.run(main())
    except ConfigError as exc:
        print(f"tickmesh: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        # The last spans and metrics out before the process ends (a no-op when off).
        shutdown_telemetry()
    if skip_finalization:
        _exit_without_finalizing()


def _exit_without_finalizing() -> None:
    """Exit 0 once every log line is out; atexit hooks and the teardown do not run."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
