"""Keeps every open stream's concurrent-stream lease alive: pipelined Redis round trips
of RENEW_BATCH leases, spread evenly over each round, for the whole Bridge; not one timer
and one round trip per stream.

A round renews every held lease once and lasts ttl_s / 4, so a lease is renewed at most
ttl_s / 2 apart and survives a failed renewal (a Redis blip). The rounds are spread
because a renewal costs the event loop ~30 us per lease on a real Redis (encoding and
decoding) and ~260 us on the in-process one (the Lua runs here): 1,000 leases at once
would stall every stream for 30-260 ms. A lease that lapsed and whose slot another
stream took meanwhile ends its stream with RESOURCE_EXHAUSTED, as a refused Subscribe
would.

A Bridge that dies without releasing (SIGKILL, OOM) would keep its tenants' slots until
the leases lapse: a free tier, one stream, was refused for ~28 s on reconnecting to the
restarted Bridge. So each Bridge holds its leases under a holder identity that is
stable across its restarts and releases what its previous life held before it serves.
The identity is random, made once and kept in the data dir per instance (the usage
spool's name, whose lock makes the instance one process at a time), so no other Bridge,
here or on another machine sharing the Redis, can ever share it and release its leases.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from pathlib import Path

from mesh.errors import Unavailable
from mesh.logging import error_fields
from mesh.telemetry.metrics import quota_refused
from mesh.tenancy.context import TenantContext
from mesh.tenancy.quota import QuotaStore, StreamDecision, StreamLease, streams_exhausted
from servers.bridge.session import Session

STREAMS_QUOTA = "concurrent_streams"
RENEW_BATCH = 20  # leases per pipeline: bounds one loop turn to ~5 ms even in process

log = logging.getLogger(__name__)


def holder_identity(data_dir: Path, instance: str) -> str:
    """This Bridge instance's lease-holder identity: made on its first start, read on
    every later one. Call only while holding the instance's spool (its lock)."""
    path = data_dir / "leases" / f"{instance}.holder"
    try:
        if identity := path.read_text().strip():
            return identity
    except FileNotFoundError:
        pass
    identity = f"{instance}-{uuid.uuid4().hex}"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a crash mid-write must not leave a half identity.
    partial = path.with_suffix(".partial")
    partial.write_text(identity + "\n")
    os.replace(partial, path)
    return identity


class LeaseKeeper:
    """The held leases of this Bridge's open streams, renewed together."""

    def __init__(self, quota: QuotaStore, ttl_s: float, holder: str | None = None) -> None:
        self.ttl_s = ttl_s
        self.holder = holder
        """Lists every lease acquired here under this identity (None: not listed)."""
        self._quota = quota
        self._held: dict[str, tuple[StreamLease, Session]] = {}

    async def reclaim(self) -> None:
        """Release what this holder's previous life held; before the first acquire, which
        lists its lease under the same holder."""
        if self.holder is None:
            return
        try:
            released = await self._quota.release_holder(self.holder)
        except Unavailable:
            # The store logged the outage; those leases lapse by themselves.
            return
        if released:
            log.info("released %d stream leases of a previous run", released)

    async def acquire(self, tenant: TenantContext, lease_id: str) -> StreamDecision:
        """Take a stream slot for `tenant` under this Bridge's holder identity."""
        return await self._quota.acquire_stream(
            tenant.company_id, tenant.tier, lease_id, self.ttl_s, holder=self.holder
        )

    def hold(self, lease: StreamLease, session: Session) -> None:
        """Renew `lease` while `session` streams."""
        self._held[lease.lease_id] = (lease, session)

    def drop(self, lease: StreamLease) -> None:
        """Stop renewing `lease` (its stream ended; the caller releases it)."""
        self._held.pop(lease.lease_id, None)

    async def run(self) -> None:
        """Renew every held lease once per round (ttl_s / 4) until cancelled."""
        round_s = self.ttl_s / 4
        while True:
            held = list(self._held.values())
            batches = [held[i : i + RENEW_BATCH] for i in range(0, len(held), RENEW_BATCH)]
            pause = round_s / max(len(batches), 1)
            for batch in batches:
                await asyncio.sleep(pause)  # periodic by design: spreads the round's work
                await self.renew(batch)
            if not batches:
                await asyncio.sleep(round_s)

    async def renew(self, batch: list[tuple[StreamLease, Session]]) -> None:
        """Renew one batch of held leases in one round trip."""
        try:
            decisions = await self._quota.renew_streams([x[0] for x in batch], self.ttl_s)
        except Unavailable:
            # A Redis blip (the store logs the outage once): a lease outlives a missed
            # renewal, so keep streaming.
            return
        except Exception as exc:  # a bug must not end renewals for every stream
            log.warning("could not renew %d stream leases", len(batch), extra=error_fields(exc))
            return
        for (lease, session), decision in zip(batch, decisions, strict=True):
            if decision.lease is None and lease.lease_id in self._held:
                # The lease lapsed and its slot was taken meanwhile.
                quota_refused(session.tier, STREAMS_QUOTA)
                session.close(streams_exhausted(decision))
                self.drop(lease)

    async def renew_all(self) -> None:
        """Renew every held lease now (tests; a round does this spread out)."""
        held = list(self._held.values())
        for start in range(0, len(held), RENEW_BATCH):
            await self.renew(held[start : start + RENEW_BATCH])

    @property
    def held(self) -> int:
        """How many leases are being kept."""
        return len(self._held)
