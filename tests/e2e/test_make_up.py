"""Issue 15, item 10: `make up` in a terminal, as the README has a user run it.

A real `make up` on a pseudo-terminal (its controlling terminal, so Ctrl-C is the
terminal's SIGINT to its foreground group, as when a user presses it): a clean start
logs no warning about a peer not being reachable yet; Ctrl-C, and SIGTERM to `up`, end
with exit 0 from make; a second `up` on the same data dir shows the same three demo
companies and keys instead of adding three more.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import select
import signal
import subprocess
import sys
import termios
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.config import SERVICES
from tests.e2e.conftest import READY_LINE, free_ports

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CTRL_C = b"\x03"
DEMO_LINE = re.compile(r"^\s+(free|pro|enterprise)\s+company (\w+)\s+key (\S+)$", re.MULTILINE)
RACE = re.compile(r"unreachable|unavailable|reconnecting|retrying|failed to connect", re.I)
"""What a service says about a peer it cannot reach: a start must not say it at WARNING."""


class MakeUp:
    """`make up` with a pseudo-terminal as its controlling terminal and stdin/out/err."""

    def __init__(self, env: dict[str, str]) -> None:
        self.master, slave = os.openpty()

        def controlling_terminal() -> None:  # in the child: a session whose terminal it is
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen(
            ["make", "up"], cwd=REPO, env=env, stdin=slave, stdout=slave, stderr=slave,
            preexec_fn=controlling_terminal,
        )  # fmt: skip
        os.close(slave)
        self.output = bytearray()
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        # Drained all the time: a full terminal buffer would block the mesh's logging.
        while True:
            readable, _, _ = select.select([self.master], [], [], 1)
            if not readable:
                if self.process.poll() is not None:
                    return
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every process holding the terminal has exited
                return
            if not chunk:
                return
            self.output += chunk
            if READY_LINE.encode() in self.output:
                self.ready.set()

    def log(self) -> str:
        return self.output.decode(errors="replace").replace("\r\n", "\n")

    def wait_ready(self, timeout_s: float = 150) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError("make up never became ready:\n" + self.log())

    def wait(self, timeout_s: float = 60) -> int:
        code = self.process.wait(timeout=timeout_s)
        self.reader.join(timeout=10)
        os.close(self.master)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def demo_tenants(log: str) -> dict[str, tuple[str, str]]:
    """Tier -> (company id, key) of the demo tenants `up` printed."""
    found = {tier: (company, key) for tier, company, key in DEMO_LINE.findall(log)}
    assert set(found) == {"free", "pro", "enterprise"}, log
    return found


def race_warnings(log: str) -> list[str]:
    """The WARNING (or worse) lines of the services' JSON log about an unreachable peer."""
    lines = []
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record["level"] in ("WARNING", "ERROR", "CRITICAL") and RACE.search(record["msg"]):
            lines.append(line)
    return lines


async def companies(env: dict[str, str], data_dir: Path) -> list[str]:
    """Every company's name, as the operator lists them."""
    key = (data_dir / "operator.key").read_text().strip()
    address = f"127.0.0.1:{env['TICKMESH_STORAGE_PORT']}"
    # `make up` runs as a user's would: on TLS, trusting the CA it made in the data dir.
    trust = grpc.ssl_channel_credentials((data_dir / "certs" / "ca.pem").read_bytes())
    async with grpc.aio.secure_channel(
        address, trust, interceptors=api_key_interceptors(key)
    ) as ch:
        reply = await storage_pb2_grpc.StorageServiceStub(ch).ListCompanies(
            storage_pb2.ListCompaniesRequest(page_size=1000), timeout=30
        )
    return [company.name for company in reply.companies]


def test_make_up_ends_with_0_on_ctrl_c_and_sigterm_and_keeps_its_demo_tenants(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TICKMESH_", "MAKE"))},
        # make resolves .venv/bin/tickmesh itself; PATH as a fresh shell has it
        "PATH": os.pathsep.join(
            p for p in os.environ["PATH"].split(os.pathsep) if p != str(Path(sys.executable).parent)
        ),
        "TICKMESH_DATA_DIR": str(data_dir),
        **{f"TICKMESH_{s.upper()}_PORT": str(p) for s, p in ports.items()},
        "TICKMESH_CONSOLE_PORT": "0",
        "TICKMESH_TEMPORAL_PORT": "0",
        "TICKMESH_TEMPORAL_UI_PORT": "0",
    }

    first = MakeUp(env)
    try:
        first.wait_ready()
        tenants = demo_tenants(first.log())
        os.write(first.master, CTRL_C)
        code = first.wait()
    finally:
        first.kill()
    log = first.log()
    assert code == 0, log[-3000:]
    assert "make: ***" not in log, log[-3000:]
    # A clean start: services that came up before their peers said so at INFO at most.
    assert race_warnings(log) == [], "\n".join(race_warnings(log))

    second = MakeUp(env)
    try:
        second.wait_ready()
        assert demo_tenants(second.log()) == tenants  # the same companies, the same keys
        # On a thread of its own: asyncio.run here would leave this (main) thread without
        # an event loop, and later tests' fixtures that ask for one would fail.
        with ThreadPoolExecutor(1) as pool:
            names = pool.submit(asyncio.run, companies(env, data_dir)).result()
        assert sorted(names) == ["Demo Enterprise Ltd", "Demo Free Ltd", "Demo Pro Ltd"]
        launcher = json.loads((data_dir / "mesh.json").read_text())["launcher_pid"]
        os.kill(launcher, signal.SIGTERM)  # as a service manager stops `up`
        code = second.wait()
    finally:
        second.kill()
    assert code == 0, second.log()[-3000:]
    assert race_warnings(second.log()) == [], "\n".join(race_warnings(second.log()))
