"""One tier's share of the upstream: its conflating throttle and its groups of sessions.

Every session of a tier sees the same ticks at the same interval, so the throttle runs
once per tier, not once per session: an upstream batch costs one throttle decision per
subscribed symbol and tier, and one timer per tier holds back what came too early.
Sessions with the same symbols form a group that shares each emitted Chunk (and its
joined encoding), so a batch touches only the sessions that receive something, each
with one append to its queue, a slice of sessions at a time (HandOut). Everything here
is synchronous and never waits.

A session that joined later than a tier's last update of a symbol still sees at most
one update per interval: the tier's emissions are a superset of what it receives.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from mesh.tiers import Tier, limits
from mesh.wire import released
from servers.bridge.chunk import Chunk
from servers.bridge.projection import BatchView, Entry
from servers.bridge.throttle import Throttle


class Member(Protocol):
    """What a feed needs of the sessions it serves (servers.bridge.session.Session): a
    structural type, so the feed and the session need not import each other."""

    @property
    def session_id(self) -> str: ...

    @property
    def symbols(self) -> tuple[str, ...]: ...

    def push(self, chunk: Chunk) -> None: ...

    def push_gap(self, from_seq: int, to_seq: int, reason: str) -> None: ...


class Cancellable(Protocol):
    """A scheduled callback (asyncio.TimerHandle, or a test's fake)."""

    def cancel(self) -> None: ...


Schedule = Callable[[float, Callable[[], None]], Cancellable]
"""Run a callback after a delay in seconds (loop.call_later in production)."""

Soon = Callable[[Callable[[], None]], Any]
"""Run a callback on the event loop's next turn (loop.call_soon in production)."""

SLICE = 32
"""Sessions of a tier an emission is handed to at a time."""
SLICE_GAP_S = 0.004
"""Time between a tier's slices: a slice's writes hold the loop ~1.5 ms (32 x ~45 us),
so the loop stays free for other tiers more than half the time."""
SPREAD = 0.2
"""...unless that would take longer than this share of the tier's interval to reach every
session: then the slices come closer together."""
MAX_BACKLOG = 64
"""Emissions a tier may have in progress before the oldest is finished at once."""


class Group:
    """The sessions of one tier subscribed to exactly the same symbols."""

    __slots__ = ("sessions", "symbols")

    def __init__(self, symbols: frozenset[str]) -> None:
        self.symbols = symbols
        self.sessions: dict[str, Member] = {}


Deliver = Callable[[Member], None]


class HandOut:
    """Hands a tier's emissions to its sessions SLICE at a time, in order.

    Each emission (a chunk for every group that gets one, or a gap notice for all) goes
    out in slices SLICE_GAP_S apart, or closer so as to reach everyone within SPREAD of
    the tier's interval (free: 200 ms, pro: 20 ms). Handed out at once, 800 free
    subscribers' writes, and then their 800 write completions, would hold the event loop
    for ~35 ms at ~45 us a write, and an enterprise subscriber's next message with it; so
    would 180 pro subscribers in 28 small groups. Spread, the loop stays free between
    slices. An emission waits for the one before it, so every session gets its messages
    in order, and each starts a slice further along, so no session is always the last to
    get its update.
    """

    __slots__ = ("_backlog", "_rotation", "_schedule", "_soon", "_spread_s")

    def __init__(self, soon: Soon, schedule: Schedule, spread_s: float) -> None:
        self._soon = soon
        self._schedule = schedule
        self._spread_s = spread_s
        self._rotation = 0
        # (the emission's deliveries, how many are done)
        self._backlog: deque[tuple[list[tuple[Deliver, Member]], int]] = deque()

    def add(self, deliveries: list[tuple[Deliver, Member]]) -> None:
        """Run every delivery: at once when the emission is small and none is pending."""
        if not deliveries:  # every session it was for has left
            return
        if not self._backlog and len(deliveries) <= SLICE:
            for deliver, session in deliveries:
                deliver(session)  # a session that left meanwhile is closed: a no-op
            return
        start = self._rotation % len(deliveries)
        self._rotation = start + SLICE
        self._backlog.append((deliveries[start:] + deliveries[:start], 0))
        if len(self._backlog) > MAX_BACKLOG:
            # The loop cannot keep up: finish the oldest emission at once (bounded memory;
            # each session's own queue conflates what its writer cannot send).
            oldest, done = self._backlog.popleft()
            for deliver, session in oldest[done:]:
                deliver(session)
        if len(self._backlog) == 1:
            self._next_slice()

    def _next_slice(self) -> None:
        if not self._backlog:
            return
        deliveries, done = self._backlog[0]
        end = done + SLICE
        for deliver, session in deliveries[done:end]:
            deliver(session)
        if end >= len(deliveries):
            self._backlog.popleft()
        else:
            self._backlog[0] = (deliveries, end)
        if not self._backlog:
            return
        if len(self._backlog) > 1:
            self._soon(self._next_slice)  # behind: catch up a slice per loop turn
        else:
            slices = -(-len(self._backlog[0][0]) // SLICE)
            self._schedule(min(SLICE_GAP_S, self._spread_s / slices), self._next_slice)


class TierFeed:
    """Throttles the upstream once for a tier and hands each group its share."""

    def __init__(
        self,
        tier: Tier,
        *,
        watermark: Callable[[], int],
        schedule: Schedule,
        soon: Soon,
        clock: Callable[[], float],
        wall_us: Callable[[], int],
    ) -> None:
        self.tier = tier
        interval_s = limits(tier).update_interval_ms / 1000
        # Each tier's grid is offset by half its interval: the intervals are powers of ten
        # apart, so no two tiers ever flush at the same moment (free's 800-session
        # burst never lands on an enterprise flush).
        self._throttle: Throttle[Entry] = Throttle(interval_s, phase_s=interval_s / 2)
        self._hand_out = HandOut(soon, schedule, interval_s * SPREAD)
        self._watermark = watermark
        self._schedule = schedule
        self._clock = clock
        self._wall_us = wall_us
        self._groups: dict[frozenset[str], Group] = {}
        self._by_symbol: dict[str, list[Group]] = {}
        self._timer: Cancellable | None = None
        self._timer_at: float | None = None
        self.carried_at: dict[str, tuple[int, bool]] = {}
        """symbol -> when its latest emitted tick went out: the last_seq of the chunk that
        carried it, and whether that was a timer flush, sent after the batch with the
        same last_seq. A client whose last message is earlier never received it."""

    # -- membership -------------------------------------------------------------

    def join(self, session: Member) -> None:
        """Start feeding `session` (its tier is this feed's)."""
        key = frozenset(session.symbols)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = Group(key)
            for symbol in key:
                self._by_symbol.setdefault(symbol, []).append(group)
        group.sessions[session.session_id] = session

    def leave(self, session: Member) -> None:
        """Stop feeding `session`."""
        key = frozenset(session.symbols)
        group = self._groups.get(key)
        if group is None or group.sessions.pop(session.session_id, None) is None:
            return
        if not group.sessions:
            del self._groups[key]
            for symbol in key:
                groups = self._by_symbol[symbol]
                groups.remove(group)
                if not groups:
                    del self._by_symbol[symbol]

    def holds(self, symbol: str) -> bool:
        """True when an update of `symbol` is held back, due at the tier's next flush."""
        return self._throttle.holds(symbol)

    @property
    def sessions(self) -> int:
        """How many sessions this feed serves."""
        return sum(len(group.sessions) for group in self._groups.values())

    # -- fed by the fan-out ---------------------------------------------------------

    def on_batch(self, view: BatchView, now: float) -> None:
        """Emit the batch's latest tick of each subscribed symbol the throttle lets through."""
        by_symbol = self._by_symbol
        if not by_symbol:
            return
        latest = view.latest[self.tier]
        # Walk the smaller side: five subscribed symbols never scan a 500-symbol batch.
        if len(by_symbol) < len(latest):
            picked = [i for s in by_symbol if (i := latest.get(s)) is not None]
        else:
            picked = [i for s, i in latest.items() if s in by_symbol]
        picked.sort()
        projected = view.projected(self.tier)
        throttle = self._throttle
        out: list[Entry] = []
        for i in picked:
            entry = projected.entry(i)
            if throttle.offer(entry[1], entry, now):
                out.append(entry)
            else:
                self._arm(throttle.deadline(entry[1]), now)
        if self._timer_at is not None and self._timer_at <= now:
            # Held updates now due go out with this batch (one message, not two); the
            # timer is for a quiet market, when no batch comes.
            out += self._released(throttle.pop_due(now))
            out.sort()
            self._rearm(now)
        if out:
            self._emit(out, view.last_seq, False)

    def flush_due(self) -> None:
        """Emit the held-back updates whose interval has elapsed (the tier's timer)."""
        self._timer, self._timer_at = None, None
        now = self._clock()
        due = self._released(self._throttle.pop_due(now))
        if due:
            due.sort()
            self._emit(due, self._watermark(), True)
        self._rearm(now)

    def _released(self, held: list[Entry]) -> list[Entry]:
        """Held updates stamped with the time they go (Tick.released_time_us), so their
        latency can be told from the hold the tier's interval imposes by design."""
        if not held:
            return held
        wall = self._wall_us()
        return [(seq, symbol, released(encoding, wall)) for seq, symbol, encoding in held]

    def _rearm(self, now: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, None
        next_due = self._throttle.next_due()
        if next_due is not None:
            self._arm(next_due, now)

    def close(self) -> None:
        """Cancel the timer and forget held updates (the Bridge is stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        self._throttle.clear()

    def _arm(self, at: float, now: float) -> None:
        if self._timer_at is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._schedule(max(at - now, 0.0), self.flush_due)

    def _emit(self, entries: list[Entry], last_seq: int, flushed: bool) -> None:
        carried, when = self.carried_at, (last_seq, flushed)
        by_symbol = self._by_symbol
        shares: dict[Group, list[Entry]] = {}
        for entry in entries:
            carried[entry[1]] = when
            for group in by_symbol.get(entry[1], ()):
                share = shares.get(group)
                if share is None:
                    shares[group] = [entry]
                else:
                    share.append(entry)
        deliveries: list[tuple[Deliver, Member]] = []
        for group, share in shares.items():
            push_to = _pusher(Chunk(share, last_seq, flushed))  # one chunk, shared by the group
            deliveries += [(push_to, session) for session in group.sessions.values()]
        self._hand_out.add(deliveries)

    def publish_gap(self, from_seq: int, to_seq: int, reason: str) -> None:
        """Queue a gap notice for every session, in order with the chunks before it."""

        def deliver(session: Member) -> None:
            session.push_gap(from_seq, to_seq, reason)

        self._hand_out.add([
            (deliver, session)
            for group in self._groups.values()
            for session in group.sessions.values()
        ])  # fmt: skip


def _pusher(chunk: Chunk) -> Deliver:
    """A delivery that queues `chunk` on a member (one per group: the chunk is shared)."""

    def push_to(session: Member) -> None:
        session.push(chunk)

    return push_to
