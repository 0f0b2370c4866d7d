"""Per-tenant stream minutes, measured where the Bridge serves (issue 17's SLA samples
beside the latency ones in servers.bridge.sla_sampler).

Every second the Bridge looks at its open streams and adds to the current minute of
each (company, tier):
- stream time, and of it the time served: the Bridge's feed from Ingestion connected
  and the tier with at least one live source. A step longer than MAX_STEP_S (the process
  was paused or starved) counts as open but unserved past MAX_STEP_S: a stopped Bridge
  serves nobody, and the minute shows it;
- updates: ticks written, and ticks due but never written (conflated because the
  stream fell behind), so completeness = written / (written + skipped);
- gap notices (sequences lost upstream), the fewest live sources the tier's prices of
  the tenant's symbols came from, and whether any of those views used fewer than it
  should (mesh.tiers' redundancy: free 1, pro 2, enterprise 3; capped by how many of
  the tier's brokers quote the symbol), from servers.bridge.source_watch.
Served time has the looks' resolution: an outage shows as the lateness of the next look
past MAX_STEP_S, so one shorter than that is missed and a longer one is undercounted by
up to MAX_STEP_S (the latency samples catch the short ones).
A finished minute becomes a StreamMinute that travels with the latency samples through
the SLA spool to Storage.RecordSla. A Bridge killed outright loses its current minute;
seeing that outage needs a prober from outside.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from tickmesh.storage.v1 import storage_pb2

from mesh.protoconv import tier_to_proto
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier
from servers.bridge.source_watch import Sources

OBSERVE_S = 1.0
"""How often the open streams are looked at."""
SLICE = 500
"""Sessions looked at between two yields to the event loop."""
MAX_STEP_S = OBSERVE_S + 0.25
"""The longest step counted as served: a look a quarter second late means the loop did
not run (paused, starved), and an enterprise stream promised 10 ms was not served."""
PARTIAL_S = 10.0
"""The current minute is also sent this often, as far as it went (rows add up), so a
report is at most this far behind rather than a minute."""
MINUTE_US = 60_000_000
SERVICE_NAME = "bridge"


class Observed(Protocol):
    """What is read of a session (servers.bridge.session.Session)."""

    session_id: str
    tenant: TenantContext
    tier: Tier
    opened_at_us: int
    ticks_delivered: int
    skipped_total: int
    gaps_total: int

    @property
    def symbols(self) -> Sequence[str]: ...

    @property
    def closed(self) -> bool: ...


@dataclass(slots=True)
class _Tally:
    stream_us: int = 0
    served_us: int = 0
    delivered: int = 0
    skipped: int = 0
    gaps: int = 0
    sources_min: int = 0  # 0: not known yet
    below_target: bool = False


class StreamMinutes:
    """Adds up each tenant's minute; `take` hands over the finished ones."""

    def __init__(
        self,
        sessions: Callable[[], Iterable[Observed]],
        feed_live: Callable[[], bool],
        sources: Callable[[Tier, Sequence[str]], Sources | None],
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        self._sessions = sessions
        self._feed_live = feed_live
        self._sources = sources
        self._wall_us = wall_us
        self._minute_us = 0  # the minute of the last look
        self._last_us = 0
        self._sent_us = 0  # when the current minute was last sent, as far as it went
        self._tallies: dict[tuple[int, str, Tier], _Tally] = {}  # (minute, company, tier)
        self._seen: dict[str, tuple[int, int, int]] = {}  # session -> counters last added

    def observe(self) -> None:
        """Add the time since the last observation, and every stream's new counts."""
        for _ in self._look(slice_size=0):
            pass

    async def run(self, period_s: float = OBSERVE_S) -> None:
        """Observe every `period_s` until cancelled, SLICE sessions at a time with the
        loop's writes between (5,000 sessions take ~12 ms: one block would stall them)."""
        while True:
            await asyncio.sleep(period_s)  # periodic by design
            for _ in self._look(SLICE):
                await asyncio.sleep(0)

    def _look(self, slice_size: int) -> Iterator[None]:
        now = self._wall_us()
        last = self._last_us or now
        self._last_us = now
        self._sent_us = self._sent_us or now
        live = self._feed_live()
        # The step, split at minute boundaries (a long pause spans several).
        pieces = []
        start = last
        while True:
            minute = start - start % MINUTE_US
            end = min(now, minute + MINUTE_US)
            pieces.append((minute, start, end))
            if end >= now:
                break
            start = end
        self._minute_us = pieces[-1][0]
        # Only the first MAX_STEP_S after the last look can have been served: a longer
        # step means nothing ran here (paused, starved) for the rest of it.
        served_until = last + int(MAX_STEP_S * 1e6)
        # Sessions of a tier mostly share their symbol lists: each list is looked up once.
        by_list: dict[tuple[Tier, Sequence[str]], Sources | None] = {}
        seen = {}
        for index, session in enumerate(list(self._sessions())):
            if slice_size and index and not index % slice_size:
                yield
            if session.closed:  # ended meanwhile: closed() took its last counts
                continue
            key = (session.tier, session.symbols)
            if key not in by_list:
                by_list[key] = self._sources(session.tier, session.symbols)
            behind = by_list[key]
            served = live and (behind is None or behind.most > 0)
            for minute, begin, end in pieces:
                opened = max(begin, session.opened_at_us)
                if end > opened:
                    tally = self._tally(session, minute)
                    tally.stream_us += end - opened
                    if served:
                        tally.served_us += max(0, min(end, served_until) - opened)
            tally = self._tally(session, self._minute_us)
            if behind is not None:
                if behind.fewest:
                    tally.sources_min = min(tally.sources_min or behind.fewest, behind.fewest)
                tally.below_target |= behind.below_target
            self._add_counts(session, tally)
            seen[session.session_id] = self._seen[session.session_id]
        self._seen = seen

    def closed(self, session: Observed) -> None:
        """A stream ended: add what it delivered since the last observation."""
        if session.session_id in self._seen:
            self._add_counts(session, self._tally(session, self._minute_us))
            del self._seen[session.session_id]

    def take(self, finish: bool = False) -> list[storage_pb2.StreamMinute]:
        """The finished minutes since the last call, and the current one as far as it
        went when PARTIAL_S passed or with `finish` (stopping): rows of one minute add up
        in Storage."""
        current = finish or self._last_us - self._sent_us >= PARTIAL_S * 1e6
        if current:
            self._sent_us = self._last_us
        done = []
        for key in sorted(self._tallies):
            minute, company_id, tier = key
            if minute == self._minute_us and not current:
                continue
            t = self._tallies.pop(key)
            if t.stream_us or t.delivered or t.skipped or t.gaps:
                done.append(
                    storage_pb2.StreamMinute(
                        company_id=company_id,
                        tier=tier_to_proto(tier),
                        service=SERVICE_NAME,
                        minute_us=minute,
                        stream_ms=t.stream_us // 1000,
                        available_ms=t.served_us // 1000,
                        ticks_delivered=t.delivered,
                        ticks_skipped=t.skipped,
                        gaps=t.gaps,
                        live_sources_min=t.sources_min,
                        below_redundancy=t.below_target,
                    )
                )
        return done

    def _tally(self, session: Observed, minute: int) -> _Tally:
        key = (minute, session.tenant.company_id, session.tier)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = _Tally()
        return tally

    def _add_counts(self, session: Observed, tally: _Tally) -> None:
        counts = (session.ticks_delivered, session.skipped_total, session.gaps_total)
        delivered, skipped, gaps = self._seen.get(session.session_id, (0, 0, 0))
        tally.delivered += counts[0] - delivered
        tally.skipped += counts[1] - skipped
        tally.gaps += counts[2] - gaps
        self._seen[session.session_id] = counts
