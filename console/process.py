"""The console as one more process `tickmesh up` runs beside the services: started once
they serve, restarted like them (mesh.side_process), stopped with them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from console.settings import SECTION, ConsoleSettings
from mesh.config import MeshConfig, env_key, load_settings
from mesh.ports import claim_port, service_ports
from mesh.side_process import SideProcess
from mesh.supervisor import describe_exit

HOST = "127.0.0.1"


class ConsoleFailed(RuntimeError):
    """The console did not start (one line saying why)."""


@dataclass
class ConsoleProcess(SideProcess):
    """`python -m console` on a fixed loopback port (a restart keeps its URL)."""

    port: int = 0
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def service(self) -> str:
        return "console"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "console"]

    def spawn(self) -> None:
        # As SideProcess.spawn, with the mesh's environment (ports, operator key).
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv(),
                env={**self.env, env_key("port", SECTION): str(self.port)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self.preexec_fn,
                start_new_session=True,
            )
        self.started_at = time.monotonic()

    async def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                error = self.last_error()
                raise ConsoleFailed(
                    f"console on port {self.port} {describe_exit(self.process.returncode)}"
                    + (f": {error}" if error else "")
                )
            try:
                _, writer = await asyncio.open_connection(HOST, self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise ConsoleFailed(f"console not listening on port {self.port}") from None
                await asyncio.sleep(0.1)  # poll interval while uvicorn starts
                continue
            writer.close()
            return

    def state(self) -> dict[str, Any]:
        return {"url": self.url, **super().state()}


def console_process(
    config: MeshConfig, env: Mapping[str, str], preexec_fn: Any = None
) -> ConsoleProcess:
    """The console for this mesh, its port fixed now (0 in the settings: a free one)."""
    settings = load_settings(ConsoleSettings, config, SECTION)
    return ConsoleProcess(
        directory=config.data_dir / "console",
        preexec_fn=preexec_fn,
        port=settings.port or claim_port(HOST, 0, service_ports(config)),
        env=env,
    )
