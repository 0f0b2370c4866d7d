"""A process `tickmesh up` runs beside the services (the shared Redis, Temporal):
started with its output in a log file, supervised like a service, stopped after them."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh.supervisor import RestartPolicy, Supervisor

STOP_TIMEOUT_S = 10.0


@dataclass
class SideProcess:
    """One side process (the latest, after a restart), as mesh.supervisor's Supervised.

    Subclasses name it and say how to run it (`argv`) and when it is ready (`wait_ready`).
    """

    directory: Path
    preexec_fn: Callable[[], None] | None = None
    """Runs in the child before exec (the launcher's: die with the launcher)."""
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    last_exit: str | None = None

    @property
    def service(self) -> str:
        """Its name in the launcher's lines, its state file and `tickmesh status`."""
        raise NotImplementedError

    @property
    def log_file(self) -> Path:
        return self.directory / f"{self.service}.log"

    def argv(self) -> list[str]:
        """The command that runs it."""
        raise NotImplementedError

    async def wait_ready(self, timeout_s: float) -> None:
        """Return once it answers; raise (with one line saying why) if it exits or times out."""
        raise NotImplementedError

    def spawn(self) -> None:
        """Start (or start again) the process, on the same ports and files.

        Called on the launcher's main thread, as the services' spawns are: the
        preexec's PR_SET_PDEATHSIG fires when the forking thread ends.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self.preexec_fn,
                # Own session: Ctrl-C reaches the launcher only, which stops this after
                # the services, so their last calls still find it.
                start_new_session=True,
            )
        self.started_at = time.monotonic()

    def last_error(self) -> str:
        """The last non-blank line of its log."""
        with contextlib.suppress(OSError), self.log_file.open("rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - 4096))
            lines = [x.strip() for x in log.read().decode(errors="replace").splitlines()]
            return next((x for x in reversed(lines) if x), "")
        return ""

    def state(self) -> dict[str, Any]:
        """Its entry in the launcher's state file (mesh.mesh_state)."""
        return {
            "pid": self.process.pid if self.process else None,
            "directory": str(self.directory),
            "restarts": self.restarts,
            "last_exit": self.last_exit,
        }

    def supervisor(
        self,
        *,
        changed: Callable[[], None],
        say: Callable[[str], None],
        policy: RestartPolicy,
        ready_timeout_s: float = 10.0,
    ) -> Supervisor[Any]:
        """Restarts it as the launcher restarts a service (same policy, same lines)."""
        ready: Callable[[Any], Awaitable[None]] = lambda p: p.wait_ready(ready_timeout_s)  # noqa: E731
        return Supervisor(
            [self], spawn=type(self).spawn, serving=ready, changed=changed, say=say, policy=policy
        )

    def terminate(self) -> None:
        """SIGTERM it without waiting (stop() waits)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM it, SIGKILL it after `timeout_s`; its exit code."""
        process = self.process
        if process is None:
            return None
        self.terminate()
        try:
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
