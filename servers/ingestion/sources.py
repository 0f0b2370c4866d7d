"""The collectors Ingestion's settings ask for: synthetic feeds, a replay file, or none."""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from mesh.config import ConfigError, env_key
from servers.ingestion.clock import Clock
from servers.ingestion.collectors import (
    CollectorSet,
    ReplayCollector,
    SyntheticFeed,
    synthetic_feeds,
)
from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.settings import IngestionSettings

_log = logging.getLogger(__name__)


def build_collectors(
    settings: IngestionSettings, pipeline: IngestionPipeline, clock: Clock
) -> CollectorSet:
    """The collectors `settings` ask for, feeding `pipeline`."""
    runners: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
    feeds: list[SyntheticFeed] = []
    if settings.synthetic_on:
        seed = settings.seed
        if seed is None:
            seed = random.SystemRandom().randrange(2**32)
        # Logged so that a lively run can be reproduced with TICKMESH_INGESTION_SEED.
        _log.info("synthetic feeds: %g quotes/s, seed %d", settings.quotes_per_second, seed)
        feeds = synthetic_feeds(
            pipeline, total_rate=settings.quotes_per_second, seed=seed, clock=clock
        )
        runners += [(feed.name, functools.partial(feed.run, clock)) for feed in feeds]
    if settings.replay_file is not None:
        try:
            replay = ReplayCollector(
                settings.replay_file, pipeline, speed=settings.replay_speed, clock=clock
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{env_key('replay_file', 'ingestion')}: {exc}") from None
        runners.append(("replay", replay.run))
    # Not a collector, but it lives exactly as long as they do: views fail over when a
    # feed falls silent even if no other quote of the symbol arrives.
    runners.append(("source-sweep", pipeline.run_sweeps))
    return CollectorSet(runners, feeds)
