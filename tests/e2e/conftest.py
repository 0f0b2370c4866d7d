"""A real mesh for end-to-end tests: `tickmesh up` as a subprocess on free loopback ports."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mesh.config import SERVICES

READY_LINE = "Press Ctrl-C to stop."


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (bind(0) and outgoing connections
    take their ports from it)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_PICKS = random.Random()


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports that were free a moment ago, from below the
    kernel's ephemeral range: a port picked by bind(0) and released could be handed out
    again to any process's bind(0) or outgoing connection before the mesh binds it (it
    happened: the Temporal UI took the Hub's, and once Ingestion's was taken)."""
    low = min(_ephemeral_low(), 32768)
    picked: list[int] = []
    while len(picked) < count:
        port = _PICKS.randrange(10_000, low)
        if port in picked:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use: pick another
        picked.append(port)
    return picked


@dataclass
class RunningMesh:
    """A `tickmesh up` process and where its services listen."""

    process: subprocess.Popen[str]
    ports: dict[str, int]
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    drainer: threading.Thread | None = None

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    def child_pids(self) -> list[int]:
        """Pids of the service processes the launcher started."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def log(self) -> str:
        """Everything the mesh printed so far."""
        return "".join(self.output)

    def state(self) -> dict[str, Any]:
        """The launcher's state file (pids, restarts, last exits by service)."""
        state: dict[str, Any] = json.loads((self.data_dir / "mesh.json").read_text())
        return state

    def tickmesh(self, *args: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run the installed `tickmesh` command configured as this mesh (ports, data dir)."""
        return subprocess.run(
            [str(Path(sys.executable).parent / "tickmesh"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM the launcher and wait for it; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout_s)
        self.close()
        return code

    def close(self) -> None:
        """Kill the launcher if it still runs, then release its pipe."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.drainer is not None:
            self.drainer.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _drain(self) -> None:
        # Keeps reading after ready: services log to this pipe, and a full pipe
        # would block them.
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if READY_LINE in line:
                self.ready.set()


def start_mesh(data_dir: Path, extra_env: dict[str, str] | None = None) -> RunningMesh:
    """Start `tickmesh up` and return once it prints that every service is SERVING."""
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    env = {
        **os.environ,
        "TICKMESH_DATA_DIR": str(data_dir),
        "TICKMESH_TLS_INSECURE": "true",
        "TICKMESH_LOG_FORMAT": "text",
        **{f"TICKMESH_{s.upper()}_PORT": str(p) for s, p in ports.items()},
        # Each mesh's own Temporal dev server on free ports (it starts in about a second).
        "TICKMESH_TEMPORAL_PORT": "0",
        "TICKMESH_TEMPORAL_UI_PORT": "0",
        # and its own console on a free port (the default 8080 would collide).
        "TICKMESH_CONSOLE_PORT": "0",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mesh.cli", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    mesh = RunningMesh(process, ports, data_dir, env)
    mesh.drainer = threading.Thread(target=mesh._drain, daemon=True)
    mesh.drainer.start()
    deadline = time.monotonic() + 120
    while not mesh.ready.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            mesh.close()
            raise AssertionError("tickmesh up never became ready:\n" + mesh.log())
    return mesh


@contextlib.contextmanager
def mesh_up(data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[RunningMesh]:
    """`start_mesh` for the length of a block, stopped (and checked) after it."""
    mesh = start_mesh(data_dir, extra_env)
    try:
        yield mesh
    finally:
        if mesh.process.poll() is None:
            mesh.stop()
        mesh.close()


@pytest.fixture
def running_mesh(tmp_path: Path) -> Iterator[RunningMesh]:
    """A whole mesh on embedded defaults, stopped (and checked) after the test."""
    with mesh_up(tmp_path / "data") as mesh:
        yield mesh
