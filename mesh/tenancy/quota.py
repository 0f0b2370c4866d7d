"""Daily API-call and concurrent-stream quotas on Redis: one Lua round trip per check.

Hot path: the daily quota counts RPC calls (a unary call or a stream open), never
ticks, so one round trip per call is the right price (~0.1-0.2 ms). A Bridge
streaming ticks touches Redis only to open a stream and to renew its lease every
few seconds; per-tick metering is aggregated in process and flushed elsewhere.

The same scripts run on a real Redis and on fakeredis[lua] (the embedded default),
so both share one code path. Time comes from the injected `now`, passed into the
scripts as an argument (never Redis TIME), so tests can cross midnight at will.

The store is the one boundary where Redis being unreachable becomes `Unavailable`:
quotas that cannot be counted are not enforced by guessing, the call is refused as
retryable, and the outage is logged once (mesh/tenancy/outage.py).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import redis.asyncio as aioredis

from mesh.errors import QuotaViolation, ResourceExhausted
from mesh.tenancy.outage import STORE_ERRORS, StoreOutage
from mesh.tiers import Tier, limits

DAY_S = 86_400
# Yesterday's counter outlives midnight by this much, so a replica whose clock lags
# slightly still finds it, and usage reports can read it just after reset.
DAILY_SLACK_S = 3_600
# The lease set outlives its last lease by this much; expired members are dropped by
# the next acquire anyway, this only garbage-collects idle companies.
LEASE_SLACK_MS = 60_000
NEAR_LIMIT_PERCENT = 80

# KEYS[1]: the company's counter for one UTC day.
# ARGV: limit (-1 = unlimited), cost, key TTL in ms.
# Read first and refuse without writing, so a refusal never consumes quota; Redis
# runs a script atomically, so concurrent callers cannot overshoot the limit.
_CALL_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
if limit >= 0 and used + cost > limit then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], cost)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, used}
"""

# KEYS[1]: the company's lease set (member = lease id, score = expiry in unix ms);
# KEYS[2], optional: the holder's index (hash lease id -> company id).
# ARGV: now ms, limit, lease id, new expiry ms, slack ms, company id.
# Drops lapsed leases (expiry < now) first, so a crashed holder's slot returns once
# its lease lapses. Re-acquiring a lease one holds extends it (that is how renew works).
# The index lets a restarted holder give back what its previous life held at once
# (_RECLAIM_LUA); it outlives its newest lease, and every lease has the same TTL.
# Returns {allowed, active leases, expiry ms (of this lease, or of the earliest one
# when refused)}.
_ACQUIRE_LUA = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local held = redis.call('ZSCORE', KEYS[1], ARGV[3])
local active = redis.call('ZCARD', KEYS[1])
if not held and active >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, active, tonumber(first[2] or now)}
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(last[2]) - now + tonumber(ARGV[5])))
if KEYS[2] then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], math.floor(tonumber(ARGV[4]) - now + tonumber(ARGV[5])))
end
if not held then active = active + 1 end
return {1, active, tonumber(ARGV[4])}
"""

# KEYS[1]: a company's lease set; KEYS[2], optional: the holder's index. ARGV: lease id.
_RELEASE_LUA = """
if KEYS[2] then redis.call('HDEL', KEYS[2], ARGV[1]) end
return redis.call('ZREM', KEYS[1], ARGV[1])
"""

# KEYS[1]: a holder's index. ARGV: the lease-set key prefix (+ company id = the key).
# Lease-set keys are built in the script: fine on one Redis, not on a Cluster (as the
# auth cache's invalidation). Returns how many leases were still held.
_RECLAIM_LUA = """
local held = redis.call('HGETALL', KEYS[1])
local released = 0
for i = 1, #held, 2 do
  released = released + redis.call('ZREM', ARGV[1] .. held[i + 1], held[i])
