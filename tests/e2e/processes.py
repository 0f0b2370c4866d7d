"""Services as real processes for end-to-end tests: start, SIGKILL, restart, each on its port.

Unlike `tickmesh up`, every service here is its own subprocess the test controls, so a
test can kill one with SIGKILL mid-stream and bring it back on the same port and data.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.e2e.conftest import free_ports

SERVICES = ("hub", "ingestion", "bridge", "storage", "billing")


@dataclass
class ServiceProcesses:
    """A set of service processes sharing one configuration (ports, secrets, data dir)."""

    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    operator_key: str = field(default_factory=lambda: "op_" + secrets.token_urlsafe(24))
    mesh_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def __post_init__(self) -> None:
        self.ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TICKMESH_DATA_DIR": str(self.data_dir),
            "TICKMESH_TLS_INSECURE": "true",
            "TICKMESH_MESH_SECRET": self.mesh_secret,
            "TICKMESH_ADMIN_KEY": self.operator_key,
            "TICKMESH_LOG_FORMAT": "text",
            **{f"TICKMESH_{s.upper()}_PORT": str(p) for s, p in self.ports.items()},
            **self.extra_env,
        }

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    def log_path(self, service: str) -> Path:
        return self.data_dir / f"{service}.log"

    def log(self, service: str) -> str:
        return self.log_path(service).read_text(errors="replace")

    def start(self, service: str, timeout_s: float = 60.0, *, name: str | None = None) -> None:
        """Start `service` and wait until it reports SERVING.

        `name` runs another instance of the service (e.g. a second Bridge) on a port of
        its own; the instance is then known by that name to every other method here.
        """
        name = name or service
        env = self.env()
        if name != service:
            if name not in self.ports:
                self.ports[name] = free_ports(1)[0]
            env[f"TICKMESH_{service.upper()}_PORT"] = str(self.ports[name])
        with self.log_path(name).open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"servers.{service}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_serving(name, timeout_s)

    def wait_serving(self, service: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        with grpc.insecure_channel(self.address(service)) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.processes[service].poll() is not None:
                    raise AssertionError(f"{service} exited early:\n{self.log(service)[-3000:]}")
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)  # bounded poll while the process boots
        raise AssertionError(f"{service} not SERVING in {timeout_s}s:\n{self.log(service)[-3000:]}")

    def kill(self, service: str) -> None:
        """SIGKILL `service`: no graceful stop, no flush, as a crash."""
        process = self.processes[service]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, service: str, timeout_s: float = 15.0) -> int:
        """SIGTERM `service` and wait; its exit code."""
        process = self.processes[service]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        return process.wait(timeout=timeout_s)

    def stop_all(self) -> None:
        for service in reversed(list(self.processes)):
            try:
                self.stop(service)
            except subprocess.TimeoutExpired:
                self.processes[service].kill()
                self.processes[service].wait()
