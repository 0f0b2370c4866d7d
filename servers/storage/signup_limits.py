"""How many sign-ups one peer address may make per hour (Redis, fixed hourly windows).

Sign-up needs no credential, so it is where a bot would mass-create companies: each
address (loopback included: the limit is per machine there) gets `per_hour` a window.
A count that cannot be kept (Redis down) refuses with UNAVAILABLE, as quotas do.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis

from mesh.errors import QuotaViolation, ResourceExhausted
from mesh.tenancy.auth_failures import peer_ip
from mesh.tenancy.outage import STORE_ERRORS, StoreOutage

WINDOW_S = 3600


class SignupLimiter:
    """Counts sign-ups per peer address and hour."""

    def __init__(
        self,
        redis: aioredis.Redis,
        per_hour: int,
        *,
        prefix: str = "tickmesh:",
        outage: StoreOutage | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._per_hour = per_hour
        self._prefix = prefix
        self._outage = outage or StoreOutage("sign-up limits' Redis")
        self._clock = clock

    async def admit(self, peer: str) -> None:
        """Count one sign-up from `peer`; RESOURCE_EXHAUSTED past the hour's limit."""
        ip = peer_ip(peer)
        address = str(ip) if ip is not None else peer
        now = self._clock()
        window = int(now // WINDOW_S)
        key = f"{self._prefix}signup:{address}:{window}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, WINDOW_S, nx=True)
                count, _ = await pipe.execute()
        except STORE_ERRORS as exc:
            self._outage.failed(exc)
            raise self._outage.error() from None
        self._outage.answered()
        if count > self._per_hour:
            retry_after = (window + 1) * WINDOW_S - now
            raise ResourceExhausted(
                f"{self._per_hour} sign-ups per hour from one address: try again in "
                f"{retry_after / 60:.0f} min",
                reason="SIGNUP_LIMIT",
                violations=[QuotaViolation(address, f"{self._per_hour} sign-ups per hour")],
                retry_after_s=retry_after,
            )
