"""`tickmesh up`: run every service as its own process, supervise them, stop them together.

The launcher first takes its data dir's lock and checks its ports (mesh.mesh_lock), so
a second mesh on the same data dir fails before touching anything. It owns the child
processes: it starts them, waits until each one reports SERVING over grpc.health.v1,
restarts one that exits (mesh.supervisor), records them in `<data_dir>/mesh.json`
(mesh.mesh_state), and on SIGINT/SIGTERM asks them to stop in stages, entry points
first and Storage last (mesh.stop_order; SIGTERM: the child flips its health to
NOT_SERVING, then drains), and only kills a child that overstays its grace period.
Children die with the launcher even if it is SIGKILLed (PR_SET_PDEATHSIG), so no
process is ever orphaned.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import resource
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from console.process import HOST as CONSOLE_HOST
from console.process import ConsoleFailed, ConsoleProcess, console_process
from console.settings import SECTION as CONSOLE_SECTION
from console.settings import ConsoleSettings
from mesh.config import SERVICES, ConfigError, MeshConfig, env_key, join_host_port, load_settings
from mesh.mesh_lock import (
    MeshLock,
    MeshLocked,
    PortBusy,
    PortClaim,
    check_ports,
    service_claims,
)
from mesh.mesh_state import remove_state, state_file, write_state
from mesh.ports import claim_port, service_ports
from mesh.shared_store import HOST as STORE_HOST
from mesh.shared_store import SECTION as STORE_SECTION
from mesh.shared_store import (
    SharedStore,
    StoreFailed,
    StoreSettings,
    shared_store,
    store_environment,
)
from mesh.stop_order import stop_in_order
from mesh.supervisor import SECTION as SUPERVISOR_SECTION
from mesh.supervisor import RestartPolicy, Supervisor, describe_exit, run_together
from mesh.temporal_server import HOST as TEMPORAL_HOST
from mesh.temporal_server import SECTION as TEMPORAL_SECTION
from mesh.temporal_server import (
    TemporalFailed,
    TemporalServer,
    TemporalSettings,
    temporal_environment,
    temporal_server,
)
from mesh.transport import CA_ENV, aio_channel, certs_dir, check_insecure_allowed

log = logging.getLogger("tickmesh.launcher")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # Linux only: the kernel sends SIGTERM to the child when the launcher dies.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _child_setup(nice: int) -> None:  # pragma: no cover - runs in the child
    _die_with_parent()
    if nice:
        os.nice(nice)


def check_niceness(config: MeshConfig) -> None:
    """Refuse a negative Bridge niceness this process may not give (ConfigError): only
    root, or RLIMIT_NICE, allows a priority above the default (CAP_SYS_NICE without
    either is not recognised here)."""
    nice = config.bridge_enterprise_nice
    if nice >= 0 or os.geteuid() == 0:
        return
    soft, _hard = resource.getrlimit(resource.RLIMIT_NICE)
    if soft != resource.RLIM_INFINITY and 20 - nice > soft:
        raise ConfigError(
            f"{env_key('bridge_enterprise_nice')}={nice}: a negative niceness needs root, "
            f"CAP_SYS_NICE or an RLIMIT_NICE of at least {20 - nice} (it is {soft})"
        )


def service_children(config: MeshConfig, service: str) -> list[Child]:
    """The processes `up` runs for `service`: one, or the Bridge's pools (bridge_children);
    Ingestion, every tier's upstream, at the enterprise pool's priority."""
    if service == "bridge":
        return bridge_children(config)
    nice = config.bridge_enterprise_nice if service == "ingestion" else 0
    return [Child(service, config.address_of(service), nice=nice)]


def bridge_children(config: MeshConfig) -> list[Child]:
    """One child per Bridge process of `config.bridges` (mesh.tier_pools): the first on
    bridge_port (the address the other services and the demo use), the others on free
    ports, each registering with the Hub, which routes every tenant to its tier's pool.
    Pools run at a niceness by their richest tier (Pool.niceness): on a busy machine the
    enterprise pool gets the CPU first and free-only pools last."""
    children: list[Child] = []
    avoid = service_ports(config)
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
    for pool in config.bridges:
        for _ in range(pool.processes):
            env: dict[str, str] = {}
            if pool.pooled:
                ranked = sorted(pool.tiers, key=lambda t: t.rank, reverse=True)
                env[env_key("instance_pool")] = ",".join(t.value for t in ranked)
            nice = pool.niceness(config.bridge_pool_nice, config.bridge_enterprise_nice)
            if not children:
                address = config.address_of("bridge")
            else:
                port = claim_port(config.host, 0, avoid)
                env[env_key("bridge_port")] = str(port)
                address = join_host_port(host, port)
            name = f"bridge-{len(children) + 1}" if children else "bridge"
            children.append(Child(name, address, "bridge", env, nice))
    return children


_TAIL_LINES = 20
"""Lines of each child's stderr kept in memory, for the error of a child that fails."""

