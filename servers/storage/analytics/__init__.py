"""Usage analytics on ClickHouse: exactly-once usage ingest, aggregates, SLA figures."""

from servers.storage.analytics.engine import AnalyticsStore, CompanyExists, open_analytics
from servers.storage.analytics.queries import DecliningUsage, MonthlyUsage, UsageRow
from servers.storage.analytics.sla import SlaFigures
from servers.storage.analytics.usage import RecordUsageResult
from servers.storage.analytics.validation import MAX_BATCH_EVENTS, Rejection

__all__ = [
    "MAX_BATCH_EVENTS",
    "AnalyticsStore",
    "CompanyExists",
    "DecliningUsage",
    "MonthlyUsage",
    "RecordUsageResult",
    "Rejection",
    "SlaFigures",
    "UsageRow",
    "open_analytics",
]
