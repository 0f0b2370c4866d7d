"""Broker collectors: three synthetic feeds and a CSV replay, tasks pushing small batches."""

from __future__ import annotations

import asyncio
import bisect
import csv
import enum
import itertools
import logging
import math
import random
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from mesh.lifecycle import cancel
from servers.ingestion.clock import Clock
from servers.ingestion.quote import RawQuote
from servers.ingestion.symbols import UNIVERSE, SymbolSpec
from servers.ingestion.validation import is_broker_name

_log = logging.getLogger(__name__)


class QuoteSink(Protocol):
    """Where collectors deliver: the pipeline (or a test double)."""

    def submit(self, quotes: Sequence[RawQuote]) -> object: ...

    def set_broker_up(self, broker: str, up: bool, expected_rate: float | None = None) -> None: ...


class FeedHold(enum.Enum):
    """How an operator stopped a feed."""

    DISCONNECTED = "disconnected"
    SILENT = "silent"


@dataclass(frozen=True, slots=True)
class BrokerProfile:
    """How one simulated broker behaves."""

    name: str
    share: float
    """Its share of the total quote rate."""
    latency_ms: float
    """Median delay from its clock to our arrival."""
    jitter_ms: float
    dropout_rate: float
    """Share of its quotes that never arrive."""
    outlier_rate: float
    """Share of its quotes priced far off the market."""
    mean_uptime_s: float
    """Mean time between disconnects."""
    downtime_s: tuple[float, float]
    """A disconnect lasts between these many seconds."""


PROFILES: tuple[BrokerProfile, ...] = (
    BrokerProfile("ic_markets", 0.40, 2.0, 1.0, 0.002, 0.0005, 1800.0, (2.0, 8.0)),
    BrokerProfile("pepperstone", 0.35, 3.5, 1.5, 0.005, 0.0005, 1200.0, (2.0, 10.0)),
    BrokerProfile("fxcm", 0.25, 12.0, 6.0, 0.010, 0.0010, 600.0, (3.0, 15.0)),
)


class SyntheticMarket:
    """The 'true' mid of every symbol: a geometric random walk shared by all brokers."""

    def __init__(
        self, universe: Mapping[str, SymbolSpec], rng: random.Random, start_us: int
    ) -> None:
        self._rng = rng
        self._specs = universe
        self._mids = {symbol: spec.mid for symbol, spec in universe.items()}
        self._times = dict.fromkeys(universe, start_us)

    def mid(self, symbol: str, at_us: int) -> float:
        """The mid at `at_us`, walked forward lazily since the symbol was last asked."""
        elapsed_us = at_us - self._times[symbol]
        if elapsed_us > 0:
            self._times[symbol] = at_us
            step = self._specs[symbol].daily_vol * math.sqrt(elapsed_us / 86_400e6)
            self._mids[symbol] *= math.exp(step * self._rng.gauss(0.0, 1.0))
        return self._mids[symbol]


