"""How many live sources each tier's prices of each symbol come from, as the Bridge learns
it from Ingestion's GetBrokerStatus every few seconds (for the per-tenant SLA minutes).

Ingestion reports every view it computes (tier, symbol): the brokers it uses now, and
how many it should use (the tier's redundancy, capped by how many of the tier's brokers
quote the symbol at all: an exotic only fxcm quotes cannot have three). Unknown (None)
until Ingestion has answered, and again once its answer is stale.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import grpc
from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.protoconv import tier_from_proto
from mesh.tiers import Tier

log = logging.getLogger(__name__)

POLL_S = 5.0
STALE_S = 3 * POLL_S
"""An answer older than this says nothing about now."""

Fetch = Callable[[], Awaitable[ingestion_pb2.GetBrokerStatusResponse]]


@dataclass(frozen=True, slots=True)
class Sources:
    """The sources behind a set of symbols' views of one tier."""

    fewest: int
    most: int
    below_target: bool
    """Some view used fewer sources than it should."""


class SourceWatch:
    """The latest source counts of every view Ingestion computes."""

    def __init__(self, fetch: Fetch, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._views: dict[tuple[Tier, str], tuple[int, int]] = {}
        self._at: float | None = None

    def update(self, status: ingestion_pb2.GetBrokerStatusResponse) -> None:
        """Take one GetBrokerStatus answer."""
        self._views = {
            (tier_from_proto(v.tier), v.symbol): (v.sources, v.target) for v in status.views
        }
        self._at = self._clock()

    def sources(self, tier: Tier, symbols: Iterable[str]) -> Sources | None:
        """The sources behind `tier`'s views of `symbols` (those Ingestion has a view
        of: a symbol nobody quoted yet has none); None when not known."""
        if self._at is None or self._clock() - self._at > STALE_S:
            return None
        counts = [c for s in symbols if (c := self._views.get((tier, s))) is not None]
        if not counts:
            return None
        return Sources(
            fewest=min(n for n, _ in counts),
            most=max(n for n, _ in counts),
            below_target=any(n < target for n, target in counts),
        )

    async def run(self, poll_s: float = POLL_S) -> None:
        """Poll until cancelled; an unanswered poll leaves the counts to go stale."""
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
