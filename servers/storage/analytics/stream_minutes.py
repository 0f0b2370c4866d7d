"""Per-tenant stream minutes: availability, completeness and live sources, as QuerySla
reports them beside the latency samples (servers.storage.analytics.sla).

Rows of the same company, tier and minute add up: a Bridge restarted within a minute
sends the rest of it as another row, and two Bridges serving one tenant each send
theirs. A minute is "below redundancy" when any row of it says a view of the tenant's
symbols used fewer sources than it should (the tier's redundancy, mesh.tiers: free 1,
pro 2, enterprise 3, capped by how many of the tier's brokers quote the symbol).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from clickhouse_connect.driver.client import Client
from tickmesh.storage.v1 import storage_pb2

from mesh.errors import FieldViolation, InvalidArgument
from mesh.tiers import Tier
from servers.storage.analytics.validation import (
    ACCEPT_WINDOW,
    COMPANY_ID,
    NAME,
    TIER_BY_PROTO,
    accepted_times_us,
    check_batch_size,
)

TABLE = "performance_stream_minutes"
MINUTE_US = 60_000_000
MINUTE_MS = 60_000
MAX_STREAM_MS = 10**9
"""Stream time of one row: 60 s times ~16,000 streams; more is a unit bug."""
MAX_TICKS = 10**10
MAX_SOURCES = 64
COLUMNS = (
    "company_id", "tier", "service", "minute", "stream_ms", "available_ms",
    "ticks_delivered", "ticks_skipped", "gaps", "live_sources_min", "below_redundancy",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class StreamFigures:
    """One tier's (and company's) stream minutes over a period."""

    tier: Tier
    company_id: str
    stream_minutes: int
    completeness_percent: Decimal
    stream_availability_percent: Decimal
    minutes_below_redundancy: int
    live_sources_min: int


def minute_rows(minutes: Sequence[storage_pb2.StreamMinute], now: datetime) -> list[list[object]]:
    """Column-oriented rows of a valid request; INVALID_ARGUMENT naming every bad row
    (telemetry, as latency samples are: the producer fixes its bug, nothing is billed)."""
    check_batch_size(len(minutes), "minutes")
    oldest, newest = accepted_times_us(now)
    columns: list[list[object]] = [[] for _ in COLUMNS]
    bad: list[FieldViolation] = []
    for index, m in enumerate(minutes):
        tier = TIER_BY_PROTO.get(m.tier)
        problem = _problem(m, tier, oldest, newest)
        if problem is not None:
            bad.append(FieldViolation(f"minutes[{index}]", problem))
            continue
        assert tier is not None  # _problem checked it
        values = (
            m.company_id, tier.value, m.service, m.minute_us // 1_000_000, m.stream_ms,
            m.available_ms, m.ticks_delivered, m.ticks_skipped, m.gaps, m.live_sources_min,
            m.below_redundancy,
        )  # fmt: skip
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    if bad:
        raise InvalidArgument(f"{len(bad)} invalid stream minutes", violations=bad[:100])
    return columns


def _problem(
    m: storage_pb2.StreamMinute, tier: Tier | None, oldest: int, newest: int
) -> str | None:
    if not COMPANY_ID.fullmatch(m.company_id):
        return "company_id must be 12 lowercase hex characters"
    if tier is None:
        return f"unknown or unset tier {m.tier}"
    if not NAME.fullmatch(m.service):
        return "service must be 1-64 of [A-Za-z0-9_./-]"
    if m.minute_us % MINUTE_US or not oldest <= m.minute_us <= newest:
        return f"minute_us must start a minute within the last {ACCEPT_WINDOW.days} days"
    if not 0 <= m.available_ms <= m.stream_ms <= MAX_STREAM_MS:
        return f"need 0 <= available_ms <= stream_ms <= {MAX_STREAM_MS}"
    if not (0 <= m.ticks_delivered <= MAX_TICKS and 0 <= m.ticks_skipped <= MAX_TICKS):
        return f"ticks_delivered and ticks_skipped must be 0-{MAX_TICKS}"
    if not 0 <= m.gaps <= MAX_TICKS:
        return f"gaps must be 0-{MAX_TICKS}"
    if not 0 <= m.live_sources_min <= MAX_SOURCES:
        return f"live_sources_min must be 0-{MAX_SOURCES}"
    return None


def insert_minutes(client: Client, columns: list[list[object]]) -> None:
    """Store validated rows."""
    if columns[0]:
        client.insert(TABLE, columns, column_names=list(COLUMNS), column_oriented=True)


# One row per (tier, company, minute) first (rows of a minute add up), then per (tier,
# company); with no company asked for, GROUPING SETS add per-tier totals (company '')
# in the inner query, which the outer one keeps apart by their company ''.
# `minIf(..., > 0)` ignores rows that did not know their sources (0).
_FIGURES = """
SELECT tier, company_id, count(), sum(delivered), sum(skipped), sum(open_ms), sum(served_ms),
       countIf(below), minIf(sources_min, sources_min > 0)
FROM (
    SELECT tier, company_id, minute,
           sum(ticks_delivered) AS delivered, sum(ticks_skipped) AS skipped,
           sum(stream_ms) AS open_ms, sum(available_ms) AS served_ms,
           minIf(live_sources_min, live_sources_min > 0) AS sources_min,
           max(below_redundancy) AS below
    FROM performance_stream_minutes WHERE {where}
    GROUP BY {minute_grouping}
) GROUP BY tier, company_id
"""


def query_minutes(
    client: Client, month: int, company_id: str | None
) -> dict[tuple[str, str], StreamFigures]:
    """Stream figures by (tier value, company id) for the month `month` (YYYYMM)."""
    where = "toYYYYMM(minute) = {m:UInt32}"
    params: dict[str, object] = {"m": month}
    if company_id:
        where += " AND company_id = {c:String}"
        params["c"] = company_id
        minute_grouping = "tier, company_id, minute"
    else:
        minute_grouping = "GROUPING SETS ((tier, company_id, minute), (tier, minute))"
    rows = client.query(
        _FIGURES.format(where=where, minute_grouping=minute_grouping),
        parameters=params,
    ).result_rows
    out = {}
    for tier, company, minutes, delivered, skipped, open_ms, served_ms, below, fewest in rows:
        due = int(delivered) + int(skipped)
        out[(str(tier), str(company))] = StreamFigures(
            Tier(tier),
            str(company),
            int(minutes),
            _percent(int(delivered), due),
            _percent(int(served_ms), int(open_ms)),
            int(below),
            int(fewest or 0),
        )
    return out


def _percent(part: int, whole: int) -> Decimal:
    # Rounded down: never overstate what a tenant got. Nothing due is all of it.
    if whole <= 0:
        return Decimal("100.0000")
    return (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
