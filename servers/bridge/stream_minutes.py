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

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tickmesh.storage.v1 import storage_pb2

from mesh.protoconv import tier_to_proto
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier
from servers.bridge.source_watch import Sources

OBSERVE_S = 1.0
"""How often the open streams are looked at."""
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
        self._minute_us = 0
        self._last_us = 0
        self._sent_us = 0  # when the current minute was last sent, as far as it went
        self._tallies: dict[tuple[str, Tier], _Tally] = {}
        self._seen: dict[str, tuple[int, int, int]] = {}  # session -> counters last added
        self._done: list[storage_pb2.StreamMinute] = []

    def observe(self) -> None:
        """Add the time since the last observation, and every stream's new counts."""
        now = self._wall_us()
        last = self._last_us or now
        self._last_us = now
        self._sent_us = self._sent_us or now
        sessions = list(self._sessions())
        live = self._feed_live()
        found = {id(s): self._sources(s.tier, s.symbols) for s in sessions}
        # Only the first MAX_STEP_S after the last look can have been served: a longer
        # step means nothing ran here (paused, starved) for the rest of it.
        served_until = last + int(MAX_STEP_S * 1e6)
        start = last
        while True:  # the step, split at minute boundaries (a long pause spans several)
            minute = start - start % MINUTE_US
            if minute != self._minute_us:
                self._finish()
                self._minute_us = minute
            end = min(now, minute + MINUTE_US)
            for session in sessions:
                opened = max(start, session.opened_at_us)
                open_us = max(0, end - opened)
                if not open_us:
                    continue
                tally = self._tally(session)
                tally.stream_us += open_us
                behind = found[id(session)]
                if live and (behind is None or behind.most > 0):
                    tally.served_us += max(0, min(end, served_until) - opened)
            if end >= now:
                break
            start = end
        seen = {}
        for session in sessions:
            tally = self._tally(session)
            behind = found[id(session)]
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
            self._add_counts(session, self._tally(session))
            del self._seen[session.session_id]

    def take(self, finish: bool = False) -> list[storage_pb2.StreamMinute]:
        """The finished minutes since the last call, and the current one as far as it
        went when PARTIAL_S passed or with `finish` (stopping): rows of one minute add up
        in Storage."""
        if finish or self._last_us - self._sent_us >= PARTIAL_S * 1e6:
            self._finish()
            self._sent_us = self._last_us
        done, self._done = self._done, []
        return done

    def _tally(self, session: Observed) -> _Tally:
        key = (session.tenant.company_id, session.tier)
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

    def _finish(self) -> None:
        for (company_id, tier), t in self._tallies.items():
            if not (t.stream_us or t.delivered or t.skipped or t.gaps):
                continue
            self._done.append(
                storage_pb2.StreamMinute(
                    company_id=company_id,
                    tier=tier_to_proto(tier),
                    service=SERVICE_NAME,
                    minute_us=self._minute_us,
                    stream_ms=t.stream_us // 1000,
                    available_ms=t.served_us // 1000,
                    ticks_delivered=t.delivered,
                    ticks_skipped=t.skipped,
                    gaps=t.gaps,
                    live_sources_min=t.sources_min,
                    below_redundancy=t.below_target,
                )
            )
        self._tallies = {}
