"""How many live sources each tier's prices come from, as the Bridge learns it from
Ingestion's GetBrokerStatus every few seconds (for the per-tenant SLA minutes).

A tier's count follows its source policy (mesh.source_policy, as Ingestion's views do): the live
brokers of its list in order, capped at its redundancy, all of them for enterprise. It is
per broker, not per symbol: a broker that is up but silent on one symbol still counts.
Unknown (None) until Ingestion has answered, and again once its answer is stale.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import grpc
from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.source_policy import POLICIES
from mesh.tiers import Tier

log = logging.getLogger(__name__)

POLL_S = 5.0
STALE_S = 3 * POLL_S
"""An answer older than this says nothing about now."""

Fetch = Callable[[], Awaitable[ingestion_pb2.GetBrokerStatusResponse]]


class SourceWatch:
    """The brokers Ingestion reports up, and each tier's live source count."""

    def __init__(self, fetch: Fetch, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._known: tuple[str, ...] = ()
        self._up: frozenset[str] = frozenset()
        self._at: float | None = None

    def update(self, status: ingestion_pb2.GetBrokerStatusResponse) -> None:
        """Take one GetBrokerStatus answer."""
        self._known = tuple(b.broker for b in status.brokers)
        self._up = frozenset(b.broker for b in status.brokers if b.up)
        self._at = self._clock()

    def live_sources(self, tier: Tier) -> int | None:
        """How many sources the tier's view can use now; None when not known."""
        if self._at is None or self._clock() - self._at > STALE_S:
            return None
        return len(POLICIES[tier].choose(self._known, self._up.__contains__))

    async def run(self, poll_s: float = POLL_S) -> None:
        """Poll until cancelled; an unanswered poll leaves the count to go stale."""
        failed = False
        while True:
            try:
                self.update(await self._fetch())
                failed = False
            except grpc.aio.AioRpcError as exc:
                if not failed:
                    log.info("broker status unavailable (%s); source counts go unknown",
                             exc.code().name)  # fmt: skip
                failed = True
            await asyncio.sleep(poll_s)  # periodic by design
