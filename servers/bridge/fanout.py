"""The fan-out: hands each upstream batch to the tier feeds, keeps the latest tick per
symbol (snapshots, resume catch-up) and what it can vouch for (gap notices on resume).

Dispatch is synchronous and bounded per session (no awaits), so a slow subscriber can
never delay the upstream or another subscriber; and opening a session (snapshot,
catch-up, registration) happens between two batches, so nothing slips in between. A
batch costs work per tier and per group of sessions with the same symbols, plus one
queue append per session that receives something: sessions it has nothing for are
never visited.

Resume: the Bridge's data is conflated (throttle, slow-consumer policy), so a resumed
session gets what a live subscriber that fell behind gets: the latest tick of every
granted symbol that changed after the resume point, complete up to the watermark. That
needs only the latest tick per symbol, not a replay of every batch, and no extra
Ingestion stream per resuming client. Sequences the Bridge never saw (before its
upstream started, or announced lost by Ingestion) are reported as gap notices.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tickmesh.common.v1 import market_pb2

from mesh.errors import Unavailable
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier
from servers.bridge.entitlements import Grant, Universe
from servers.bridge.projection import BatchView, Entry
from servers.bridge.session import Session, SessionLimits, SlaSink
from servers.bridge.tier_feed import Schedule, Soon, TierFeed
from servers.bridge.usage_counter import UsageCounter

MAX_GAPS_KEPT = 64
BEFORE_START = "requested sequences are older than this bridge's upstream stream"


def _stopping() -> Unavailable:
    # UNAVAILABLE, as for any server going away, so every client retries it (the SDK
    # resumes after its last sequence); a stream ending OK would read as "subscription over".
    # One per session: each handler raises its own.
    return Unavailable(
        "the bridge is stopping; reconnect and resume after your last sequence",
        reason="SHUTTING_DOWN",
    )


@dataclass(frozen=True, slots=True)
class Opened:
    """A registered session with what its ack carries."""

    session: Session
    snapshot: list[Entry] | None  # sorted by sequence; None when the client declined it
    start_seq: int  # the first sequence the session's batches continue from


class Fanout:
    """Every open session of this Bridge, fed by the upstream (it is the UpstreamSink)."""

    def __init__(
        self,
        usage: UsageCounter,
        *,
        bounds: SessionLimits = SessionLimits(),  # noqa: B008 - frozen, shared safely
        clock: Callable[[], float] = time.monotonic,
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        schedule: Schedule | None = None,
        sla: SlaSink | None = None,
        on_close: Callable[[Session], None] | None = None,
    ) -> None:
        self.usage = usage
        self._sla = sla
        self._on_close = on_close
        """Told of every session that ends (its last counts, for the SLA minutes)."""
        self.universe: Universe | None = None
        self.watermark = 0
        """The last upstream sequence dispatched to every session."""
        self._bounds = bounds
        self._clock = clock
        self._wall_us = wall_us
        self._schedule = schedule
        self._sessions: dict[str, Session] = {}
        self._feeds: dict[Tier, TierFeed] = {}  # made on first use: the loop's timers
        # tier -> symbol -> batch holding the tier view's latest tick
        self._last: dict[Tier, dict[str, BatchView]] = {tier: {} for tier in Tier}
        self._covered_after: int | None = None  # every later sequence reached us or a gap
        self._gaps: deque[tuple[int, int, str]] = deque()
        self._closed = False
        usage.sources.append(self.meter)

    # -- the upstream sink ----------------------------------------------------

    def on_universe(self, symbols: Iterable[str]) -> None:
        """The symbols Ingestion knows (at start and on every reconnect)."""
        self.universe = Universe.of(symbols)

    def on_batch(self, ticks: Sequence[market_pb2.Tick], first_seq: int, last_seq: int) -> None:
        """A new upstream batch (already free of sequences seen before)."""
        view = BatchView(ticks, first_seq, last_seq)
        if self._covered_after is None:
            self._covered_after = first_seq - 1
        self.watermark = max(self.watermark, last_seq)
        for tier, latest in view.latest.items():
            self._last[tier].update(dict.fromkeys(latest, view))
        now = self._clock()
        for feed in self._feeds.values():
            feed.on_batch(view, now)

    def latest_tick(self, symbol: str, tier: Tier) -> market_pb2.Tick | None:
        """The latest tick of `symbol` in `tier`'s view this Bridge has seen (all fields:
        the caller projects), or None."""
        view = self._last[tier].get(symbol)
        return None if view is None else view.ticks[view.latest[tier][symbol]]

    def on_gap(self, from_seq: int, to_seq: int, reason: str) -> None:
        """Ingestion says these sequences are lost: tell every session, remember for resumes."""
        if self._covered_after is None:
            # Before our first batch nothing was vouched for anyway.
            self._covered_after = to_seq
        else:
            self._gaps.append((from_seq, to_seq, reason))
            if len(self._gaps) > MAX_GAPS_KEPT:
                # Forgetting a gap would make a later resume across it silent: stop
                # vouching for anything up to its end instead.
                self._covered_after = max(self._covered_after, self._gaps.popleft()[1])
        self.watermark = max(self.watermark, to_seq)
        for feed in self._feeds.values():
            feed.publish_gap(from_seq, to_seq, reason)

    # -- sessions -------------------------------------------------------------

    def open(
        self,
        session_id: str,
        tenant: TenantContext,
        grant: Grant,
        *,
        resume_from: int = 0,
        snapshot: bool = True,
        max_batch_ticks: int = 0,
    ) -> Opened:
        """Register a session; it receives every batch dispatched from now on."""
        if self._closed:
            raise _stopping()
        watermark = self.watermark
        live = resume_from == 0 or resume_from >= watermark
        feed = self._feed(grant.tier)
        session = Session(
            session_id=session_id,
            tenant=tenant,
            grant=grant,
            usage=self.usage,
            watermark=lambda: self.watermark,
            wall_us=self._wall_us,
            bounds=self._bounds,
            max_batch_ticks=max_batch_ticks,
            # The snapshot (live) or the client (resumed) has everything up to here.
            floor_seq=max(watermark, resume_from) if live else resume_from,
            sla=self._sla,
        )
        # The snapshot is the state just before start_seq; a resumed session gets the
        # symbols that changed after its resume point as catch-up batches instead.
        cut = watermark if live else resume_from
        before: list[Entry] = []
        after: list[Entry] = []
        last = self._last[grant.tier]
        for symbol in grant.symbols:
            view = last.get(symbol)
            if view is None:
                continue
            entry = view.latest_entry(symbol, grant.tier)
            if live:
                before.append(entry)
            elif feed.holds(symbol):
                # Held back by the tier's throttle, so the client never got it: the flush
                # brings it if it is past the floor, otherwise the catch-up must.
                if entry[0] <= cut:
                    after.append(entry)
            elif entry[0] > cut or feed.carried_at.get(symbol, (0, False)) > (cut, False):
                # Changed after the resume point, or went out after the client's last
                # message (a throttled update sent later than it arrived).
                after.append(entry)
            else:
                before.append(entry)
        if live:
            start_seq = max(watermark, resume_from) + 1
        else:
            start_seq = resume_from + 1
            for from_seq, to_seq, reason in self._gaps_after(resume_from):
                session.push_gap(from_seq, to_seq, reason)
            after.sort()
            session.catch_up(after, watermark)
        self._sessions[session_id] = session
        feed.join(session)
        return Opened(session, sorted(before) if snapshot else None, start_seq)

    def _feed(self, tier: Tier) -> TierFeed:
        feed = self._feeds.get(tier)
        if feed is None:
            if self._schedule is not None:
                schedule = self._schedule
                soon: Soon = functools.partial(schedule, 0.0)
            else:
                loop = asyncio.get_running_loop()
                schedule, soon = loop.call_later, loop.call_soon
            feed = self._feeds[tier] = TierFeed(
                tier,
                watermark=lambda: self.watermark,
                schedule=schedule,
                soon=soon,
                clock=self._clock,
                wall_us=self._wall_us,
            )
        return feed

    def _gaps_after(self, resume_from: int) -> list[tuple[int, int, str]]:
        covered = self._covered_after if self._covered_after is not None else self.watermark
        gaps = []
        if resume_from < covered:
            gaps.append((resume_from + 1, covered, BEFORE_START))
        for from_seq, to_seq, reason in self._gaps:
            if to_seq > max(resume_from, covered):
                gaps.append((max(from_seq, resume_from + 1), to_seq, reason))
        return gaps

    def close(self, session_id: str) -> None:
        """Unregister a session (its stream ended)."""
        session = self._sessions.pop(session_id, None)
        if session is not None:
            self._feeds[session.tier].leave(session)
            session.close()
            if self._on_close is not None:
                self._on_close(session)

    def close_all(self) -> None:
        """End every stream with UNAVAILABLE and refuse new ones (the server is stopping)."""
        self._closed = True
        for session in self._sessions.values():
            session.close(_stopping())
        for feed in self._feeds.values():
            feed.close()

    def sweep_idle(self) -> None:
        """Let every session count a heartbeat period (run every heartbeat_s / 2)."""
        for session in self._sessions.values():
            session.sweep_idle()

    async def run_heartbeats(self) -> None:
        """Sweep for idle sessions until cancelled: one timer for all of them."""
        while True:
            await asyncio.sleep(self._bounds.heartbeat_s / 2)  # periodic by design
            self.sweep_idle()

    def meter(self) -> None:
        """Hand every session's deliveries since the last call to the usage counter."""
        for session in self._sessions.values():
            session.meter()

    def sessions(self) -> list[Session]:
        """Every open session."""
        return list(self._sessions.values())

    def get(self, session_id: str) -> Session | None:
        """The open session with this id, if any."""
        return self._sessions.get(session_id)

    def sessions_of(self, company_id: str) -> list[Session]:
        """The open sessions of one company."""
        return [s for s in self._sessions.values() if s.tenant.company_id == company_id]
