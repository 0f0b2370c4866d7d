"""`tickmesh up`: run every service as its own process and stop them together.

The launcher owns the child processes: it starts them, waits until each one
reports SERVING over grpc.health.v1, and on SIGINT/SIGTERM asks each to stop
(SIGTERM: the child flips its health to NOT_SERVING, then drains) and only
kills a child that overstays its grace period. Children die with the launcher
even if it is SIGKILLed (PR_SET_PDEATHSIG), so no process is ever orphaned.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mesh.config import SERVICES, MeshConfig

log = logging.getLogger("tickmesh.launcher")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # Linux only: the kernel sends SIGTERM to the child when the launcher dies.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One service process."""

    service: str
    address: str
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None


@dataclass
class Mesh:
    """The running set of service processes."""

    config: MeshConfig
    children: list[Child] = field(default_factory=list)

    def start(self, services: Sequence[str], env: Mapping[str, str]) -> None:
        """Spawn one `python -m servers.<service>` per service."""
        for service in services:
            child = Child(service, self.config.address_of(service))
            child.process = subprocess.Popen(
                [sys.executable, "-m", f"servers.{service}"],
                env={**env, "TICKMESH_COMPONENT": service},
                preexec_fn=_die_with_parent,
                # Own session: Ctrl-C in a terminal (or `timeout`) signals the launcher's
                # process group only, and the launcher signals each child exactly once.
                start_new_session=True,
            )
            self.children.append(child)

    async def wait_serving(self, timeout_s: float) -> None:
        """Wait until every child reports SERVING; raise if one dies or times out."""
        await asyncio.wait_for(
            asyncio.gather(*(self._wait_one(c) for c in self.children)), timeout_s
        )

    async def _wait_one(self, child: Child) -> None:
        async with grpc.aio.insecure_channel(child.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                assert child.process is not None
                if child.process.poll() is not None:
                    raise RuntimeError(
                        f"{child.service} exited with code {child.process.returncode} "
                        "before it was ready (see its log above)"
                    )
                with contextlib.suppress(grpc.aio.AioRpcError):
                    reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                await asyncio.sleep(0.1)  # poll interval while the child boots

    def stop(self, grace_s: float) -> list[Child]:
        """SIGTERM every child, then SIGKILL any still alive after the grace period."""
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in self.children:
            if not child.process:
                continue
            try:
                child.exit_code = child.process.wait(timeout=grace_s + 2)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.service)
                child.process.kill()
                child.exit_code = child.process.wait()
        return self.children


def mesh_environment(config: MeshConfig, env: Mapping[str, str]) -> dict[str, str]:
    """The children's environment: the given one, the Hub to register with, and the
    secrets they must share.

    With no mesh secret or operator key configured, `up` makes fresh ones for this run.
    The operator key is written (mode 0600) to data_dir/operator.key for the CLI to
    use; neither is ever printed.
    """
    out = dict(env)
    if not config.hub_address:  # every service registers with this mesh's Hub
        out["TICKMESH_HUB_ADDRESS"] = config.address_of("hub")
    if not config.mesh_secret:
        out["TICKMESH_MESH_SECRET"] = secrets.token_urlsafe(32)
    if not config.admin_key:
        out["TICKMESH_ADMIN_KEY"] = "op_" + secrets.token_urlsafe(32)
    key_file = operator_key_file(config)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(config.admin_key or out["TICKMESH_ADMIN_KEY"])
    return out


def operator_key_file(config: MeshConfig) -> Path:
    """Where `tickmesh up` leaves the operator key of the running mesh."""
    return config.data_dir / "operator.key"


async def run_up(
    config: MeshConfig,
    services: Sequence[str] = SERVICES,
    *,
    env: Mapping[str, str] | None = None,
    on_ready: Callable[[Mesh], object] | None = None,
    ready_timeout_s: float = 120.0,
) -> int:
    """Start the mesh, report it, and run until SIGINT/SIGTERM; return the exit code."""
    mesh = Mesh(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    mesh.start(services, mesh_environment(config, env if env is not None else os.environ))
    try:
        ready = asyncio.ensure_future(mesh.wait_serving(ready_timeout_s))
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if ready in done:
            ready.result()  # raises if a child died or timed out
            if on_ready is not None:
                result = on_ready(mesh)
                if asyncio.iscoroutine(result):
                    await result
            await stopped
        else:
            ready.cancel()
    except Exception as exc:  # a child failed to start: stop the rest, exit non-zero
        print(f"tickmesh up: {exc}", file=sys.stderr)
        await asyncio.to_thread(mesh.stop, config.grace_seconds)
        return 1
    children = await asyncio.to_thread(mesh.stop, config.grace_seconds)
    failed = [c for c in children if c.exit_code not in (0, None)]
    for child in failed:
        print(f"tickmesh up: {child.service} exited with {child.exit_code}", file=sys.stderr)
    return 1 if failed else 0


async def health_of(address: str, timeout_s: float = 2.0) -> str:
    """The overall health of the server at `address`, or UNREACHABLE."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.aio.AioRpcError as err:
            return "UNREACHABLE" if err.code() == grpc.StatusCode.UNAVAILABLE else err.code().name
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
