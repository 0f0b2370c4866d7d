"""`tickmesh doctor`: what the mesh and its tests need, one line per check with its fix."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from mesh.config import SERVICES, MeshConfig
from mesh.transport import certs_dir
from tickmesh_cli.backing_hints import postgres_fix, redis_fix

TEST_POSTGRES_URL = os.environ.get(
    "TICKMESH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TEST_REDIS_URL = os.environ.get("TICKMESH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MIN_PYTHON = (3, 11)
MIN_NODE = 20


@dataclass(frozen=True, slots=True)
class Check:
    """One check's outcome: what was checked, what was found, and the fix when it failed."""

    name: str
    ok: bool
    found: str
    fix: str = ""

    def line(self) -> str:
        """`ok   name: found` or `FAIL name: found -> fix`."""
        fix = f" -> {self.fix}" if not self.ok and self.fix else ""
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.found}{fix}"


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] >= MIN_PYTHON
    return Check("python", ok, f"{version} ({sys.executable})",
                 "install Python 3.11+ and run `make install` again")  # fmt: skip


def check_node() -> Check:
    fix = f"install Node {MIN_NODE}+ with npm (https://nodejs.org), then `make install`"
    node = shutil.which("node")
    if node is None:
        return Check("node", False, "not on PATH", fix)
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout
    match = re.match(r"v(\d+)", out.strip())
    ok = match is not None and int(match.group(1)) >= MIN_NODE
    return Check("node", ok, f"{out.strip() or 'unknown version'} ({node})", fix)


def check_ports(config: MeshConfig) -> list[Check]:
    """Each service's port is free to bind (a running mesh holds them: that is fine too)."""
    checks = []
    for service in SERVICES:
        port = config.port_of(service)
        if port == 0:
            continue
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((config.host, port))
            except OSError as exc:
                checks.append(Check(
                    f"port {service}", False, f"{port} in use ({exc.strerror})",
                    f"stop what holds it (a mesh already up? `tickmesh status`), or set "
                    f"TICKMESH_{service.upper()}_PORT",
                ))  # fmt: skip
                continue
        checks.append(Check(f"port {service}", True, f"{port} free"))
    return checks


def _redact(url: str) -> str:
    return re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)


async def _postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=3)
    await conn.close()


async def _redis(url: str) -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        await client.ping()
    finally:
        await client.aclose()


def check_postgres(url: str = TEST_POSTGRES_URL) -> Check:
    return _reachable("postgresql (tests)", url, _postgres, lambda exc: postgres_fix(url, exc))


def check_redis(url: str) -> Check:
    def fix(_exc: BaseException) -> str:
        return redis_fix(url) + " (or TICKMESH_REDIS_URL, for the mesh)"

    return _reachable("redis", url, _redis, fix)


def _reachable(
    name: str, url: str, connect: Callable[[str], object], fix: Callable[[BaseException], str]
) -> Check:
    try:
        asyncio.run(connect(url))  # type: ignore[arg-type]
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Check(name, False, f"{_redact(url)} unreachable ({reason})", fix(exc))
    return Check(name, True, f"{_redact(url)} reachable")


def check_data_dir(config: MeshConfig) -> Check:
    directory = config.data_dir
    fix = f"make {directory} writable, or set TICKMESH_DATA_DIR to a directory you own"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory):
            pass
    except OSError as exc:
        return Check("data dir", False, f"{directory} not writable ({exc.strerror})", fix)
    return Check("data dir", True, f"{directory} writable")


def check_chdb() -> Check:
    fix = "reinstall the package: `make install` (clickhouse-connect[chdb])"
    try:
        import chdb

        version = str(chdb.query("SELECT version()", "CSV")).strip().strip('"')
    except Exception as exc:
        return Check("chdb", False, f"does not load ({type(exc).__name__}: {exc})", fix)
    return Check("chdb", True, f"loads (ClickHouse {version})")


def check_certs(config: MeshConfig) -> Check:
    """The mesh's certificates, when `up` has made them (before that, nothing to check)."""
    certs = certs_dir(config)
    if not certs.ca.exists():
        return Check("certs", True, f"none yet in {certs.path} (`tickmesh up` creates them)")
    found = certs.problems()
    if found:
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        fix = "`tickmesh certs rotate` (new leaves, same CA); `tickmesh certs show` lists them"
        return Check("certs", False, found[0] + more, fix)
    return Check("certs", True, f"CA and {len(certs.names())} leaves valid in {certs.path}")


def run_checks(config: MeshConfig) -> list[Check]:
    """Every check, in the order a new user would fix them."""
    return [
        check_python(),
        check_node(),
        *check_ports(config),
        check_postgres(),
        check_redis(config.redis_url or TEST_REDIS_URL),
        check_data_dir(config),
        check_certs(config),
        check_chdb(),
    ]


def cmd_doctor(config: MeshConfig, _args: object) -> int:
    """Print one line per check; 1 when any failed."""
    checks = run_checks(config)
    for check in checks:
        print(check.line(), flush=True)
    failed = [c.name for c in checks if not c.ok]
    print(f"{len(failed)} of {len(checks)} checks failed: {', '.join(failed)}" if failed
          else f"all {len(checks)} checks passed")  # fmt: skip
    return 1 if failed else 0
