"""One mesh per data dir: the launcher's lock on its data dir, and the free-port check."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mesh.config import MeshConfig, env_key

LOCK_NAME = "mesh.lock"


class MeshLocked(Exception):
    """Another launcher holds the data dir's lock; the message names its pid."""


class PortBusy(Exception):
    """A port the mesh would bind is taken; the message names the setting that moves it."""


@dataclass
class MeshLock:
    """An exclusive flock on `<data_dir>/mesh.lock`, held while the launcher lives.

    flock rather than a pid file: the kernel drops the lock when the holder dies, even
    by SIGKILL, so a stale file never blocks the next start. The file stays on disk
    (unlinking a lock file races with the next locker); only the lock matters, its
    text (pid, start time) is for the message a second launcher prints.
    """

    path: Path
    fd: int

    @classmethod
    def acquire(cls, data_dir: Path) -> MeshLock:
        """Lock `data_dir` without waiting; raise MeshLocked naming the holder's pid."""
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / LOCK_NAME
        # No O_TRUNC: the holder's pid must survive a failed second open.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise MeshLocked(
                f"a mesh already runs on data dir {data_dir} ({holder}); stop it first, "
                "or give this one another TICKMESH_DATA_DIR"
            ) from None
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": started}).encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases it)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> MeshLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    # The holder may be between taking the lock and writing its pid: say so.
    with contextlib.suppress(OSError, ValueError):
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
        if "pid" in holder:
            return f"pid {holder['pid']}, started {holder.get('started', '?')}"
    return "pid not yet recorded"


@dataclass(frozen=True, slots=True)
class PortClaim:
    """A port `up` will bind, and the setting that moves it."""

    what: str
    """Who binds it: a service's name, `console`, `temporal`, ..."""
    host: str
    port: int
    setting: str
    """The environment variable that moves it (TICKMESH_BRIDGE_PORT)."""


def service_claims(config: MeshConfig, services: Iterable[str]) -> list[PortClaim]:
    """The ports of `services`, as configured (0, any free port, is never claimed)."""
    return [
        PortClaim(service, config.host, config.port_of(service), env_key(f"{service}_port"))
        for service in services
        if config.port_of(service)
    ]


def check_ports(claims: Iterable[PortClaim]) -> None:
    """Raise PortBusy for the first claimed port that cannot be bound, in one line that
    names the setting: `bridge: cannot bind 127.0.0.1:50053 (in use by another program):
    set TICKMESH_BRIDGE_PORT or stop it`.

    A port of 0 (any free port) is skipped. The probe sets SO_REUSEADDR, as a server
    does, so connections still in TIME_WAIT from a mesh that just stopped do not count;
    a listening socket (a running service) does.
    """
    for claim in claims:
        if claim.port == 0:
            continue
        try:
            _probe(claim.host, claim.port)
        except OSError as exc:
            address = f"{claim.host or '*'}:{claim.port}"
            if exc.errno == errno.EADDRINUSE:
                why, fix = "in use by another program", f"set {claim.setting} or stop it"
            else:  # e.g. a port below 1024, or a host that is not this machine's
                why, fix = (exc.strerror or str(exc)).lower(), f"check {claim.setting}"
            raise PortBusy(f"{claim.what}: cannot bind {address} ({why}): {fix}") from None


def _probe(host: str, port: int) -> None:
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