end
redis.call('DEL', KEYS[1])
return released
"""


@dataclass(frozen=True, slots=True)
class CallQuota:
    """The outcome of one daily-call check (or a read of the day's usage)."""

    company_id: str
    tier: Tier
    allowed: bool
    limit: int | None  # None: unlimited
    used: int
    remaining: int | None  # None: unlimited
    reset_at: float  # unix seconds: the next midnight UTC
    reset_after_s: float  # seconds from the check until reset_at
    near_limit: bool  # used >= 80 % of the limit


@dataclass(frozen=True, slots=True)
class StreamLease:
    """A held slot among a company's concurrent streams."""

    company_id: str
    tier: Tier
    lease_id: str
    expires_at: float  # unix seconds
    holder: str | None = None  # the process whose index lists it (see release_holder)


@dataclass(frozen=True, slots=True)
class StreamDecision:
    """The outcome of acquiring (or renewing) a stream lease."""

    company_id: str
    tier: Tier
    allowed: bool
    limit: int
    active: int  # leases held after this decision
    lease: StreamLease | None  # set when allowed
    retry_after_s: float  # when refused: until the earliest lease could lapse


MAX_REDIS_CONNECTIONS = 64
REDIS_POOL_WAIT_S = 5.0


class QuotaStore:
    """Quota counters and stream leases shared by every replica through one Redis."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "tickmesh:",
        now: Callable[[], float] = time.time,
        owns_client: bool = False,
    ) -> None:
        self.redis = client
        self._prefix = prefix
        self._now = now
        self._owns_client = owns_client
        self._call_script = client.register_script(_CALL_LUA)
        self._acquire_script = client.register_script(_ACQUIRE_LUA)
        self._release_script = client.register_script(_RELEASE_LUA)
        self._reclaim_script = client.register_script(_RECLAIM_LUA)
        self.outage = StoreOutage()
        """Whether Redis is reachable; shared with the auth cache on the same client."""

    @classmethod
    async def connect(
        cls,
        redis_url: str | None,
        *,
        prefix: str = "tickmesh:",
        now: Callable[[], float] = time.time,
    ) -> QuotaStore:
        """A store on the Redis at `redis_url`, or on an in-process fakeredis when None.

        A real server is pinged, so a wrong URL fails at startup, not on a request.
        """
        client: aioredis.Redis
        if redis_url:
            # A blocking pool: with thousands of streams renewing leases, a burst past
            # the pool size must wait for a connection, not fail (MaxConnectionsError).
            pool = aioredis.BlockingConnectionPool.from_url(
                redis_url, max_connections=MAX_REDIS_CONNECTIONS, timeout=REDIS_POOL_WAIT_S
            )
            client = aioredis.Redis.from_pool(pool)  # the client owns (and closes) the pool
            try:
                await client.ping()
            except BaseException:
                await client.aclose()
                raise
        else:
            import fakeredis  # only the embedded default needs it

            # The same blocking pool: fakeredis's default pool fails past 100 concurrent
            # commands (seen: 1,000 streams ending at once could not release their leases).
            client = fakeredis.FakeAsyncRedis(
                connection_pool_class=aioredis.BlockingConnectionPool,
                max_connections=MAX_REDIS_CONNECTIONS,
            )
        return cls(client, prefix=prefix, now=now, owns_client=True)

    async def aclose(self) -> None:
        """Close the client if this store created it."""
        if self._owns_client:
            await self.redis.aclose()

    # -- daily API calls -------------------------------------------------------

    async def check_call(self, company_id: str, tier: Tier, *, cost: int = 1) -> CallQuota:
        """Count `cost` calls against today's quota, or refuse without counting."""
        if cost < 1:
            raise ValueError("cost must be at least 1")
        now = self._now()
        reset_at = _next_midnight(now)
        limit = limits(tier).daily_api_calls
        # Unlimited tiers are still counted (one round trip) so usage stays visible.
        ttl_ms = math.ceil((reset_at - now + DAILY_SLACK_S) * 1000)
        with self._reaching():
            raw = await self._call_script(
                keys=[self.calls_key(company_id, now)],
                args=[-1 if limit is None else limit, cost, ttl_ms],
            )
        allowed, used = (int(x) for x in cast(list[int], raw))
        return _call_quota(company_id, tier, bool(allowed), limit, used, now, reset_at)

    async def call_usage(self, company_id: str, tier: Tier) -> CallQuota:
        """Today's usage without counting anything (for GetUsage and dashboards)."""
        now = self._now()
        with self._reaching():
            raw = await self.redis.get(self.calls_key(company_id, now))
        used = int(raw or 0)
        limit = limits(tier).daily_api_calls
        allowed = limit is None or used < limit
        return _call_quota(company_id, tier, allowed, limit, used, now, _next_midnight(now))

    def calls_key(self, company_id: str, now: float) -> str:
        """The Redis key counting `company_id`'s calls on the UTC day of `now`."""
        # Keyed per company, not per tier: a mid-day upgrade keeps what was used.
        day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
        return f"{self._prefix}quota:calls:{company_id}:{day}"

    # -- concurrent streams ----------------------------------------------------

    async def acquire_stream(
        self, company_id: str, tier: Tier, lease_id: str, ttl_s: float, *, holder: str | None = None
    ) -> StreamDecision:
        """Take a stream slot for `ttl_s` unless the tier's limit is reached.

        Acquiring a lease id one already holds just extends it (idempotent retry). A
        `holder` lists the lease in its index, so `release_holder` can give it back.
        """
        request = _LeaseRequest.make(company_id, tier, lease_id, ttl_s, self._now(), holder)
        with self._reaching():
            raw = await self._acquire_script(keys=self._lease_keys(request), args=request.args())
        return request.decision(raw)

    async def renew_stream(self, lease: StreamLease, ttl_s: float) -> StreamDecision:
        """Extend a lease. A lease that already lapsed is re-taken only if a slot is free."""
        return await self.acquire_stream(
            lease.company_id, lease.tier, lease.lease_id, ttl_s, holder=lease.holder
        )

    async def renew_streams(
        self, leases: Sequence[StreamLease], ttl_s: float
    ) -> list[StreamDecision]:
        """renew_stream for many leases in one pipelined round trip (a Bridge renews all
        of its streams at once, not one timer and one round trip per stream)."""
        if not leases:
            return []
        now = self._now()
        requests = [
            _LeaseRequest.make(x.company_id, x.tier, x.lease_id, ttl_s, now, x.holder)
            for x in leases
        ]
        with self._reaching():
            async with self.redis.pipeline(transaction=False) as pipe:
                for request in requests:
                    await self._acquire_script(
                        keys=self._lease_keys(request), args=request.args(), client=pipe
                    )
                results = await pipe.execute()
        return [request.decision(raw) for request, raw in zip(requests, results, strict=True)]

    async def release_stream(self, lease: StreamLease) -> bool:
        """Give the slot back; False if the lease had already lapsed and been dropped."""
        keys = [self._lease_key(lease.company_id)]
        if lease.holder is not None:
            keys.append(self._holder_key(lease.holder))
        with self._reaching():
            removed = await self._release_script(keys=keys, args=[lease.lease_id])
        return bool(removed)

    async def release_holder(self, holder: str) -> int:
        """Give back every lease `holder` acquired and still holds (one round trip); how
        many there were. Only for the holder itself, starting again after a crash."""
        with self._reaching():
            released = await self._reclaim_script(
                keys=[self._holder_key(holder)], args=[self._lease_key("")]
            )
        return int(cast(int, released))

    def _lease_key(self, company_id: str) -> str:
        return f"{self._prefix}quota:streams:{company_id}"

    def _holder_key(self, holder: str) -> str:
        return f"{self._prefix}quota:holder:{holder}"

    def _lease_keys(self, request: _LeaseRequest) -> list[str]:
        keys = [self._lease_key(request.company_id)]
        if request.holder is not None:
            keys.append(self._holder_key(request.holder))
        return keys

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        # The one place a Redis that cannot be reached becomes a retryable error.
        try:
            yield
        except STORE_ERRORS as exc:
            self.outage.failed(exc)
            raise self.outage.error() from None
        self.outage.answered()


@dataclass(frozen=True, slots=True)
class _LeaseRequest:
    # One acquire/renew: its script arguments, and how to read the script's answer.
    company_id: str
    tier: Tier
    lease_id: str
    now_ms: int
    expiry_ms: int
    limit: int
    holder: str | None

    @classmethod
    def make(
        cls,
        company_id: str,
        tier: Tier,
        lease_id: str,
        ttl_s: float,
        now: float,
        holder: str | None = None,
    ) -> _LeaseRequest:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        # Round so a lease never lasts less than ttl_s: expiry up, "now" down, and a
        # lease is dropped only once now is past its expiry millisecond.
        now_ms, expiry_ms = math.floor(now * 1000), math.ceil((now + ttl_s) * 1000)
        limit = limits(tier).concurrent_streams
        return cls(company_id, tier, lease_id, now_ms, expiry_ms, limit, holder)

    def args(self) -> list[int | str]:
        return [
            self.now_ms, self.limit, self.lease_id, self.expiry_ms, LEASE_SLACK_MS,
            self.company_id,
        ]  # fmt: skip

    def decision(self, raw: object) -> StreamDecision:
        allowed, active, at_ms = (int(x) for x in cast(list[int], raw))
        if allowed:
            lease = StreamLease(
                self.company_id, self.tier, self.lease_id, at_ms / 1000, self.holder
            )
            return StreamDecision(self.company_id, self.tier, True, self.limit, active, lease, 0.0)
        # A live holder keeps renewing, so this is the earliest a slot *could* free.
        retry = max((at_ms - self.now_ms) / 1000, 1.0)
        return StreamDecision(self.company_id, self.tier, False, self.limit, active, None, retry)


# -- turning decisions into gRPC-facing errors and headers -------------------------


def ratelimit_headers(quota: CallQuota) -> tuple[tuple[str, str], ...]:
    """IETF RateLimit header fields for a successful call (empty when unlimited)."""
    headers = _limit_headers(quota)
    if headers and quota.near_limit:
        headers.append(("ratelimit-near-limit", "1"))
    return tuple(headers)


def call_quota_exhausted(quota: CallQuota) -> ResourceExhausted:
    """The RESOURCE_EXHAUSTED error for a refused daily-call check."""
    if quota.allowed or quota.limit is None:
        raise ValueError("call_quota_exhausted needs a refused, limited CallQuota")
    reset_in = math.ceil(quota.reset_after_s)
    reset_iso = datetime.fromtimestamp(quota.reset_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    description = f"{quota.limit} API calls per UTC day on the {quota.tier.value} tier"
    return ResourceExhausted(
        f"daily API call quota used up ({description}); resets at {reset_iso}"
        f" (in {reset_in} s){_upgrade_hint(quota.tier, 'daily_api_calls')}",
        violations=[QuotaViolation(subject=f"company:{quota.company_id}", description=description)],
        retry_after_s=quota.reset_after_s,
        metadata={
            "quota": "daily_api_calls",
            "tier": quota.tier.value,
            "limit": str(quota.limit),
            "reset_at": reset_iso,
        },
        trailing_metadata=_limit_headers(quota),
    )


def streams_exhausted(decision: StreamDecision) -> ResourceExhausted:
    """The RESOURCE_EXHAUSTED error for a refused stream lease."""
    if decision.allowed:
        raise ValueError("streams_exhausted needs a refused StreamDecision")
    description = f"{decision.limit} concurrent streams on the {decision.tier.value} tier"
    return ResourceExhausted(
        f"concurrent stream limit reached ({description}); close a stream or retry later"
        f"{_upgrade_hint(decision.tier, 'concurrent_streams')}",
        violations=[
            QuotaViolation(subject=f"company:{decision.company_id}", description=description)
        ],
        retry_after_s=decision.retry_after_s,
        metadata={
            "quota": "concurrent_streams",
            "tier": decision.tier.value,
            "limit": str(decision.limit),
        },
    )


def _limit_headers(quota: CallQuota) -> list[tuple[str, str]]:
    if quota.limit is None or quota.remaining is None:
        return []
    return [
        ("ratelimit-limit", str(quota.limit)),
        ("ratelimit-remaining", str(quota.remaining)),
        ("ratelimit-reset", str(math.ceil(quota.reset_after_s))),
    ]


def _upgrade_hint(tier: Tier, field: str) -> str:
    richer = [t for t in Tier if t.rank == tier.rank + 1]
    if not richer:
        return ""
    value = getattr(limits(richer[0]), field)
    return f"; the {richer[0].value} tier allows {'unlimited' if value is None else value}"


def _next_midnight(now: float) -> float:
    # POSIX time has no leap seconds, so UTC days are exactly 86,400 s long.
    return (math.floor(now / DAY_S) + 1) * DAY_S


def _call_quota(
    company_id: str,
    tier: Tier,
    allowed: bool,
    limit: int | None,
    used: int,
    now: float,
    reset_at: float,
) -> CallQuota:
    remaining = None if limit is None else max(limit - used, 0)
    near = limit is not None and used * 100 >= limit * NEAR_LIMIT_PERCENT
    return CallQuota(
        company_id, tier, allowed, limit, used, remaining, reset_at, reset_at - now, near
    )
