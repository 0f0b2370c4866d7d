"""The tick pipeline: validate → aggregate → batch → ring buffer + fan-out, and broker health."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from servers.ingestion.aggregator import Aggregator, AggregatorRules
from servers.ingestion.broker_health import BrokerBoard
from servers.ingestion.clock import Clock, wall_clock_us
from servers.ingestion.publisher import BatchPublisher
from servers.ingestion.quote import RawQuote
from servers.ingestion.ring_buffer import RingBuffer
from servers.ingestion.stream import DEFAULT_MAX_PENDING_TICKS, TickFanout
from servers.ingestion.symbols import UNIVERSE, SymbolSpec
from servers.ingestion.tier_views import SwitchLog
from servers.ingestion.validation import ValidationRules, is_broker_name, validate_quote

SWEEP_PERIOD_S = 0.25
"""How often silent sources are looked for: a view fails over at most this long after
its source's last quote turned stale."""


class SubmitResult(NamedTuple):
    """The outcome of one submit call."""

    accepted: int
    rejections: list[tuple[int, str]]
    """(position in the submitted sequence, reason), in position order."""
    last_seq: int
    """Sequence of the last tick these quotes produced; 0 if none."""


class IngestionPipeline:
    """Everything between a collector (or PublishTicks) and the StreamTicks consumers."""

    def __init__(
        self,
        *,
        clock: Clock = wall_clock_us,
        buffer_depth: int = 200_000,
        universe: Mapping[str, SymbolSpec] = UNIVERSE,
        validation: ValidationRules = ValidationRules(),  # noqa: B008 - frozen
        rules: AggregatorRules = AggregatorRules(),  # noqa: B008 - frozen
        batch_interval_s: float = 0.002,
        max_batch_ticks: int = 500,
        max_pending_ticks: int = DEFAULT_MAX_PENDING_TICKS,
    ) -> None:
        self.clock = clock
        self.universe = universe
        self._validation = validation
        self.board = BrokerBoard()
        self.switches = SwitchLog()
        self.aggregator = Aggregator(
            clock=clock,
            universe=universe,
            rules=rules,
            is_down=self.board.is_down,
            switches=self.switches,
        )
        self.ring = RingBuffer(buffer_depth, last_seq=self.aggregator.last_seq)
        self.fanout = TickFanout(max_pending_ticks)
        self.publisher = BatchPublisher(
            self.ring, self.fanout, clock, interval_s=batch_interval_s, max_ticks=max_batch_ticks
        )

    def submit(self, quotes: Sequence[RawQuote]) -> SubmitResult:
        """Validate and aggregate a small batch of quotes; the ticks publish shortly after."""
        now = self.clock()
        good: list[RawQuote] = []
        positions: list[int] = []
        rejections: list[tuple[int, str]] = []
        board = self.board
        for position, quote in enumerate(quotes):
            if quote.broker_time_us == 0:
                # proto3 cannot tell "unset" from 0: a feed without its own clock is
                # stamped on arrival rather than refused as 56 years old.
                quote = quote._replace(broker_time_us=now)
            reason = validate_quote(quote, now, self._validation, self.universe)
            if reason is None:
                good.append(quote)
                positions.append(position)
                board.record(quote.broker, now, now - quote.broker_time_us, accepted=True)
            else:
                rejections.append((position, reason))
                if is_broker_name(quote.broker):
                    board.record(quote.broker, now, 0, accepted=False)
        result = self.aggregator.ingest(good, now)
        for index, reason in result.rejections:
            rejections.append((positions[index], reason))
            board.reject(good[index].broker)
        if result.rejections:
            rejections.sort()
        self.publisher.add(result.ticks)
        last_seq = result.ticks[-1].sequence if result.ticks else 0
        return SubmitResult(len(good) - len(result.rejections), rejections, last_seq)

    def set_broker_up(self, broker: str, up: bool, expected_rate: float | None = None) -> None:
        """A collector's feed (dis)connected; a broker going down can move the best prices."""
        now = self.clock()
        self.board.set_up(broker, up, now, expected_rate)
        if not up:
            self.publisher.add(self.aggregator.reevaluate(broker, now))

    def sweep(self) -> None:
        """Fail over the tier views whose sources went silent (see Aggregator.sweep)."""
        self.publisher.add(self.aggregator.sweep(self.clock()))

    async def run_sweeps(self, period_s: float = SWEEP_PERIOD_S) -> None:
        """Sweep every `period_s` until cancelled."""
        while True:
            await asyncio.sleep(period_s)  # periodic by design
            self.sweep()

    def flush(self) -> None:
        """Publish pending ticks now rather than at the next batch interval."""
        self.publisher.flush()

    @property
    def last_seq(self) -> int:
        """The newest sequence the aggregator issued."""
        return self.aggregator.last_seq

    def close(self) -> None:
        """Publish what is pending and end every stream."""
        self.publisher.close()
        self.fanout.close()
