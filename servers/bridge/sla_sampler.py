"""SLA samples per tenant, taken where the Bridge writes, and their durable way to Storage.

A sample is the processing latency of one delivered message: from its newest tick's
acceptance at Ingestion (Tick.ingest_time_us) to the moment the Bridge's write of it
completed, judged against the tier's latency target (mesh.tiers). A message whose newest
tick waited by design (a throttle flush, a resume's catch-up) is sampled apart, `held`:
its latency includes the hold, which is the tier's update interval, sold as such, so it
is reported (latency with the hold) but never judged against the target. A session is
sampled at most once per SAMPLE_EVERY_S of each kind, so the cost stays bounded however
many messages go out; Storage counts
a minute available when at least half of its samples met the target (QuerySla), and
Billing credits a tier whose availability missed its SLA.

Durable as usage is: every FLUSH_S the new samples become one RecordSlaRequest appended
(fsynced) to the Bridge's SLA spool (mesh.metering.batch_sender), sent oldest first, and
acknowledged only after Storage answered; a restarted Bridge resends what is pending. A
batch Storage refuses as invalid (INVALID_ARGUMENT) is dead-lettered, not retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from tickmesh.common.v1 import market_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.backoff import Backoff
from mesh.metering.batch_sender import SpooledBatches
from mesh.metering.spool import Spool
from mesh.protoconv import tier_to_proto
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier, limits

log = logging.getLogger(__name__)

SAMPLE_EVERY_S = 1.0
"""At most one latency sample per session this often."""
FLUSH_S = 1.0
"""New samples are spooled and sent this often."""
MAX_UNSPOOLED = 50_000
"""Samples kept in memory between flushes (more are dropped: a stuck loop, not data)."""
MAX_LATENCY_US = 3_600_000_000
"""Storage's bound; a longer wait is recorded as this (still far off any target)."""
SERVICE_NAME = "bridge"

Sender = Callable[[storage_pb2.RecordSlaRequest], Awaitable[storage_pb2.RecordSlaResponse]]


class Sampled(Protocol):
    """What the sampler needs of a session (servers.bridge.session.Session)."""

    session_id: str
    tenant: TenantContext
    tier: Tier


class SlaSampler:
    """Turns delivered messages into SLA samples (the Session calls offer after a write)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        self._clock = clock
        self._wall_us = wall_us
        # (session id, held) -> when it may be sampled again
        self._next_at: dict[tuple[str, bool], float] = {}
        self._samples: list[storage_pb2.SlaSample] = []

    def offer(self, session: Sampled, last_tick: bytes, held: bool = False) -> None:
        """A message whose newest tick is `last_tick` (a one-tick TickBatch) was written;
        `held`: that tick waited by design."""
        now = self._clock()
        key = (session.session_id, held)
        if now < self._next_at.get(key, 0.0) or len(self._samples) >= MAX_UNSPOOLED:
            return
        self._next_at[key] = now + SAMPLE_EVERY_S
        ingest_us = market_pb2.TickBatch.FromString(last_tick).ticks[0].ingest_time_us
        if ingest_us <= 0:
            return
        wall = self._wall_us()
        latency_us = min(max(wall - ingest_us, 0), MAX_LATENCY_US)
        tier = session.tier
        self._samples.append(
            storage_pb2.SlaSample(
                company_id=session.tenant.company_id,
                tier=tier_to_proto(tier),
                service=SERVICE_NAME,
                latency_us=latency_us,
                within_target=not held and latency_us <= limits(tier).latency_target_ms * 1000,
                time_us=wall,
                held=held,
            )
        )

    def take(self) -> list[storage_pb2.SlaSample]:
        """The samples since the last call; forgets sessions not sampled for a minute."""
        samples, self._samples = self._samples, []
        horizon = self._clock() - 60.0
        self._next_at = {key: at for key, at in self._next_at.items() if at > horizon}
        return samples


def sla_sender(
    sampler: SlaSampler,
    spool: Spool,
    send: Sender,
    *,
    flush_s: float = FLUSH_S,
    backoff: Backoff | None = None,
    minutes: Callable[[bool], list[storage_pb2.StreamMinute]] = lambda finish: [],
) -> SpooledBatches:
    """The sampler's samples and the finished stream minutes (`minutes(finish)`,
    servers.bridge.stream_minutes; all of them when stopping) as RecordSla batches."""

    def take(finish: bool) -> bytes | None:
        request = storage_pb2.RecordSlaRequest(samples=sampler.take(), minutes=minutes(finish))
        return request.SerializeToString() if request.samples or request.minutes else None

    async def deliver(payload: bytes) -> int:
        response = await send(storage_pb2.RecordSlaRequest.FromString(payload))
        return int(response.accepted + response.minutes_accepted)

    return SpooledBatches(
        "SLA samples",
        lambda: take(False),
        spool,
        deliver,
        flush_s=flush_s,
        backoff=backoff,
        take_last=lambda: take(True),
    )
