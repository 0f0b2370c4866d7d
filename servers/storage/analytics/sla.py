"""Delivery-latency samples per tier, and the SLA figures Billing credits from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from clickhouse_connect.driver.client import Client
from tickmesh.storage.v1 import storage_pb2

from mesh.errors import FieldViolation, InvalidArgument
from mesh.tiers import Tier
from servers.storage.analytics.queries import check_company
from servers.storage.analytics.stream_minutes import StreamFigures, query_minutes
from servers.storage.analytics.validation import (
    ACCEPT_WINDOW,
    COMPANY_ID,
    NAME,
    TIER_BY_PROTO,
    accepted_times_us,
    check_batch_size,
    period_bounds,
)

# An hour of latency is no sample, it is a unit bug.
MAX_LATENCY_US = 3_600_000_000
SLA_COLUMNS = (
    "company_id", "tier", "service", "latency_us", "within_target", "sample_time", "held",
)  # fmt: skip
# Latency histogram bucket bounds, microseconds (1-2-5 steps, 1 ms to 10 s); a sample at
# or above the last bound falls in a last, open bucket.
HISTOGRAM_BOUNDS_US = (*(m * 10**e for e in range(3, 7) for m in (1, 2, 5)), 10**7)


@dataclass(frozen=True, slots=True)
class SlaFigures:
    """SLA figures of one tier and company (company_id "" for the tier total)."""

    tier: Tier
    company_id: str
    samples: int
    within_target: int
    latency_p50_us: int
    latency_p99_us: int
    # Share of sampled minutes in which at least half the samples met the tier's
    # latency target, rounded down (never overstate availability) to 4 decimals.
    availability_percent: Decimal
    minutes: int = 0
    """Sampled minutes."""
    minutes_missed: int = 0
    """Sampled minutes in which fewer than half the samples met the latency target."""
    streams: StreamFigures | None = None
    """Completeness, stream availability and live sources (None: no stream minutes)."""
    held_samples: int = 0
    """Samples of messages held by design, beside `samples` (the judged ones)."""
    latency_with_hold_p50_us: int = 0
    latency_with_hold_p99_us: int = 0
    """Over every sample, the throttle's hold included."""
    histogram: tuple[tuple[int, int], ...] = ()
    """Judged samples per latency bucket: (upper bound in µs, 0 for the open last one;
    samples), every bucket from the fastest up; empty without judged samples."""


# arrayFirstIndex is 1-based and 0 when no bound is above the latency: the open bucket.
_HISTOGRAM = """
SELECT tier, company_id, arrayFirstIndex(b -> latency_us < b, [{bounds}]) AS bucket, count()
FROM performance_sla WHERE {where} AND NOT held GROUP BY {bucket_grouping}
"""


def histogram(counts: dict[int, int]) -> tuple[tuple[int, int], ...]:
    """Every bucket, fastest first, from counts by arrayFirstIndex (0: the open one)."""
    if not counts:
        return ()
    bounded = [(bound, counts.get(i + 1, 0)) for i, bound in enumerate(HISTOGRAM_BOUNDS_US)]
    return (*bounded, (0, counts.get(0, 0)))


def sla_rows(samples: Sequence[storage_pb2.SlaSample], now: datetime) -> list[list[object]]:
    """Column-oriented rows of a valid request; INVALID_ARGUMENT naming every bad sample.

    RecordSlaResponse has no per-sample rejection list, so a bad sample refuses the
    request (samples are telemetry: the producer fixes its bug and nothing is billed).
    """
    check_batch_size(len(samples), "samples")
    oldest, newest = accepted_times_us(now)
    columns: list[list[object]] = [[] for _ in SLA_COLUMNS]
    bad: list[FieldViolation] = []
    for index, sample in enumerate(samples):
        tier = TIER_BY_PROTO.get(sample.tier)
        problem = None
        if not COMPANY_ID.fullmatch(sample.company_id):
            problem = "company_id must be 12 lowercase hex characters"
        elif tier is None:
            problem = f"unknown or unset tier {sample.tier}"
        elif not NAME.fullmatch(sample.service):
            problem = "service must be 1-64 of [A-Za-z0-9_./-]"
        elif not 0 <= sample.latency_us <= MAX_LATENCY_US:
            problem = f"latency_us must be 0-{MAX_LATENCY_US}"
        elif not oldest <= sample.time_us <= newest:
            problem = f"time_us must be within the last {ACCEPT_WINDOW.days} days"
        elif sample.held and sample.within_target:
            problem = "a held sample is not judged against the target: within_target false"
        if problem is not None:
            bad.append(FieldViolation(f"samples[{index}]", problem))
            continue
        for column, value in zip(
            columns,
            (
                sample.company_id,
                tier.value,  # type: ignore[union-attr]
                sample.service,
                sample.latency_us,
                sample.within_target,
                sample.time_us,
                sample.held,
            ),
            strict=True,
        ):
            column.append(value)
    if bad:
        raise InvalidArgument(f"{len(bad)} invalid SLA samples", violations=bad[:100])
    return columns


