"""Benchmark: what the per-tenant SLA measures cost the Bridge's event loop.

Usage: .venv/bin/python bench/bench_stream_minutes.py [--sessions 1000]

The Bridge's loop pays, per second, one StreamMinutes.observe() over every open session
(servers/bridge/stream_minutes.py) and, per session, at most two SlaSampler.offer()
samples (one judged, one held). Both are timed here alone, over --sessions fake
sessions of 10 symbols each spread over 200 companies and three tiers, with the source
counts Ingestion would report, and set against the loop's second: the share of one core.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from tickmesh.common.v1 import market_pb2, tenancy_pb2
from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.tenancy.context import TenantContext
from mesh.tiers import FREE_SYMBOLS, Tier
from servers.bridge.sla_sampler import SlaSampler
from servers.bridge.source_watch import SourceWatch
from servers.bridge.stream_minutes import SLICE, StreamMinutes

ROUNDS = 300
TIER_PROTO = {Tier.FREE: tenancy_pb2.TIER_FREE, Tier.PRO: tenancy_pb2.TIER_PRO,
              Tier.ENTERPRISE: tenancy_pb2.TIER_ENTERPRISE}  # fmt: skip


@dataclass
class Session:
    session_id: str
    tenant: TenantContext
    tier: Tier
    symbols: tuple[str, ...]
    opened_at_us: int
    ticks_delivered: int = 0
    skipped_total: int = 0
    gaps_total: int = 0
    closed: bool = False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    count = parser.parse_args().sessions
    tiers = list(Tier)
    symbols = tuple(sorted(FREE_SYMBOLS))[:10]
    now = [1_780_000_000_000_000]
    sessions = []
    for n in range(count):
        tier = tiers[n % 3]
        company = f"{n % 200:012x}"
        tenant = TenantContext(company_id=company, user_id="u", tier=tier, key_id="k")
        sessions.append(Session(f"s{n}", tenant, tier, symbols, now[0]))
    watch = SourceWatch(fetch=None)  # type: ignore[arg-type]
    watch.update(
        ingestion_pb2.GetBrokerStatusResponse(
            views=[
                ingestion_pb2.ViewSources(tier=TIER_PROTO[t], symbol=s, sources=2, target=2)
                for t in tiers
                for s in symbols
            ]
        )
    )
    minutes = StreamMinutes(lambda: sessions, lambda: True, watch.sources, lambda: now[0])

    start = time.perf_counter()
    for _ in range(ROUNDS):
        now[0] += 1_000_000
        for session in sessions:
            session.ticks_delivered += 8
        for _ in minutes._look(SLICE):  # as the Bridge's loop runs it, slice by slice
            pass
        minutes.take()
    observe_us = (time.perf_counter() - start) / ROUNDS * 1e6

    tick = market_pb2.TickBatch(
        ticks=[market_pb2.Tick(symbol="EURUSD", ingest_time_us=now[0] - 3_000)]
    ).SerializeToString()
    clock = [0.0]
    sampler = SlaSampler(clock=lambda: clock[0], wall_us=lambda: now[0])
    start = time.perf_counter()
    for _ in range(ROUNDS):
        clock[0] += 1.0
        for session in sessions:
            sampler.offer(session, tick, held=False)
            sampler.offer(session, tick, held=True)
        sampler.take()
    offer_us = (time.perf_counter() - start) / ROUNDS * 1e6

    print(f"{count:,} sessions, {ROUNDS} seconds simulated")
    print(
        f"stream minutes, observe() once a second: {observe_us:,.0f} us "
        f"({observe_us / 1e6:.2%} of a core), {observe_us / count:.2f} us per session"
    )
    share = offer_us / 1e6
    print(f"SLA samples, two per session a second:   {offer_us:,.0f} us "
          f"({share:.2%} of a core), {offer_us / count / 2:.2f} us per sample")  # fmt: skip


if __name__ == "__main__":
    main()
