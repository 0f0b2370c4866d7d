"""Open streams keep honouring their key: a revoked key ends its streams, a tier change
ends them so the client resubscribes under the new tier, both within 1 s.

A Subscribe stream is authenticated once, when it opens; it may then run for days. The
auth cache tells us (pub/sub, milliseconds after Storage revoked a key or changed a
tier) which company's credentials changed: the open streams of that company are checked
again at once. A sweep every second checks every open stream too, so a lost message
(Redis restarting) delays the verdict by at most a second more. Streams are grouped by
key: a thousand streams of one key cost one lookup, usually a local cache hit. With a
shared cache, the sweep first reads its generation (one GET), which every invalidation
bumps: while it is unchanged, only streams whose key has expired are checked again, so
a thousand subscribers with a thousand keys cost one round trip a second, not a
thousand (they cost the Bridge ~5 % of its CPU at 1,000 streams).

A store outage (Storage or Redis unreachable) is not a verdict: streams go on, as new
calls would be refused or served by the cache's last answer anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from mesh.errors import Aborted, MeshError, Unauthenticated
from mesh.logging import error_fields
from mesh.tenancy.context import TenantContext
from servers.bridge.session import Session

log = logging.getLogger(__name__)

KeyAuthenticator = Callable[[str], Awaitable[TenantContext]]
Generation = Callable[[], Awaitable[bytes | None]]
"""The shared auth cache's generation (AuthCache.shared_generation)."""
SWEEP_INTERVAL_S = 1.0


def tier_changed(before: TenantContext, after: TenantContext) -> Aborted:
    """The status a stream ends with when its company's tier changed while it was open."""
    return Aborted(
        f"your subscription changed from {before.tier.value} to {after.tier.value}: "
        "subscribe again to stream under the new tier",
        reason="TIER_CHANGED",
        metadata={"from_tier": before.tier.value, "to_tier": after.tier.value},
    )


class StreamRevalidator:
    """Re-checks the credentials of open streams on invalidation and every second."""

    def __init__(
        self,
        authenticate: KeyAuthenticator,
        *,
        sweep_interval_s: float = SWEEP_INTERVAL_S,
        generation: Generation | None = None,
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        self._authenticate = authenticate
        self._sweep_interval_s = sweep_interval_s
        self._generation = generation
        self._checked_generation: bytes | None = None  # as of the last full check
        self._wall_us = wall_us
        self._keys: dict[str, str] = {}  # session id -> the API key it opened with
        self._sessions: dict[str, Session] = {}
        self._pending: set[str | None] = set()  # companies to check; None: everyone
        self._wake = asyncio.Event()
        self.checks = 0
        """Key lookups made (for tests and metrics)."""

    @contextmanager
    def watching(self, session: Session, api_key: str | None) -> Iterator[None]:
        """Keep `session` under watch while the block runs (no key: nothing to re-check,
        e.g. a stream relayed by another service, which re-checks its own callers)."""
        if api_key is None:
            yield
            return
        self._keys[session.session_id] = api_key
        self._sessions[session.session_id] = session
        try:
            yield
        finally:
            self._keys.pop(session.session_id, None)
            self._sessions.pop(session.session_id, None)

    def on_invalidation(self, company_id: str | None) -> None:
        """The auth cache's listener: this company's credentials changed (None: anyone's)."""
        self._pending.add(company_id)
        self._wake.set()

    async def run(self) -> None:
        """Check on every invalidation, and everyone every sweep interval, until cancelled."""
        while True:
            try:
                async with asyncio.timeout(self._sweep_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                if not self._pending and await self._nothing_changed():
                    await self.check_expired()
                    continue
                self._pending.add(None)
            self._wake.clear()
            pending, self._pending = self._pending, set()
            await self.check(None if None in pending else pending)

    async def _nothing_changed(self) -> bool:
        # Read before the full check that follows a change, so a change during that
        # check is seen by the next sweep.
        if self._generation is None:
            return False
        generation = await self._generation()
        if generation is not None and generation == self._checked_generation:
            return True
        self._checked_generation = generation
        return False

    async def check_expired(self) -> None:
        """Check the open streams whose key has expired (an expiry bumps no generation)."""
        now = self._wall_us()
        by_key: dict[str, list[Session]] = {}
        for session_id, session in list(self._sessions.items()):
            expires = session.tenant.key_expires_at_us
            if expires and expires <= now and not session.closed:
                by_key.setdefault(self._keys[session_id], []).append(session)
        if by_key:
            await asyncio.gather(*(self._check_key(k, s) for k, s in by_key.items()))

    async def check(self, companies: set[str | None] | None = None) -> None:
        """Check the open streams of `companies` (None: all) and end those whose key no
        longer authenticates or whose tier changed."""
        by_key: dict[str, list[Session]] = {}
        for session_id, session in list(self._sessions.items()):
            if session.closed:  # ended, leaving the watch: nothing to decide
                continue
            if companies is None or session.tenant.company_id in companies:
                by_key.setdefault(self._keys[session_id], []).append(session)
        if by_key:
            await asyncio.gather(*(self._check_key(k, s) for k, s in by_key.items()))

    async def _check_key(self, api_key: str, sessions: list[Session]) -> None:
        self.checks += 1
        try:
            tenant = await self._authenticate(api_key)
        except Unauthenticated as exc:
            self._end(sessions, exc)
            return
        except MeshError as exc:  # an outage, not a verdict
            log.debug("could not re-check a stream's key", extra=error_fields(exc))
            return
        except Exception as exc:
            log.warning("could not re-check a stream's key", extra=error_fields(exc))
            return
        changed = [s for s in sessions if s.tenant.tier is not tenant.tier]
        for session in changed:
            self._end([session], tier_changed(session.tenant, tenant))

    def _end(self, sessions: list[Session], error: MeshError) -> None:
        for session in sessions:
            if not session.closed:
                log.info(
                    "ending stream %s of company %s: %s",
                    session.session_id, session.tenant.company_id, error.reason,
                )  # fmt: skip
                session.close(error)
