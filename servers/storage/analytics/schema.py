"""The ClickHouse schema of the usage analytics store: idempotent DDL applied at open."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

# Raw usage rows are kept 400 days: longer than the richest market-data history (365
# days, enterprise) plus the 35-day acceptance window, so a year-over-year comparison
# and a late billing dispute can still be answered from raw rows.
USAGE_TTL_DAYS = 400
# Monthly billing aggregates are tiny; keep them as long as the longest trading-data
# retention of the catalog (1095 days, enterprise) for revenue and churn history.
BILLING_TTL_DAYS = 1095
# Delivery-latency samples back SLA credits; a credit can be disputed for a year.
SLA_TTL_DAYS = 400

USAGE_TRACKING = f"""
CREATE TABLE IF NOT EXISTS usage_tracking (
    idempotency_key String,
    company_id String,
    user_id String,
    tier LowCardinality(String),
    service LowCardinality(String),
    endpoint LowCardinality(String),
    data_points UInt64,
    processing_time_us UInt64,
    event_time DateTime64(6, 'UTC'),
    billing_period LowCardinality(String),
    received_at DateTime64(6, 'UTC') DEFAULT now64(6),
    -- The dedupe check looks events up by key. A projection lives inside each data
    -- part, so a key is durable exactly when its row is: no window where one is
    -- committed without the other (a separate key table or view could lag).
    PROJECTION by_key (SELECT idempotency_key ORDER BY idempotency_key)
) ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (company_id, user_id, event_time, service, endpoint)
TTL toDateTime(event_time) + INTERVAL {USAGE_TTL_DAYS} DAY
-- Monthly partitions expire whole: dropping a part is free, row-wise TTL rewrites.
SETTINGS ttl_only_drop_parts = 1
"""

# Targets of the materialized views are explicit tables (the `TO` form), so they can be
# inspected, altered and rebuilt from usage_tracking without touching the views.
USAGE_HOURLY = f"""
CREATE TABLE IF NOT EXISTS usage_analytics_hourly (
    company_id String,
    hour DateTime('UTC'),
    tier LowCardinality(String),
    service LowCardinality(String),
    endpoint LowCardinality(String),
    user_id String,
    events UInt64,
    data_points UInt64,
    processing_time_us UInt64
) ENGINE = SummingMergeTree((events, data_points, processing_time_us))
PARTITION BY toYYYYMM(hour)
ORDER BY (company_id, hour, tier, service, endpoint, user_id)
TTL hour + INTERVAL {USAGE_TTL_DAYS} DAY
SETTINGS ttl_only_drop_parts = 1
"""

USAGE_HOURLY_SELECT = """
SELECT company_id, toStartOfHour(event_time) AS hour, tier, service, endpoint, user_id,
       count() AS events, sum(data_points) AS data_points,
       sum(processing_time_us) AS processing_time_us
FROM usage_tracking
"""
USAGE_HOURLY_GROUP = "GROUP BY company_id, hour, tier, service, endpoint, user_id"

USAGE_HOURLY_MV = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS usage_analytics_hourly_mv TO usage_analytics_hourly
AS {USAGE_HOURLY_SELECT} {USAGE_HOURLY_GROUP}
"""

# billing_period is a plain String here: a TTL expression may not be LowCardinality.
BILLING_MONTHLY = f"""
CREATE TABLE IF NOT EXISTS billing_monthly (
    company_id String,
    billing_period String,
    service LowCardinality(String),
    tier LowCardinality(String),
    user_id String,
    events SimpleAggregateFunction(sum, UInt64),
    data_points SimpleAggregateFunction(sum, UInt64),
    processing_time_us SimpleAggregateFunction(sum, UInt64),
    last_event_time SimpleAggregateFunction(max, DateTime64(6, 'UTC'))
) ENGINE = AggregatingMergeTree
PARTITION BY billing_period
ORDER BY (company_id, billing_period, service, tier, user_id)
TTL toDate(concat(billing_period, '-01')) + INTERVAL {BILLING_TTL_DAYS} DAY
SETTINGS ttl_only_drop_parts = 1
"""

