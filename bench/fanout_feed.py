"""The fan-out benchmark's quote feed: one random walk per symbol, shared by the
PublishTicks publisher (bench_fanout.py) and the NATS peer's publisher (nats_peer.py),
so both carry the same prices at the same rate."""

from __future__ import annotations

import random
import time

from tickmesh.common.v1 import market_pb2

from servers.ingestion.symbols import BROKERS, UNIVERSE


class QuoteMaker:
    """Quotes that move each symbol's mid by a fraction of its spread, brokers rotating."""

    def __init__(self, symbols: list[str], seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.mids = {s: UNIVERSE[s].mid for s in symbols}

    def quote(self, symbol: str, index: int) -> market_pb2.Quote:
        rng, mids = self.rng, self.mids
        spec = UNIVERSE[symbol]
        point = 10.0**-spec.digits
        spread = max(spec.typical_spread, 2 * point)
        move = max(point, rng.uniform(0.2, 0.6) * spread)
        mids[symbol] += move if rng.random() < 0.5 else -move
        bid = round(mids[symbol] - spread / 2, spec.digits)
        ask = round(max(mids[symbol] + spread / 2, bid + point), spec.digits)
        return market_pb2.Quote(
            symbol=symbol, bid=bid, ask=ask, broker=BROKERS[index % len(BROKERS)],
            broker_time_us=time.time_ns() // 1000, bid_size=1e6, ask_size=1e6,
        )  # fmt: skip


class Pacer:
    """When each symbol is due: `rate` updates a second, symbols' phases spread evenly."""

    def __init__(self, symbols: list[str], rate: float, start: float) -> None:
        self.symbols = symbols
        self.period = period = 1.0 / rate
        self.due = {s: start + i * period / len(symbols) for i, s in enumerate(symbols)}

    def take(self, now: float) -> list[tuple[int, str]]:
        """(index, symbol) of each symbol due at `now`; each then waits a period."""
        out = []
        due, period = self.due, self.period
        for i, s in enumerate(self.symbols):
            if due[s] <= now:
                due[s] = max(due[s] + period, now)  # never a burst after a stall
                out.append((i, s))
        return out
