"""Ingestion's own settings: TICKMESH_INGESTION_* and the config file's [ingestion] table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mesh.config import (
    as_bool,
    as_optional_int,
    as_optional_path,
    int_at_least,
    number_at_least,
    setting,
)


@dataclass(frozen=True, slots=True)
class IngestionSettings:
    """The ring buffer, the publisher's pace and the collectors to run."""

    buffer_depth: int = setting(200_000, cast=int_at_least(1))
    """Ticks the ring buffer keeps for StreamTicks to resume from (at least)."""

    batch_ms: float = setting(2.0, cast=number_at_least(0))
    """Publish at most one batch per this many milliseconds (0: one per event loop turn):
    shorter is less latency, and more, smaller messages downstream."""

    synthetic: bool = setting(True, cast=as_bool)
    """Whether to run the three synthetic broker feeds."""

    quotes_per_second: float = setting(3000.0, cast=number_at_least(0))
    """Total rate of the synthetic feeds, quotes per second across brokers and symbols."""

    seed: int | None = setting(None, cast=as_optional_int)
    """Seed of the synthetic feeds' random walks; None draws a fresh one at each start."""

    replay_file: Path | None = setting(None, cast=as_optional_path)  # noqa: RUF009
    """A CSV of quotes to replay (broker_time_us or time, broker, symbol, bid, ask)."""

    replay_speed: float = setting(1.0, cast=number_at_least(0))
    """Replay pace: 1.0 as recorded, 2.0 twice as fast, 0 as fast as possible."""

    broker_sample_seconds: float = setting(10.0, cast=number_at_least(0.1))
    """How often each broker's uptime, completeness, latency, outliers and best prices won
    are sampled and sent to Storage (broker analytics, `tickmesh brokers`)."""

    heartbeat_seconds: float = setting(1.0, cast=number_at_least(0.01))
    """How often an idle StreamTicks stream gets a heartbeat."""

    @property
    def synthetic_on(self) -> bool:
        """Whether synthetic feeds actually run (on, at a rate above zero)."""
        return self.synthetic and self.quotes_per_second > 0