BILLING_MONTHLY_SELECT = """
SELECT company_id, toString(billing_period) AS billing_period, service, tier, user_id,
       count() AS events, sum(data_points) AS data_points,
       sum(processing_time_us) AS processing_time_us, max(event_time) AS last_event_time
FROM usage_tracking
"""
BILLING_MONTHLY_GROUP = "GROUP BY company_id, billing_period, service, tier, user_id"

BILLING_MONTHLY_MV = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS billing_monthly_mv TO billing_monthly
AS {BILLING_MONTHLY_SELECT} {BILLING_MONTHLY_GROUP}
"""

PERFORMANCE_SLA = f"""
CREATE TABLE IF NOT EXISTS performance_sla (
    company_id String,
    tier LowCardinality(String),
    service LowCardinality(String),
    latency_us UInt64,
    within_target Bool,
    sample_time DateTime64(6, 'UTC'),
    -- Held by design (the tier's throttle): reported with the hold, never judged.
    held Bool DEFAULT false
) ENGINE = MergeTree
PARTITION BY toYYYYMM(sample_time)
ORDER BY (tier, company_id, sample_time)
TTL toDateTime(sample_time) + INTERVAL {SLA_TTL_DAYS} DAY
SETTINGS ttl_only_drop_parts = 1
"""

# Per-tenant stream minutes (servers.storage.analytics.stream_minutes), kept as long as
# the latency samples they stand beside in an SLA report.
PERFORMANCE_STREAM_MINUTES = f"""
CREATE TABLE IF NOT EXISTS performance_stream_minutes (
    company_id String,
    tier LowCardinality(String),
    service LowCardinality(String),
    minute DateTime('UTC'),
    stream_ms UInt64,
    available_ms UInt64,
    ticks_delivered UInt64,
    ticks_skipped UInt64,
    gaps UInt64,
    live_sources_min UInt8,
    below_redundancy Bool
) ENGINE = MergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (tier, company_id, minute)
TTL minute + INTERVAL {SLA_TTL_DAYS} DAY
SETTINGS ttl_only_drop_parts = 1
"""

# Ingestion's per-broker samples back the broker report (keep / review / drop); a year
# of them answers "how did this broker do last year" when its contract comes up.
BROKER_SAMPLES = f"""
CREATE TABLE IF NOT EXISTS broker_samples (
    broker LowCardinality(String),
    sample_time DateTime64(6, 'UTC'),
    interval_us UInt64,
    up_us UInt64,
    quotes UInt64,
    expected_quotes Float64,
    invalid UInt64,
    outliers UInt64,
    latency_sum_us UInt64,
    latency_count UInt64,
    latency_p99_us UInt64,
    -- Best prices won per tier view: parallel arrays, summed with sumMap.
    won_tiers Array(LowCardinality(String)),
    won_counts Array(UInt64)
) ENGINE = MergeTree
PARTITION BY toYYYYMM(sample_time)
ORDER BY (broker, sample_time)
TTL toDateTime(sample_time) + INTERVAL {SLA_TTL_DAYS} DAY
SETTINGS ttl_only_drop_parts = 1
"""

# Order matters: a view's target must exist before the view, and every view must exist
# before the first insert into usage_tracking or its blocks are never aggregated.
STATEMENTS: tuple[str, ...] = (
    USAGE_TRACKING,
    USAGE_HOURLY,
    USAGE_HOURLY_MV,
    BILLING_MONTHLY,
    BILLING_MONTHLY_MV,
    PERFORMANCE_SLA,
    # Stores made before held samples existed get the column (old rows: not held).
    "ALTER TABLE performance_sla ADD COLUMN IF NOT EXISTS held Bool DEFAULT false",
    PERFORMANCE_STREAM_MINUTES,
    BROKER_SAMPLES,
)

TABLES: tuple[str, ...] = (
    "usage_tracking",
    "usage_analytics_hourly",
    "usage_analytics_hourly_mv",
    "billing_monthly",
    "billing_monthly_mv",
    "performance_sla",
    "performance_stream_minutes",
    "broker_samples",
)


def apply_schema(client: Client) -> None:
    """Create every table and view that is missing; existing ones are left as they are."""
    for statement in STATEMENTS:
        client.command(statement)