_print_lock = threading.Lock()


def say(line: str) -> None:
    """Print one line on the launcher's stderr, whole even among the children's lines."""
    with _print_lock:
        sys.stderr.write(line if line.endswith("\n") else line + "\n")
        sys.stderr.flush()


@dataclass
class Child:
    """One service process (the latest, after a restart) and its record."""

    service: str
    """Its name in the mesh: the service, or `bridge-2` for a further Bridge process."""
    address: str
    module: str = ""
    """The service it runs (`python -m servers.<module>`); empty: `service`."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Settings of its own over the mesh's environment (a further Bridge's port and pool)."""
    nice: int = 0
    """Niceness it starts with (a Bridge pool serving no enterprise tenant)."""
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    started_at: float = 0.0
    restarts: int = 0
    last_exit: str | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=_TAIL_LINES))
    forwarder: threading.Thread | None = None

    def last_error(self) -> str:
        """The last non-blank line the child printed on stderr (its exception, when
        it died of one), once its output is read to the end."""
        if self.forwarder is not None:
            self.forwarder.join(timeout=2)
        lines = [line.strip() for line in self.tail if line.strip()]
        return lines[-1] if lines else ""


def _forward(pipe: IO[bytes], tail: deque[str]) -> None:
    # The child's stderr passes through the launcher so that its last lines are at
    # hand when it dies; a thread per child, since the pipe must be drained at all
    # times (a full pipe blocks the child's logging).
    with pipe:
        for raw in pipe:
            line = raw.decode(errors="replace")
            tail.append(line)
            # Our own stderr closed (a pager quit): keep draining, or the child blocks.
            with contextlib.suppress(OSError):
                say(line)


@dataclass
class Mesh:
    """The running set of service processes."""

    config: MeshConfig
    children: list[Child] = field(default_factory=list)
    env: Mapping[str, str] = field(default_factory=dict)
    started: str = ""
    store: SharedStore | None = None
    """The shared Redis `up` started for its services (mesh.shared_store), if any."""
    temporal: TemporalServer | None = None
    """The Temporal dev server `up` started for the Workflow service, if any."""
    console: ConsoleProcess | None = None
    """The web console (console/), once the services serve; None if it could not start."""

    def start(self, services: Sequence[str], env: Mapping[str, str]) -> None:
        """Spawn one `python -m servers.<service>` per service."""
        self.env = env
        self.started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for service in services:
            for child in service_children(self.config, service):
                self.spawn(child)
                self.children.append(child)
        self.write_state()

    def spawn(self, child: Child) -> None:
        """Start (or start again) `child`'s process.

        Must run on the launcher's main thread: PR_SET_PDEATHSIG fires when the
        thread that forked the child ends, not the process.
        """
        module = child.module or child.service
        child.process = subprocess.Popen(
            [sys.executable, "-m", f"servers.{module}"],
            env={**self.env, **child.env, "TICKMESH_COMPONENT": module},
            stderr=subprocess.PIPE,
            preexec_fn=functools.partial(_child_setup, child.nice),
            # Own session: Ctrl-C in a terminal (or `timeout`) signals the launcher's
            # process group only, and the launcher signals each child exactly once.
            start_new_session=True,
        )
        child.started_at = time.monotonic()
        child.tail = deque(maxlen=_TAIL_LINES)
        assert child.process.stderr is not None
        child.forwarder = threading.Thread(
            target=_forward,
            args=(child.process.stderr, child.tail),
            name=f"{child.service}-stderr",
            daemon=True,
        )
        child.forwarder.start()

    def state(self) -> dict[str, Any]:
        """The launcher's state file (see mesh.mesh_state)."""
        return {
            "launcher_pid": os.getpid(),
            "started": self.started,
            "services": {
                c.service: {
                    "pid": c.process.pid if c.process else None,
                    "address": c.address,
                    "restarts": c.restarts,
                    "last_exit": c.last_exit,
                }
                for c in self.children
            },
            "store": self.store.state() if self.store else None,
            "temporal": self.temporal.state() if self.temporal else None,
            "console": self.console.state() if self.console else None,
        }

    def write_state(self) -> None:
        """Replace the state file with the children as they are now."""
        write_state(state_file(self.config.data_dir), self.state())

    async def wait_serving(self, timeout_s: float) -> None:
        """Wait until every child reports SERVING; raise if one dies or times out."""
        await asyncio.wait_for(
            asyncio.gather(*(self.wait_one(c) for c in self.children)), timeout_s
        )

    async def wait_one(self, child: Child) -> None:
        """Wait until `child` reports SERVING; raise if it exits first."""
        async with aio_channel(child.address, self.config) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                assert child.process is not None
                if child.process.poll() is not None:
                    error = child.last_error()
                    raise RuntimeError(
                        f"{child.service} {describe_exit(child.process.returncode)} "
                        "before it was ready" + (f": {error}" if error else "")
                    )
                with contextlib.suppress(grpc.aio.AioRpcError):
                    reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                await asyncio.sleep(0.1)  # poll interval while the child boots

    def stop(self, grace_s: float) -> list[Child]:
        """Stop the children in STOP_STAGES' order (mesh.stop_order): SIGTERM a stage,
        SIGKILL what outlives its grace period, then the next stage."""
        stop_in_order(self.children, grace_s)
        for child in self.children:
            if child.forwarder is not None:
                child.forwarder.join(timeout=2)  # their last lines before ours
        return self.children


