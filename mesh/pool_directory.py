"""Where a tier's pool is: the Hub's registry, read when a pooled server turns a tenant
away, so its refusal can name the instance to go to (mesh.tier_pools).

Refusals are rare (a client that did not resolve through the Hub), so the registry is
read on demand, at most once per `max_age_s`, by one call at a time, never in the way
of the refusal: a slow or absent Hub just leaves the address out.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from tickmesh.hub.v1 import hub_pb2

from mesh.protoconv import tier_from_proto
from mesh.tier_pools import pool_name
from mesh.tiers import Tier

ListInstances = Callable[[], Awaitable[hub_pb2.ListInstancesResponse]]
"""Hub.ListInstances for this server's service, signed as the service."""


@dataclass(frozen=True, slots=True)
class PoolMember:
    """An instance serving some tiers, as the Hub last reported it."""

    address: str
    """Where a client reaches it: its pool's public address if it registered one."""
    tiers: frozenset[Tier]
    pooled: bool
    free_allowed: bool
    sessions: int

    def serves(self, tier: Tier) -> bool:
        if tier is Tier.FREE:
            return self.free_allowed
        return not self.pooled or not self.tiers or tier in self.tiers

    @property
    def pool(self) -> str:
        return pool_name(self.tiers) if self.pooled else "all"


class PoolDirectory:
    """The service's serving instances, refreshed from the Hub when older than max_age_s."""

    def __init__(
        self, list_instances: ListInstances, *, max_age_s: float = 5.0, timeout_s: float = 1.0
    ) -> None:
        self._list = list_instances
        self._max_age_s = max_age_s
        self._timeout_s = timeout_s
        self._members: list[PoolMember] = []
        self._read_at = -float("inf")
        self._reading: asyncio.Task[None] | None = None

    async def serving(self, tier: Tier) -> PoolMember | None:
        """The least loaded serving instance for `tier`, or None if none is known."""
        if time.monotonic() - self._read_at > self._max_age_s:
            if self._reading is None or self._reading.done():
                self._reading = asyncio.create_task(self._read())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reading), self._timeout_s)
        fitting = [m for m in self._members if m.serves(tier)]
        return min(fitting, key=lambda m: (not m.pooled, m.sessions, m.address), default=None)

    async def _read(self) -> None:
        try:
            reply = await self._list()
        except grpc.aio.AioRpcError:
            return  # the Hub is away: keep what was known, try again next refusal
        self._members = [
            PoolMember(
                address=i.spec.public_address or i.spec.address,
                tiers=frozenset(tier_from_proto(t, "tiers") for t in i.spec.tiers),
                pooled=i.spec.tier_pool,
                free_allowed=i.spec.free_tier_allowed,
                sessions=i.active_sessions,
            )
            for i in reply.instances
            if i.health == hub_pb2.INSTANCE_HEALTH_SERVING
        ]
        self._read_at = time.monotonic()
