"""Open streams keep honouring their key: a revoked key ends its streams, a tier change
ends them so the client resubscribes under the new tier, both within 1 s.

A Subscribe stream is authenticated once, when it opens; it may then run for days. The
auth cache tells us (pub/sub, milliseconds after Storage revoked a key or changed a
tier) which company's credentials changed: the open streams of that company are checked
again at once. A sweep every second checks every open stream too, so a lost message
(Redis restarting) delays the verdict by at most a second more. Streams are grouped by
key: a thousand streams of one key cost one lookup, usually a local cache hit.

A store outage (Storage or Redis unreachable) is not a verdict: streams go on, as new
calls would be refused or served by the cache's last answer anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from mesh.errors import Aborted, MeshError, Unauthenticated
from mesh.logging import error_fields
from mesh.tenancy.context import TenantContext
from servers.bridge.session import Session

log = logging.getLogger(__name__)

KeyAuthenticator = Callable[[str], Awaitable[TenantContext]]
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
        self, authenticate: KeyAuthenticator, *, sweep_interval_s: float = SWEEP_INTERVAL_S
    ) -> None:
        self._authenticate = authenticate
        self._sweep_interval_s = sweep_interval_s
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
                self._pending.add(None)
            self._wake.clear()
            pending, self._pending = self._pending, set()
            await self.check(None if None in pending else pending)

    async def check(self, companies: set[str | None] | None = None) -> None:
        """Check the open streams of `companies` (None: all) and end those whose key no
        longer authenticates or whose tier changed."""
        by_key: dict[str, list[Session]] = {}
        for session_id, session in list(self._sessions.items()):
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
