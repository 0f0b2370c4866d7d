"""The Temporal side of the Workflow service: the client, the schedules and the worker
polling the mesh's task queue, as one lifecycle part."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from mesh.config import env_key
from mesh.errors import Unavailable
from mesh.lifecycle import cancel
from mesh.temporal_server import SECTION, TemporalSettings, serving
from servers.workflow.schedules import ensure_schedules

log = logging.getLogger(__name__)

GRACEFUL_SHARE = 0.6
"""Of the service's stop grace (TICKMESH_GRACE_SECONDS, 5 s), how long a stopping worker
lets running activities finish before cancelling them (Temporal retries a cancelled one
on another worker); the rest is the bound on shutdown below, inside the grace, so the
launcher never has to SIGKILL the service for it."""
SHUTDOWN_SHARE = 0.8


class TemporalRunner:
    """Connects, keeps the schedules current, and runs the worker until stopped."""

    def __init__(
        self,
        settings: TemporalSettings,
        *,
        wait_s: float,
        workflows: Sequence[type],
        activities: Sequence[Any],
        schedules_paused: bool = False,
        grace_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self._grace_s = grace_s
        self._schedules_paused = schedules_paused
        self._wait_s = wait_s
        self._workflows = workflows
        self._activities = activities
        self._client: Client | None = None
        self._worker: Worker | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def task_queue(self) -> str:
        return self.settings.task_queue

    @property
    def client(self) -> Client:
        """The connected client; UNAVAILABLE before start."""
        if self._client is None:
            raise Unavailable("not connected to Temporal yet")
        return self._client

    async def start(self) -> None:
        """Wait for Temporal (the embedded one starts beside us), then run the worker."""
        address, namespace = self.settings.address, self.settings.namespace
        deadline = time.monotonic() + self._wait_s
        while not await serving(address, namespace):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Temporal at {address} (namespace {namespace}) not answering after "
                    f"{self._wait_s:g} s; start it, or set {env_key('address', SECTION)}"
                )
            await asyncio.sleep(0.5)  # poll interval while Temporal boots
        self._client = await Client.connect(address, namespace=namespace)
        await ensure_schedules(self._client, self.task_queue, paused=self._schedules_paused)
        self._worker = Worker(
            self._client,
            task_queue=self.task_queue,
            workflows=list(self._workflows),
            activities=list(self._activities),
            graceful_shutdown_timeout=timedelta(seconds=self._grace_s * GRACEFUL_SHARE),
        )
        self._task = asyncio.create_task(self._worker.run(), name="temporal-worker")
        log.info("temporal worker polling %s on %s (namespace %s)",
                 self.task_queue, address, namespace)  # fmt: skip

    async def stop(self) -> None:
        """Stop polling; let running activities finish within the graceful timeout.

        Bounded: an activity that ignores its cancellation would hold shutdown() forever
        (seen once, a test mesh's teardown hanging until pytest's timeout), and a stop
        past the service's grace gets it SIGKILLed; past the bound the worker task is
        cancelled and Temporal retries the activity elsewhere."""
        if self._worker is not None and self._task is not None and not self._task.done():
            bound = self._grace_s * SHUTDOWN_SHARE
            try:
                await asyncio.wait_for(self._worker.shutdown(), bound)
            except TimeoutError:
                log.warning("temporal worker still stopping after %g s; cancelled", bound)
        await cancel(self._task)