class SyntheticFeed:
    """One simulated broker: call step() with the time; run() does it as a task."""

    def __init__(
        self,
        profile: BrokerProfile,
        market: SyntheticMarket,
        sink: QuoteSink,
        *,
        rate: float,
        rng: random.Random,
        universe: Mapping[str, SymbolSpec] = UNIVERSE,
    ) -> None:
        self.profile = profile
        self.name = profile.name
        self.rate = rate
        self._market = market
        self._sink = sink
        self._rng = rng
        self._specs = universe
        self.symbols = [s for s, spec in universe.items() if profile.name in spec.brokers]
        # Majors trade (and tick) more than exotics.
        weights = [3.0 if universe[s].major else 1.0 for s in self.symbols]
        self._cumulative = list(itertools.accumulate(weights))
        self.up = True
        self._down_until_us = 0
        self._carry = 0.0
        self.sent = self.dropped = self.outliers = self.disconnects = 0
        self.held: FeedHold | None = None
        """An operator's outage: the feed sends nothing until released."""

    def connect(self) -> None:
        """Report the feed connected."""
        self.up = True
        self._sink.set_broker_up(self.name, True, self.rate)

    def hold(self, hold: FeedHold | None) -> None:
        """Stop the feed (disconnected: reported down; silent: up but quoting nothing,
        so its quotes go stale), or with None resume it."""
        was, self.held = self.held, hold
        if hold is FeedHold.DISCONNECTED and self.up:
            self.up = False
            self.disconnects += 1
            self._sink.set_broker_up(self.name, False, self.rate)
        elif hold is not FeedHold.DISCONNECTED and was is FeedHold.DISCONNECTED:
            self.connect()
        self._carry = 0.0

    def step(self, now_us: int, elapsed_s: float) -> list[RawQuote]:
        """The quotes this broker delivers over the last `elapsed_s` seconds (maybe none)."""
        rng, profile = self._rng, self.profile
        if self.held is not None:
            return []
        if self.up:
            if rng.random() < elapsed_s / profile.mean_uptime_s:
                self.up = False
                self.disconnects += 1
                self._down_until_us = now_us + int(rng.uniform(*profile.downtime_s) * 1e6)
                self._sink.set_broker_up(self.name, False, self.rate)
                return []
        elif now_us < self._down_until_us:
            return []
        else:
            self.connect()
        self._carry += self.rate * elapsed_s
        count = int(self._carry)
        self._carry -= count
        quotes = []
        total = self._cumulative[-1]
        for _ in range(count):
            symbol = self.symbols[bisect.bisect_left(self._cumulative, rng.random() * total)]
            if rng.random() < profile.dropout_rate:
                self.dropped += 1
                continue
            quotes.append(self._quote(self._specs[symbol], now_us))
        self.sent += len(quotes)
        return quotes

    def _quote(self, spec: SymbolSpec, now_us: int) -> RawQuote:
        rng, profile = self._rng, self.profile
        latency_us = max(100, int(rng.gauss(profile.latency_ms, profile.jitter_ms) * 1000))
        broker_time = now_us - latency_us
        center = self._market.mid(spec.symbol, broker_time)
        center += rng.gauss(0.0, 0.15 * spec.typical_spread)  # brokers disagree a little
        if rng.random() < profile.outlier_rate:
            self.outliers += 1
            center += rng.choice((-1.0, 1.0)) * rng.uniform(30.0, 80.0) * spec.typical_spread
        half = spec.broker_spread(self.name) * rng.uniform(0.8, 1.4) / 2
        digits = spec.digits
        bid = round(center - half, digits)
        ask = round(center + half, digits)
        if ask <= bid:
            ask = round(bid + 10.0**-digits, digits)
        size = spec.reference_size * rng.choice((0.1, 0.2, 0.4, 0.6, 1.0))
        return RawQuote(spec.symbol, bid, ask, self.name, broker_time, size, size)

    async def run(self, clock: Clock, step_s: float = 0.02) -> None:
        """Deliver quotes every `step_s` until cancelled."""
        self.connect()
        last = clock()
        while True:
            await asyncio.sleep(step_s)
            now = clock()
            try:
                quotes = self.step(now, min(1.0, (now - last) / 1e6))
                if quotes:
                    self._sink.submit(quotes)
            except Exception:  # a bug in one step must not silence the feed for good
                _log.exception("synthetic feed %s failed a step", self.name)
            last = now


def synthetic_feeds(
    sink: QuoteSink,
    *,
    total_rate: float,
    seed: int,
    clock: Clock,
    universe: Mapping[str, SymbolSpec] = UNIVERSE,
    profiles: Sequence[BrokerProfile] = PROFILES,
) -> list[SyntheticFeed]:
    """One feed per profile over one shared market, each with its own seeded RNG."""
    market = SyntheticMarket(universe, random.Random(f"{seed}:market"), clock())
    return [
        SyntheticFeed(
            profile,
            market,
            sink,
            rate=total_rate * profile.share,
            rng=random.Random(f"{seed}:{profile.name}"),
            universe=universe,
        )
        for profile in profiles
    ]


REPLAY_COLUMNS = ("broker", "symbol", "bid", "ask")


