"""`tickmesh up`'s shared Redis: one store process that every service of the mesh uses."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from mesh.config import MeshConfig, as_port, env_key, join_host_port, one_of, setting
from mesh.ports import claim_port, service_ports
from mesh.side_process import SideProcess
from mesh.supervisor import describe_exit

SECTION = "shared_store"
"""The settings section: TICKMESH_SHARED_STORE_<FIELD>, [shared_store]."""

NAME = "redis"
"""How the launcher's lines, its state file and `tickmesh status` name the store."""

HOST = "127.0.0.1"  # only this machine's services use it: never on another interface
REDIS_SERVER = "redis-server"
FAKEREDIS = "fakeredis"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Which shared store `up` starts when no TICKMESH_REDIS_URL is configured."""

    server: str = setting("auto", cast=one_of("auto", REDIS_SERVER, FAKEREDIS))
    """`redis-server` (from PATH), `fakeredis`, or `auto`: redis-server when on PATH."""

    port: int = setting(0, cast=as_port)
    """Its port on 127.0.0.1; 0 picks a free one at each start."""


class StoreFailed(Exception):
    """The store could not be started; the message says why, in one line."""


def store_dir(data_dir: Path) -> Path:
    """Where the shared store keeps its files."""
    return data_dir / NAME


@dataclass
class SharedStore(SideProcess):
    """The store's process (the latest, after a restart), as mesh.supervisor's Supervised.

    Why: with no TICKMESH_REDIS_URL each service would open its own in-process
    fakeredis, so a tenant's daily quota, its stream leases and the key cache's
    invalidation would be counted per process. One store whose URL every child gets
    puts the services on the code paths they run against a production Redis.

    What: `redis-server` when on PATH, else fakeredis's TCP server (same protocol, Lua
    through `fakeredis[lua]`) in a process of its own, `python -m mesh.shared_store`.
    Both bind 127.0.0.1 only, on a free port (or TICKMESH_SHARED_STORE_PORT), and keep
    their files in `<data_dir>/redis/`: `redis.log`, and redis-server's append-only
    file. Counters outlive a mesh restart on redis-server (AOF fsynced every second,
    and on SIGTERM before it exits): an operator restarting the mesh must not hand
    every tenant a fresh daily quota. fakeredis keeps everything in memory.

    Failure: the launcher supervises it like a service (same policy, same lines): one
    that dies is started again on the same address, redis-server with its data, and
    the services' clients reconnect by themselves; one that crash-loops stops the
    mesh with its last log line. Stopping the mesh for a restartable store would turn
    a blip into an outage; not restarting it would leave every quota check failing.
    """

    server: str = REDIS_SERVER
    port: int = 0

    @property
    def service(self) -> str:
        return NAME

    @property
    def address(self) -> str:
        return join_host_port(HOST, self.port)

    @property
    def url(self) -> str:
        """The URL every service gets as TICKMESH_REDIS_URL."""
        return f"redis://{self.address}/0"

    def argv(self) -> list[str]:
        """The command that runs the store."""
        if self.server == FAKEREDIS:
            return [sys.executable, "-m", "mesh.shared_store", "--port", str(self.port)]
        return [
            shutil.which(REDIS_SERVER) or REDIS_SERVER,
            "--bind", HOST,
            "--port", str(self.port),
            "--dir", str(self.directory),
            # Durable counters: the AOF (fsync every second; on SIGTERM redis fsyncs
            # before it exits), no RDB snapshots on top of it.
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--logfile", "",  # stdout, which goes to redis.log
        ]  # fmt: skip

    async def wait_ready(self, timeout_s: float) -> None:
        """Wait until the store answers PING; raise StoreFailed if it exits or times out."""
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise StoreFailed(
                    f"{self.server} on {self.address} {describe_exit(self.process.returncode)}"
                    f" before it answered: {self.last_error() or 'no output'}"
                )
            if await ping(self.url, timeout_s=0.5):
                return
            if time.monotonic() > deadline:
                raise StoreFailed(
                    f"{self.server} on {self.address} not answering after {timeout_s:g} s"
                )
            await asyncio.sleep(0.05)  # poll interval while it boots

    def state(self) -> dict[str, Any]:
        """The store's entry in the launcher's state file (mesh.mesh_state)."""
        return {"server": self.server, "address": self.address, **super().state()}


def choose_server(setting_value: str) -> str:
    """The store to run: the setting, or for `auto` redis-server when it is on PATH."""
    if setting_value != "auto":
        return setting_value
    return REDIS_SERVER if shutil.which(REDIS_SERVER) else FAKEREDIS


async def start_store(
    config: MeshConfig,
    settings: StoreSettings,
    *,
    preexec_fn: Callable[[], None] | None = None,
    timeout_s: float = 10.0,
) -> SharedStore:
    """Start the mesh's store and wait until it answers; StoreFailed (stopped) if not."""
    server = choose_server(settings.server)
    if server == REDIS_SERVER and shutil.which(REDIS_SERVER) is None:
        raise StoreFailed(
            f"{REDIS_SERVER} is not on PATH; install it, or set "
            f"{env_key('server', SECTION)}={FAKEREDIS} (or auto)"
        )
    port = _port(settings.port, service_ports(config))
    store = SharedStore(store_dir(config.data_dir), preexec_fn, server=server, port=port)
    store.spawn()
    try:
        await store.wait_ready(timeout_s)
    except BaseException:
        store.stop()
        raise
    return store


@contextlib.asynccontextmanager
async def shared_store(
    config: MeshConfig, settings: StoreSettings, *, preexec_fn: Callable[[], None] | None = None
) -> AsyncIterator[SharedStore | None]:
    """The mesh's store while the block runs, stopped after it; None (nothing started)
    when TICKMESH_REDIS_URL names a Redis already."""
    if config.redis_url:
        yield None
        return
    store = await start_store(config, settings, preexec_fn=preexec_fn)
    try:
        yield store
    finally:
        await asyncio.to_thread(store.stop)


def store_environment(store: SharedStore | None) -> dict[str, str]:
    """What the services' environment needs to use `store`."""
    return {env_key("redis_url"): store.url} if store is not None else {}


def _port(port: int, taken: set[int]) -> int:
    try:
        return claim_port(HOST, port, taken)
    except OSError as exc:
        raise StoreFailed(
            f"port {port} (shared store) on {HOST} is not free: {exc.strerror or exc}; "
            f"free it, or set {env_key('port', SECTION)} (0 picks a free port)"
        ) from None


async def ping(url: str, timeout_s: float = 2.0) -> bool:
    """Whether the Redis at `url` answers PING within `timeout_s`."""
    # No retries: one unanswered PING is the answer (the default retries 3 times).
    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, retry=Retry(NoBackoff(), 0)
    )
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


def serve_fakeredis(port: int, host: str = HOST) -> None:
    """Run fakeredis's TCP server until SIGTERM or SIGINT (the store's process)."""
    from fakeredis import TcpFakeServer

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = TcpFakeServer((host, port))
    print(f"fakeredis listening on {join_host_port(host, port)}", flush=True)
    # serve_forever in a thread: shutdown() must come from another thread than it.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeredis", daemon=True
    )
    thread.start()
    stop.wait()
    server.shutdown()  # also ends each connection's handler thread
    server.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m mesh.shared_store --port N`: the fakeredis store process."""
    parser = argparse.ArgumentParser(prog="python -m mesh.shared_store", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    serve_fakeredis(args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
