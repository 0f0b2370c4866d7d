"""The order `tickmesh up` stops its services in: entry points first, Storage last."""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from typing import Protocol

log = logging.getLogger("tickmesh.launcher")

STOP_STAGES: tuple[tuple[str, ...], ...] = (
    # Entry points: the Hub stops routing, the Bridge ends its streams with UNAVAILABLE.
    # Both flush their meters on the way out, so Storage must still run.
    # The Workflow service's worker stops polling and lets its running activities finish.
    ("hub", "bridge", "workflow"),
    # Nothing reads them any more: the Bridge (Ingestion's only reader) and the Hub (which
    # routes to Billing) are gone. Their meters flush into Storage too.
    ("billing", "ingestion"),
    # Last: every other service's final usage batch and key lookups land here.
    ("storage",),
)
"""Services stopped together; each stage only once the one before has exited."""

KILL_AFTER_GRACE_S = 2.0
"""Beyond a stage's grace period, how long its children may take to exit before SIGKILL
(the interpreter's own exit after the server stopped)."""


class Stoppable(Protocol):
    """What stopping needs of a launcher's child."""

    exit_code: int | None

    @property
    def service(self) -> str: ...

    @property
    def process(self) -> subprocess.Popen[bytes] | None: ...


def stop_stages(services: Iterable[str]) -> list[list[str]]:
    """`services` grouped as STOP_STAGES, in stop order, empty stages left out. A service
    no stage names stops first, with the entry points: nothing is known to depend on it;
    a further process of a service (`bridge-2`) stops with the service."""
    services = list(services)
    known = {name for stage in STOP_STAGES for name in stage}
    stages = [[s for s in services if _service(s) not in known]]
    stages += [[s for s in services if _service(s) in stage] for stage in STOP_STAGES]
    return [stage for stage in stages if stage]


def _service(name: str) -> str:
    # A further process of a service (`bridge-2`) stops with it.
    return name.partition("-")[0]


def stop_in_order(children: Sequence[Stoppable], grace_s: float) -> None:
    """SIGTERM `children` stage by stage; each stage's children get their grace period
    (and KILL_AFTER_GRACE_S) to exit, then SIGKILL, before the next stage is signalled."""
    for stage in stop_stages(child.service for child in children):
        members = [child for child in children if child.service in stage]
        for child in members:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s + KILL_AFTER_GRACE_S
        for child in members:
            if child.process is None:
                continue
            try:
                timeout = max(0.0, deadline - time.monotonic())
                child.exit_code = child.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.service)
                child.process.kill()
                child.exit_code = child.process.wait()