def mesh_environment(config: MeshConfig, env: Mapping[str, str]) -> dict[str, str]:
    """The children's environment: the given one, the Hub to register with, and the
    secrets they must share.

    With no mesh secret or operator key configured, `up` makes fresh ones for this run.
    The operator key is written (mode 0600) to data_dir/operator.key for the CLI to
    use; neither is ever printed. Call it only while holding the data dir's lock: the
    key file belongs to the mesh that holds it.
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


def _prepare_tls(config: MeshConfig) -> None:
    """Refuse plaintext off loopback; create the CA and certificates on first start and
    say where the CA is (clients need it, it is not a secret)."""
    check_insecure_allowed(config)
    if config.tls_insecure:  # asked for, on loopback: nothing to prepare or say
        return
    certs = certs_dir(config)
    hosts = [config.host] if config.host not in ("0.0.0.0", "::", "") else []
    if certs.ensure(hosts):
        say(f"tickmesh up: created the mesh CA and service certificates in {certs.path}")
    say(f"tickmesh up: TLS on; clients trust the CA {certs.ca} (--ca, {CA_ENV})")


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
    """Start the mesh, report it, and supervise it until SIGINT/SIGTERM; the exit code.

    Before anything else, one mesh per data dir: the data dir's lock, then the ports.
    A second `up` fails there with one line and has touched nothing of the first.
    """
    try:
        lock = MeshLock.acquire(config.data_dir)
    except MeshLocked as exc:
        print(f"tickmesh up: {exc}", file=sys.stderr)
        return 1
    with lock:
        try:
            policy = load_settings(RestartPolicy, config, SUPERVISOR_SECTION)
            store_settings = load_settings(StoreSettings, config, STORE_SECTION)
            claims = port_claims(config, services, store_settings)
            check_niceness(config)
        except ConfigError as exc:
            print(f"tickmesh up: configuration error: {exc}", file=sys.stderr)
            return 2
        try:
            check_ports(claims)
        except PortBusy as exc:
            print(f"tickmesh up: {exc}", file=sys.stderr)
            return 1
        try:
            _prepare_tls(config)
        except ConfigError as exc:
            print(f"tickmesh up: {exc}", file=sys.stderr)
            return 2
        try:
            # The store and Temporal outlive the services: started before them, stopped
            # after them. Temporal only when the Workflow service runs.
            async with (
                shared_store(config, store_settings, preexec_fn=_die_with_parent) as store,
                temporal_server(
                    config, preexec_fn=_die_with_parent, wanted="workflow" in services
                ) as temporal,
            ):
                return await _run_locked(
                    config,
                    services,
                    {
                        **(env if env is not None else os.environ),
                        **store_environment(store),
                        **temporal_environment(temporal),
                    },
                    policy,
                    on_ready,
                    ready_timeout_s,
                    Mesh(config, store=store, temporal=temporal),
                )
        except StoreFailed as exc:
            print(f"tickmesh up: shared store: {exc}", file=sys.stderr)
            return 1
        except TemporalFailed as exc:
            print(f"tickmesh up: temporal: {exc}", file=sys.stderr)
            return 1
        except ConfigError as exc:
            print(f"tickmesh up: configuration error: {exc}", file=sys.stderr)
            return 2
        finally:
            remove_state(state_file(config.data_dir))


def port_claims(
    config: MeshConfig, services: Sequence[str], store: StoreSettings
) -> list[PortClaim]:
    """Every fixed port `up` will bind: the services', and those of the processes it runs
    beside them (console, shared store, Temporal), so a taken one stops `up` before it
    starts anything, in one line naming its setting."""
    claims = service_claims(config, services)
    console = load_settings(ConsoleSettings, config, CONSOLE_SECTION)
    setting = env_key("port", CONSOLE_SECTION)
    claims.append(PortClaim("console", CONSOLE_HOST, console.port, setting))
    if not config.redis_url:
        setting = env_key("port", STORE_SECTION)
        claims.append(PortClaim("shared store", STORE_HOST, store.port, setting))
    temporal = load_settings(TemporalSettings, config, TEMPORAL_SECTION)
    if "workflow" in services and not temporal.address:
        for what, port, name in (("temporal", temporal.port, "port"),
                                 ("temporal UI", temporal.ui_port, "ui_port")):  # fmt: skip
            claims.append(PortClaim(what, TEMPORAL_HOST, port, env_key(name, TEMPORAL_SECTION)))
    return claims


async def _run_locked(
    config: MeshConfig,
    services: Sequence[str],
    env: Mapping[str, str],
    policy: RestartPolicy,
    on_ready: Callable[[Mesh], object] | None,
    ready_timeout_s: float,
    mesh: Mesh,
) -> int:
    store = mesh.store
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    mesh.start(services, mesh_environment(config, env))
    supervisor: asyncio.Future[None] | None = None
    try:
        ready = asyncio.ensure_future(mesh.wait_serving(ready_timeout_s))
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if ready in done:
            ready.result()  # raises if a child died or timed out
            # Watching starts before the demo: a child dying meanwhile is restarted too.
            supervisors = [
                Supervisor(
                    mesh.children,
                    spawn=mesh.spawn,
                    serving=lambda c: asyncio.wait_for(mesh.wait_one(c), ready_timeout_s),
                    changed=mesh.write_state,
                    say=lambda line: say(f"tickmesh up: {line}"),
                    policy=policy,
                ).run()
            ]
            mesh.console = await _start_console(mesh)
            # Side processes restart like a service; one crash-looping stops the mesh.
            for side in (p for p in (store, mesh.temporal, mesh.console) if p is not None):
                supervisors.append(
                    side.supervisor(
                        changed=mesh.write_state,
                        say=lambda line: say(f"tickmesh up: {line}"),
                        policy=policy,
                    ).run()
                )
            supervisor = asyncio.ensure_future(run_together(*supervisors))
            if on_ready is not None:
                result = on_ready(mesh)
                if asyncio.iscoroutine(result):
                    await result
            await asyncio.wait({stopped, supervisor}, return_when=asyncio.FIRST_COMPLETED)
            if supervisor.done():
                supervisor.result()  # raises CrashLoop
        else:
            ready.cancel()
    except Exception as exc:  # a child failed to start or crash-looped: stop, exit non-zero
        await _stop(mesh, supervisor, config.grace_seconds)
        say(f"tickmesh up: {exc}; the mesh is stopped")
        return 1
    children = await _stop(mesh, supervisor, config.grace_seconds)
    failed = [c for c in children if c.exit_code not in (0, None)]
    for child in failed:
        say(f"tickmesh up: {child.service} {describe_exit(child.exit_code or 0)}")
    return 1 if failed else 0


async def _start_console(mesh: Mesh) -> ConsoleProcess | None:
    # The console is a window on the mesh, not part of it: one that cannot start (its
    # port taken) is reported in one line and the mesh runs on without it.
    console: ConsoleProcess | None = None
    try:
        console = console_process(mesh.config, mesh.env, _die_with_parent)
        console.spawn()
        await console.wait_ready(15.0)
    except (ConsoleFailed, ConfigError, OSError) as exc:
        say(f"tickmesh up: console not started: {exc}")
        if console is not None:
            await asyncio.to_thread(console.stop)
        return None
    mesh.write_state()
    return console


async def _stop(mesh: Mesh, supervisor: asyncio.Future[None] | None, grace_s: float) -> list[Child]:
    # The supervisor first: a child exiting because it was told to is not restarted.
    if supervisor is not None:
        supervisor.cancel()
        await asyncio.gather(supervisor, return_exceptions=True)
    if mesh.console is not None:  # the console first: it only reads the services
        await asyncio.to_thread(mesh.console.stop)
    return await asyncio.to_thread(mesh.stop, grace_s)


async def health_of(address: str, timeout_s: float = 2.0, config: MeshConfig | None = None) -> str:
    """The overall health of the server at `address`, or UNREACHABLE. With `config`, over
    the mesh's transport (TLS trusting its CA); without, plaintext."""
    config = config if config is not None else MeshConfig(tls_insecure=True)
    async with aio_channel(address, config) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.aio.AioRpcError as err:
            return "UNREACHABLE" if err.code() == grpc.StatusCode.UNAVAILABLE else err.code().name
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