class ReplayCollector:
    """Plays quotes from a CSV file: broker_time_us or time (ISO 8601), broker, symbol, bid,
    ask, optionally bid_size and ask_size. speed 1.0 keeps the recorded pace, 2.0 doubles
    it, 0 plays as fast as the pipeline takes it."""

    def __init__(
        self,
        path: Path,
        sink: QuoteSink,
        *,
        speed: float,
        clock: Clock,
        batch_size: int = 500,
    ) -> None:
        with path.open(newline="") as fh:
            header = next(csv.reader(fh), [])
        missing = [c for c in REPLAY_COLUMNS if c not in header]
        if "broker_time_us" not in header and "time" not in header:
            missing.append("broker_time_us or time")
        if missing:
            raise ValueError(f"replay file {path}: missing column(s) {', '.join(missing)}")
        self.path = path
        self._sink = sink
        self._speed = speed
        self._clock = clock
        self._batch_size = batch_size
        self.played = self.skipped = 0
        self.done = False

    async def run(self) -> None:
        """Play the file once, then report its brokers down."""
        brokers: set[str] = set()
        batch: list[RawQuote] = []
        start_us = self._clock()
        first_us: int | None = None
        with self.path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                recorded = _row_time_us(row)
                if recorded is None:
                    self.skipped += 1
                    continue
                if first_us is None:
                    first_us = recorded
                if self._speed > 0:
                    due = start_us + int((recorded - first_us) / self._speed)
                    wait_us = due - self._clock()
                    if wait_us > 0:
                        self._deliver(batch)
                        await asyncio.sleep(wait_us / 1e6)
                    broker_time = due  # recorded times, moved to now, so they pass validation
                else:
                    broker_time = 0  # as fast as possible: stamped on arrival
                broker = row.get("broker") or ""
                if broker not in brokers and is_broker_name(broker):
                    brokers.add(broker)
                    self._sink.set_broker_up(broker, True, None)
                batch.append(
                    RawQuote(
                        row.get("symbol") or "",
                        _number(row.get("bid")),
                        _number(row.get("ask")),
                        broker,
                        broker_time,
                        _number(row.get("bid_size"), 0.0),
                        _number(row.get("ask_size"), 0.0),
                    )
                )
                if len(batch) >= self._batch_size:
                    self._deliver(batch)
                    await asyncio.sleep(0)  # let the streams run between batches
        self._deliver(batch)
        for broker in sorted(brokers):
            self._sink.set_broker_up(broker, False, None)
        self.done = True

    def _deliver(self, batch: list[RawQuote]) -> None:
        if batch:
            self._sink.submit(list(batch))
            self.played += len(batch)
            batch.clear()


def _row_time_us(row: Mapping[str, str | None]) -> int | None:
    try:
        if row.get("broker_time_us"):
            return int(row["broker_time_us"] or "")
        text = (row.get("time") or "").strip().replace("Z", "+00:00")
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1_000_000)


def _number(text: str | None, default: float = math.nan) -> float:
    # A malformed price becomes NaN, so validation refuses it with a reason and the broker's
    # rejected count shows it, rather than the row vanishing silently.
    if text is None or not text.strip():
        return default
    try:
        return float(text)
    except ValueError:
        return math.nan


class CollectorSet:
    """Runs collectors as named asyncio tasks; stop() cancels and awaits them."""

    def __init__(
        self,
        runners: Sequence[tuple[str, Callable[[], Coroutine[Any, Any, None]]]],
        feeds: Sequence[SyntheticFeed] = (),
    ):
        self._runners = list(runners)
        self._tasks: list[asyncio.Task[None]] = []
        self.feeds: dict[str, SyntheticFeed] = {feed.name: feed for feed in feeds}
        """The synthetic feeds by broker, for SetBrokerFeed."""

    @property
    def started(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        """Start every collector (once)."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(_logged(name, run()), name=f"collector:{name}")
                for name, run in self._runners
            ]

    async def stop(self) -> None:
        """Cancel every collector and wait for it to end."""
        tasks, self._tasks = self._tasks, []
        await cancel(*tasks)


async def _logged(name: str, run: Coroutine[Any, Any, None]) -> None:
    try:
        await run
    except asyncio.CancelledError:
        raise
    except Exception:
        _log.exception("collector %s stopped on an unexpected error", name)
