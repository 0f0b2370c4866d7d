"""API-key -> tenant cache: in-process LRU (<= 1 s) over a shared Redis, with invalidation.

Requirement: a revoked key or a tier change is honoured by every process within 1 s.

- Local layer: an LRU whose entries live at most `local_ttl_s` (<= 1 s, enforced).
  This alone bounds staleness, even if every invalidation message were lost.
- Shared layer (optional Redis): entries live longer (they spare Storage the
  lookups of every replica), so they are deleted explicitly. Whoever revokes a key
  or changes a tier calls `invalidate_company` (or `broadcast_invalidation`), which
  in one atomic script deletes the company's shared entries, bumps a generation
  counter and publishes on a pub/sub channel; every process drops that company's
  local entries on the message (milliseconds), the local TTL being the backstop.
- A fill that raced an invalidation (resolved before it, written after it) is
  refused: shared fills are compare-and-set on the generation read before the
  lookup, local fills on a local epoch.
- Unknown keys are cached too (shortly) so a key-guessing flood costs Storage
  little. Keys are only ever used hashed (sha256); the plaintext goes to the
  resolver and nowhere else.
- Concurrent misses for one key share one resolution (single-flight).

Use the shared layer only with a Redis every process shares: the embedded
per-process fakeredis would hold stale entries no other process can invalidate;
pass redis=None there and the local TTL alone keeps the 1 s promise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mesh.errors import Unauthenticated
from mesh.logging import error_fields
from mesh.tenancy.context import TenantContext
from mesh.tenancy.outage import STORE_ERRORS, StoreOutage

log = logging.getLogger(__name__)

Resolver = Callable[[str], Awaitable[TenantContext | None]]
"""Resolves a plaintext API key to its tenant, or None when unknown or revoked."""

InvalidationListener = Callable[[str | None], None]
"""Told of every invalidation this process learns of: the company, or None for all
(messages may have been missed). Called synchronously: it must not block."""

MAX_LOCAL_TTL_S = 1.0
SUBSCRIBE_TIMEOUT_S = 5.0
_NEGATIVE = b"!"  # the shared-cache value of an unknown key

# KEYS: entry, generation[, company index]. ARGV: expected generation, value, TTL ms,
# key hash. Writes nothing when an invalidation happened since the generation was read.
_FILL_LUA = """
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if KEYS[3] then
  redis.call('SADD', KEYS[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
return 1
"""

# KEYS: company index, generation. ARGV: entry key prefix, channel, message.
# Entry keys are built in the script, which is fine on one Redis (not on a Cluster).
_INVALIDATE_LUA = """
local hashes = redis.call('SMEMBERS', KEYS[1])
for _, h in ipairs(hashes) do redis.call('DEL', ARGV[1] .. h) end
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return #hashes
"""


def hash_key(api_key: str) -> str:
    """The cache identity of a key. API keys are high-entropy, so plain sha256 suffices."""
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a key does not authenticate (unknown, revoked, ...), cached like a tenant."""

    reason: str = "API_KEY_INVALID"
    message: str = "API key is unknown or revoked"

    def error(self) -> Unauthenticated:
        return Unauthenticated(self.message, reason=self.reason)


_DEFAULT_REFUSAL = "API key is unknown or revoked"


Outcome = TenantContext | Refusal


class _Entry(NamedTuple):
    tenant: Outcome
    expires_at: float
    generation: bytes | None  # the shared generation when it was filled (strict mode)


@dataclass(slots=True)
class CacheStats:
    """Counters for tests, benchmarks and metrics."""

    local_hits: int = 0
    shared_hits: int = 0
    resolver_calls: int = 0
    invalidations_seen: int = 0
    resubscriptions: int = 0


class AuthCache:
    """Authenticates API keys through the local LRU, then Redis, then the resolver."""

    def __init__(
        self,
        resolver: Resolver,
        redis: aioredis.Redis | None = None,
        *,
        prefix: str = "tickmesh:",
        local_ttl_s: float = 0.5,
        negative_local_ttl_s: float = 0.5,
        shared_ttl_s: float = 300.0,
        negative_shared_ttl_s: float = 10.0,
        max_entries: int = 10_000,
        strict: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        outage: StoreOutage | None = None,
    ) -> None:
        for name, ttl in (
            ("local_ttl_s", local_ttl_s),
            ("negative_local_ttl_s", negative_local_ttl_s),
        ):
            if not 0 < ttl <= MAX_LOCAL_TTL_S:
                raise ValueError(f"{name} must be in (0, {MAX_LOCAL_TTL_S}] to honour revocation")
        self._resolver = resolver
        self._redis = redis
        self._prefix = prefix
        self._local_ttl_s = local_ttl_s
        self._negative_local_ttl_s = negative_local_ttl_s
        self._shared_ttl_ms = int(shared_ttl_s * 1000)
        self._negative_shared_ttl_ms = int(negative_shared_ttl_s * 1000)
        self._max_entries = max_entries
        # Strict: a local hit is served only while the shared generation is unchanged
        # (one GET), so a revocation anywhere is honoured on the very next call
        # everywhere, not merely within the local TTL. Needs the shared Redis.
        self._strict = strict and redis is not None
        self._clock = clock
        self._wall_us = wall_us
        # Shared with the quota store on the same Redis: one warning per outage per process.
        self._outage = outage or StoreOutage("auth cache's Redis")
        self._local: OrderedDict[str, _Entry] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[Outcome]] = {}
        self._epoch = 0  # bumped on every invalidation this process learns of
        self._listener: asyncio.Task[None] | None = None
        self._listeners: list[InvalidationListener] = []
        self._fill = redis.register_script(_FILL_LUA) if redis is not None else None
        self.stats = CacheStats()

    @property
    def local_ttl_s(self) -> float:
        """How long a local entry may be served without asking Redis or the resolver."""
        return max(self._local_ttl_s, self._negative_local_ttl_s)

    @property
    def channel(self) -> str:
        return _channel(self._prefix)

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to invalidations (no-op without Redis); returns once subscribed."""
        if self._redis is None or self._listener is not None:
            return
        pubsub = await self._subscribe()
        self._listener = asyncio.create_task(self._listen(pubsub), name="auth-cache-invalidations")

    async def aclose(self) -> None:
        """Stop listening and drop in-flight resolutions."""
        tasks = [t for t in (self._listener, *self._inflight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._listener = None

    async def __aenter__(self) -> AuthCache:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- lookups -----------------------------------------------------------------

    async def authenticate(self, api_key: str) -> TenantContext:
        """The tenant of `api_key`, or Unauthenticated when it is missing, unknown or revoked."""
        if not api_key:
            raise Unauthenticated("API key is missing", reason="API_KEY_MISSING")
        outcome = await self._outcome(api_key)
        if isinstance(outcome, Refusal):
            raise outcome.error()
        return outcome

    async def lookup(self, api_key: str) -> TenantContext | None:
        """The tenant of `api_key`, or None when unknown or revoked."""
        outcome = await self._outcome(api_key)
        return None if isinstance(outcome, Refusal) else outcome

    async def _outcome(self, api_key: str) -> Outcome:
        key_hash = hash_key(api_key)
        entry = self._local.get(key_hash)
        if entry is not None:
            if (
                entry.expires_at > self._clock()
                and not self._key_expired(entry.tenant)
                and await self._still_current(entry)
            ):
                # The await above let other callers run: the entry may be gone by now.
                if key_hash in self._local:
                    self._local.move_to_end(key_hash)
                self.stats.local_hits += 1
                return entry.tenant
            if self._local.get(key_hash) is entry:
                del self._local[key_hash]
        future = self._inflight.get(key_hash)
        if future is None:
            future = asyncio.ensure_future(self._miss(api_key, key_hash))
            self._inflight[key_hash] = future
            future.add_done_callback(lambda f: self._settle(key_hash, f))
        # Shielded: one caller giving up must not cancel the others' shared lookup.
        return await asyncio.shield(future)

    async def shared_generation(self) -> bytes | None:
        """The shared generation, which every invalidation anywhere bumps (one GET); None
        without a shared Redis or when it cannot be read: then nothing is known unchanged."""
        if self._redis is None:
            return None
        try:
            generation = await self._redis.get(self._gen_key())
        except STORE_ERRORS as exc:
            self._outage.failed(exc)
            return None
        self._outage.answered()
        return cast(bytes | None, generation) or b"0"

    async def _still_current(self, entry: _Entry) -> bool:
        if not self._strict or self._redis is None:
            return True
        try:
            generation = await self._redis.get(self._gen_key())
        except STORE_ERRORS as exc:
            self._outage.failed(exc)
            return True  # Redis down: the local TTL still bounds staleness
        self._outage.answered()
        return (generation or b"0") == entry.generation

    def _settle(self, key_hash: str, future: asyncio.Future[Outcome]) -> None:
        if self._inflight.get(key_hash) is future:
            del self._inflight[key_hash]
        if not future.cancelled():
            future.exception()  # mark retrieved even if every waiter went away

    async def _miss(self, api_key: str, key_hash: str) -> Outcome:
        epoch = self._epoch
        generation: bytes | None = b"0"
        if self._redis is not None:
            try:
                raw = await self._redis.mget(self._entry_key(key_hash), self._gen_key())
                value, gen = cast(list[bytes | None], raw)
            except STORE_ERRORS as exc:  # the cache is an optimisation: degrade
                self._outage.failed(exc)
                value, generation = None, None  # unknown generation: do not fill Redis
            else:
                generation = gen or b"0"
            shared = _decode(value) if value is not None else None
            if shared is not None and not self._key_expired(shared[0]):
                self.stats.shared_hits += 1
                self._remember(key_hash, shared[0], epoch, generation)
                return shared[0]
        self.stats.resolver_calls += 1
        tenant: Outcome
        try:
            tenant = await self._resolver(api_key) or Refusal()
        except Unauthenticated as exc:  # the resolver says precisely why (unknown, revoked)
            tenant = Refusal(exc.reason, exc.message)
        self._remember(key_hash, tenant, epoch, generation)
        if generation is not None:
            await self._share(key_hash, tenant, generation)
        return tenant

    def _key_expired(self, outcome: Outcome) -> bool:
        # An expired key is asked about again: the resolver says API_KEY_EXPIRED.
        return (
            isinstance(outcome, TenantContext)
            and outcome.key_expires_at_us != 0
            and outcome.key_expires_at_us <= self._wall_us()
        )

    def _remember(
        self, key_hash: str, tenant: Outcome, epoch: int, generation: bytes | None
    ) -> None:
        if epoch != self._epoch:  # an invalidation landed while we looked it up
            return
        ttl = self._local_ttl_s if isinstance(tenant, TenantContext) else self._negative_local_ttl_s
        self._local[key_hash] = _Entry(tenant, self._clock() + ttl, generation)
        self._local.move_to_end(key_hash)
        while len(self._local) > self._max_entries:
            self._local.popitem(last=False)

    async def _share(self, key_hash: str, tenant: Outcome, generation: bytes) -> None:
        if self._fill is None:
            return
        keys = [self._entry_key(key_hash), self._gen_key()]
        if isinstance(tenant, Refusal):
            value = _NEGATIVE + json.dumps([tenant.reason, tenant.message]).encode()
            ttl_ms = self._negative_shared_ttl_ms
        else:
            value, ttl_ms = json.dumps(tenant.to_dict()).encode(), self._shared_ttl_ms
            if tenant.key_expires_at_us:  # kept no longer than the key lives
                left_ms = (tenant.key_expires_at_us - self._wall_us()) // 1000
                if left_ms <= 0:
                    return
                ttl_ms = min(ttl_ms, left_ms)
            keys.append(self._index_key(tenant.company_id))
        try:
            await self._fill(keys=keys, args=[generation, value, ttl_ms, key_hash])
        except STORE_ERRORS as exc:
            self._outage.failed(exc)

    # -- invalidation --------------------------------------------------------------

    def add_listener(self, listener: InvalidationListener) -> None:
        """Be told of invalidations (e.g. to re-check credentials of open streams)."""
        self._listeners.append(listener)

    def _tell(self, company_id: str | None) -> None:
        for listener in self._listeners:
            try:
                listener(company_id)
            except Exception as exc:  # one broken listener must not stop invalidation
                log.warning("auth cache: invalidation listener failed", extra=error_fields(exc))

    async def invalidate_company(self, company_id: str) -> None:
        """Forget every cached key of `company_id`, here and (via Redis) everywhere."""
        self._drop_company(company_id)
        if self._redis is not None:
            try:
                await broadcast_invalidation(self._redis, company_id, prefix=self._prefix)
            except STORE_ERRORS as exc:
                # Other processes may still serve the key: the caller must retry.
                self._outage.failed(exc)
                raise self._outage.error() from None

    def _drop_company(self, company_id: str) -> None:
        self._epoch += 1
        stale = [
            h
            for h, e in self._local.items()
            if isinstance(e.tenant, TenantContext) and e.tenant.company_id == company_id
        ]
        for key_hash in stale:
            del self._local[key_hash]
        self._tell(company_id)

    def _drop_all(self) -> None:
        self._epoch += 1
        self._local.clear()
        self._tell(None)

    async def _subscribe(self) -> aioredis.client.PubSub:
        assert self._redis is not None
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            # Wait for the confirmation, so an invalidation published after start()
            # returns is guaranteed to reach us.
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                while True:
                    message = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_S)
                    if message is not None and message["type"] == "subscribe":
                        break
        except BaseException:
            await pubsub.aclose()
            raise
        return pubsub

    async def _listen(self, pubsub: aioredis.client.PubSub) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._on_invalidation(message["data"])
            except STORE_ERRORS as exc:
                self._outage.failed(exc)
            except RedisError as exc:
                log.warning("auth cache: invalidation channel lost, resubscribing",
                            extra=error_fields(exc))  # fmt: skip
            finally:
                await pubsub.aclose()
            pubsub = await self._resubscribe()

    async def _resubscribe(self) -> aioredis.client.PubSub:
        backoff = 0.05
        while True:
            # Messages may have been missed while disconnected: start from scratch,
            # and keep doing so until subscribed again (local TTL bounds staleness).
            self._drop_all()
            await asyncio.sleep(backoff)  # reconnect backoff, not a wait for a condition
            backoff = min(backoff * 2, 1.0)
            try:
                pubsub = await self._subscribe()
            except (RedisError, OSError, TimeoutError) as exc:
                self._outage.failed(exc)  # logged once, when the outage began
                continue
            self._drop_all()
            self.stats.resubscriptions += 1
            return pubsub

    def _on_invalidation(self, data: bytes) -> None:
        self.stats.invalidations_seen += 1
        text = data.decode(errors="replace")
        if text.startswith("company:"):
            self._drop_company(text.removeprefix("company:"))
        else:
            self._drop_all()

    def _entry_key(self, key_hash: str) -> str:
        return f"{_entry_prefix(self._prefix)}{key_hash}"

    def _gen_key(self) -> str:
        return f"{self._prefix}auth:gen"

    def _index_key(self, company_id: str) -> str:
        return _index_key(self._prefix, company_id)


async def broadcast_invalidation(
    redis: aioredis.Redis, company_id: str, *, prefix: str = "tickmesh:"
) -> int:
    """For whoever revokes a key or changes a tier (e.g. Storage): invalidate everywhere.

    Returns how many shared entries were deleted.
    """
    script = redis.register_script(_INVALIDATE_LUA)
    deleted = await script(
        keys=[_index_key(prefix, company_id), f"{prefix}auth:gen"],
        args=[_entry_prefix(prefix), _channel(prefix), f"company:{company_id}"],
    )
    return int(cast(int, deleted))


def _channel(prefix: str) -> str:
    return f"{prefix}auth:invalidate"


def _entry_prefix(prefix: str) -> str:
    return f"{prefix}auth:key:"


def _index_key(prefix: str, company_id: str) -> str:
    return f"{prefix}auth:company:{company_id}"


def _decode(value: bytes) -> tuple[Outcome] | None:
    """(tenant,) or (refusal,) for a cached bad key; None when the value is unreadable."""
    if value.startswith(_NEGATIVE):
        try:
            reason, message = json.loads(value[len(_NEGATIVE) :] or b'["API_KEY_INVALID", ""]')
        except (ValueError, TypeError):
            return (Refusal(),)
        return (Refusal(str(reason), str(message) or _DEFAULT_REFUSAL),)
    try:
        return (TenantContext.from_dict(json.loads(value)),)
    except (ValueError, KeyError, TypeError):
        return None