def insert_samples(client: Client, columns: list[list[object]]) -> None:
    """Store validated samples."""
    if columns[0]:
        client.insert(
            "performance_sla", columns, column_names=list(SLA_COLUMNS), column_oriented=True
        )


# Judged samples are the ones not held by design; latency "with hold" spans them all.
_SAMPLE_FIGURES = """
SELECT tier, company_id, countIf(NOT held), countIf(within_target),
       quantilesExactLowIf(0.5, 0.99)(latency_us, NOT held),
       countIf(held), quantilesExactLow(0.5, 0.99)(latency_us)
FROM performance_sla WHERE {where} GROUP BY {grouping}
"""
# A minute counts once per (tier, company) and once per tier total; GROUPING SETS fill
# the company of the tier-total set with '' (never a real company id).
_MINUTE_FIGURES = """
SELECT tier, company_id, count(), countIf(ok * 2 >= n) FROM (
    SELECT tier, company_id, toStartOfMinute(sample_time) AS minute,
           count() AS n, countIf(within_target) AS ok
    FROM performance_sla WHERE {where} AND NOT held GROUP BY {minute_grouping}
) GROUP BY tier, company_id
"""


def query_sla(client: Client, period: str, company_id: str | None) -> list[SlaFigures]:
    """Figures per tier and company for a period; with no company also per-tier totals.

    Minutes without samples are not counted: an outage must show up as failing samples
    from a prober, since silence may just mean nobody was subscribed.
    """
    start, _ = period_bounds(period)
    where = "toYYYYMM(sample_time) = {m:UInt32}"
    params: dict[str, object] = {"m": start.year * 100 + start.month}
    if company_id:
        where += " AND company_id = {c:String}"
        params["c"] = company_id = check_company(company_id)
        grouping, minute_grouping = "tier, company_id", "tier, company_id, minute"
        bucket_grouping = "tier, company_id, bucket"
    else:
        grouping = "GROUPING SETS ((tier, company_id), (tier))"
        minute_grouping = "GROUPING SETS ((tier, company_id, minute), (tier, minute))"
        bucket_grouping = "GROUPING SETS ((tier, company_id, bucket), (tier, bucket))"
    figures = client.query(
        _SAMPLE_FIGURES.format(where=where, grouping=grouping), parameters=params
    ).result_rows
    minutes = {
        (str(t), str(c)): (int(n), int(good))
        for t, c, n, good in client.query(
            _MINUTE_FIGURES.format(where=where, minute_grouping=minute_grouping),
            parameters=params,
        ).result_rows
    }
    buckets: dict[tuple[str, str], dict[int, int]] = {}
    for t, c, bucket, n in client.query(
        _HISTOGRAM.format(
            bounds=",".join(map(str, HISTOGRAM_BOUNDS_US)),
            where=where,
            bucket_grouping=bucket_grouping,
        ),
        parameters=params,
    ).result_rows:
        buckets.setdefault((str(t), str(c)), {})[int(bucket)] = int(n)
    streams = query_minutes(client, start.year * 100 + start.month, company_id)
    out = []
    for tier, company, count, within, (p50, p99), held, (h50, h99) in figures:
        total, good = minutes.get((str(tier), str(company)), (0, 0))
        # Nothing judged (every message held by design): nothing missed.
        availability = (
            (Decimal(100 * good) / Decimal(total)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
            if total
            else Decimal("100.0000")
        )
        out.append(
            SlaFigures(
                Tier(tier),
                str(company),
                int(count),
                int(within),
                int(p50),
                int(p99),
                availability,
                total,
                total - good,
                streams.pop((str(tier), str(company)), None),
                int(held),
                int(h50),
                int(h99),
                histogram(buckets.get((str(tier), str(company)), {})),
            )
        )
    # Streams without a latency sample (every message held by the tier's throttle, as
    # free's may be): their figures stand alone, latency availability unknown (100).
    for stream in streams.values():
        out.append(SlaFigures(stream.tier, stream.company_id, 0, 0, 0, 0, Decimal("100.0000"),
                              streams=stream))  # fmt: skip
    out.sort(key=lambda f: (f.tier.rank, f.company_id))
    return out
