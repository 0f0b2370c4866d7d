"""Per-broker samples from Ingestion, their sums per period, and the companies served in it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from clickhouse_connect.driver.client import Client
from tickmesh.storage.v1 import storage_pb2

from mesh.errors import FieldViolation, InvalidArgument
from mesh.metering.vocabulary import TICK_ENDPOINT, TICK_SERVICE
from mesh.tiers import Tier
from servers.storage.analytics.validation import (
    ACCEPT_WINDOW,
    TIER_BY_PROTO,
    accepted_times_us,
    check_batch_size,
    period_bounds,
)

# The shape validation.is_broker_name accepts at Ingestion.
BROKER = re.compile(r"[a-z][a-z0-9_]{1,31}")
# An interval longer than a day is a unit bug, not a sample (they are seconds long).
MAX_INTERVAL_US = 86_400_000_000
MAX_COUNT = 10**12
BROKER_COLUMNS = (
    "broker",
    "sample_time",
    "interval_us",
    "up_us",
    "quotes",
    "expected_quotes",
    "invalid",
    "outliers",
    "latency_sum_us",
    "latency_count",
    "latency_p99_us",
    "won_tiers",
    "won_counts",
)


@dataclass(frozen=True, slots=True)
class BrokerFigures:
    """One broker's samples summed over a period."""

    broker: str
    samples: int
    observed_us: int
    up_us: int
    quotes: int
    expected_quotes: float
    invalid: int
    outliers: int
    latency_mean_us: int
    latency_p99_us: int
    best_prices_won: dict[Tier, int]


@dataclass(frozen=True, slots=True)
class ServedCompany:
    """A company the Bridge delivered ticks to in a period, at one tier."""

    company_id: str
    tier: Tier
    ticks: int


def _problem(sample: storage_pb2.BrokerSample, oldest: int, newest: int) -> str | None:
    counts = (sample.quotes, sample.invalid, sample.outliers, sample.latency_count)
    if not BROKER.fullmatch(sample.broker):
        return "broker must match [a-z][a-z0-9_]{1,31}"
    if not oldest <= sample.time_us <= newest:
        return f"time_us must be within the last {ACCEPT_WINDOW.days} days"
    if not 0 < sample.interval_us <= MAX_INTERVAL_US:
        return f"interval_us must be 1-{MAX_INTERVAL_US}"
    if not 0 <= sample.up_us <= sample.interval_us:
        return "up_us must be 0-interval_us"
    if any(not 0 <= c <= MAX_COUNT for c in counts) or sample.latency_sum_us < 0:
        return "counts must be non-negative"
    if not 0 <= sample.expected_quotes <= MAX_COUNT:  # also refuses NaN
        return "expected_quotes must be a non-negative number"
    for won in sample.best_prices_won:
        if won.tier not in TIER_BY_PROTO or not 0 <= won.won <= MAX_COUNT:
            return "best_prices_won needs a known tier and a non-negative count"
    return None


def broker_rows(samples: Sequence[storage_pb2.BrokerSample], now: datetime) -> list[list[object]]:
    """Column-oriented rows of a valid request; INVALID_ARGUMENT naming every bad sample
    (samples are telemetry, as SLA samples are: a bad one refuses the batch)."""
    check_batch_size(len(samples), "samples")
    oldest, newest = accepted_times_us(now)
    columns: list[list[object]] = [[] for _ in BROKER_COLUMNS]
    bad: list[FieldViolation] = []
    for index, s in enumerate(samples):
        problem = _problem(s, oldest, newest)
        if problem is not None:
            bad.append(FieldViolation(f"samples[{index}]", problem))
            continue
        row = (
            s.broker,
            s.time_us,
            s.interval_us,
            s.up_us,
            s.quotes,
            s.expected_quotes,
            s.invalid,
            s.outliers,
            s.latency_sum_us,
            s.latency_count,
            s.latency_p99_us,
            [TIER_BY_PROTO[w.tier].value for w in s.best_prices_won],
            [w.won for w in s.best_prices_won],
        )
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    if bad:
        first = bad[0]
        raise InvalidArgument(
            f"{len(bad)} invalid broker samples; {first.field}: {first.description}",
            violations=bad[:100],
        )
    return columns


def insert_samples(client: Client, columns: list[list[object]]) -> None:
    """Store validated samples."""
    if columns[0]:
        client.insert(
            "broker_samples", columns, column_names=list(BROKER_COLUMNS), column_oriented=True
        )


_FIGURES = """
SELECT broker, count(), sum(interval_us), sum(up_us), sum(quotes), sum(expected_quotes),
       sum(invalid), sum(outliers), sum(latency_sum_us), sum(latency_count),
       quantileExactHigh(0.99)(latency_p99_us), sumMap(won_tiers, won_counts)
FROM broker_samples WHERE toYYYYMM(sample_time) = {m:UInt32}
GROUP BY broker ORDER BY broker
"""
# Served means ticks delivered (and metered) at a tier in the period: what the company pays
# for is what its brokers' costs are split over.
_SERVED = f"""
SELECT company_id, tier, sum(data_points) AS ticks FROM usage_analytics_hourly
WHERE toYYYYMM(hour) = {{m:UInt32}} AND service = '{TICK_SERVICE}'
  AND endpoint = '{TICK_ENDPOINT}'
GROUP BY company_id, tier HAVING ticks > 0 ORDER BY company_id, tier
"""


def query_figures(client: Client, period: str) -> tuple[list[BrokerFigures], list[ServedCompany]]:
    """Each broker's summed samples in `period`, and the companies served in it."""
    start, _ = period_bounds(period)
    params = {"m": start.year * 100 + start.month}
    figures = []
    for row in client.query(_FIGURES, parameters=params).result_rows:
        broker, n, observed, up, quotes, expected, invalid, outliers = row[:8]
        latency_sum, latency_count, p99, (won_tiers, won_counts) = row[8:]
        figures.append(
            BrokerFigures(
                broker=str(broker),
                samples=int(n),
                observed_us=int(observed),
                up_us=int(up),
                quotes=int(quotes),
                expected_quotes=float(expected),
                invalid=int(invalid),
                outliers=int(outliers),
                latency_mean_us=int(latency_sum) // int(latency_count) if latency_count else 0,
                latency_p99_us=int(p99),
                best_prices_won={
                    Tier(t): int(c) for t, c in zip(won_tiers, won_counts, strict=True)
                },
            )
        )
    served = [
        ServedCompany(str(c), Tier(t), int(n))
        for c, t, n in client.query(_SERVED, parameters=params).result_rows
    ]
    return figures, served
