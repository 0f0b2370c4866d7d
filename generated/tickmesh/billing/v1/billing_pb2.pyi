import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tickmesh.common.v1 import billing_pb2 as _billing_pb2
from tickmesh.common.v1 import money_pb2 as _money_pb2
from tickmesh.common.v1 import tenancy_pb2 as _tenancy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetTierCatalogRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TierOffer(_message.Message):
    __slots__ = ("tier", "symbols", "all_symbols", "update_interval_ms", "features", "daily_api_calls", "concurrent_streams", "market_data_history_days", "trading_retention_days", "storage_quota_bytes", "brokers", "latency_target_ms", "uptime_sla_percent", "price_per_month", "fallback_brokers", "broker_redundancy", "completeness_sla_percent", "support_level", "first_response_hours", "max_users")
    TIER_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    ALL_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    DAILY_API_CALLS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENT_STREAMS_FIELD_NUMBER: _ClassVar[int]
    MARKET_DATA_HISTORY_DAYS_FIELD_NUMBER: _ClassVar[int]
    TRADING_RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    STORAGE_QUOTA_BYTES_FIELD_NUMBER: _ClassVar[int]
    BROKERS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_TARGET_MS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SLA_PERCENT_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_MONTH_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_BROKERS_FIELD_NUMBER: _ClassVar[int]
    BROKER_REDUNDANCY_FIELD_NUMBER: _ClassVar[int]
    COMPLETENESS_SLA_PERCENT_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_LEVEL_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_HOURS_FIELD_NUMBER: _ClassVar[int]
    MAX_USERS_FIELD_NUMBER: _ClassVar[int]
    tier: _tenancy_pb2.Tier
    symbols: _containers.RepeatedScalarFieldContainer[str]
    all_symbols: bool
    update_interval_ms: int
    features: _containers.RepeatedScalarFieldContainer[str]
    daily_api_calls: int
    concurrent_streams: int
    market_data_history_days: int
    trading_retention_days: int
    storage_quota_bytes: int
    brokers: _containers.RepeatedScalarFieldContainer[str]
    latency_target_ms: int
    uptime_sla_percent: str
    price_per_month: _money_pb2.Money
    fallback_brokers: _containers.RepeatedScalarFieldContainer[str]
    broker_redundancy: int
    completeness_sla_percent: str
    support_level: str
    first_response_hours: int
    max_users: int
    def __init__(self, tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., symbols: _Optional[_Iterable[str]] = ..., all_symbols: _Optional[bool] = ..., update_interval_ms: _Optional[int] = ..., features: _Optional[_Iterable[str]] = ..., daily_api_calls: _Optional[int] = ..., concurrent_streams: _Optional[int] = ..., market_data_history_days: _Optional[int] = ..., trading_retention_days: _Optional[int] = ..., storage_quota_bytes: _Optional[int] = ..., brokers: _Optional[_Iterable[str]] = ..., latency_target_ms: _Optional[int] = ..., uptime_sla_percent: _Optional[str] = ..., price_per_month: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., fallback_brokers: _Optional[_Iterable[str]] = ..., broker_redundancy: _Optional[int] = ..., completeness_sla_percent: _Optional[str] = ..., support_level: _Optional[str] = ..., first_response_hours: _Optional[int] = ..., max_users: _Optional[int] = ...) -> None: ...

class GetTierCatalogResponse(_message.Message):
    __slots__ = ("tiers",)
    TIERS_FIELD_NUMBER: _ClassVar[int]
    tiers: _containers.RepeatedCompositeFieldContainer[TierOffer]
    def __init__(self, tiers: _Optional[_Iterable[_Union[TierOffer, _Mapping]]] = ...) -> None: ...

class PreviewInvoiceRequest(_message.Message):
    __slots__ = ("company_id", "billing_period")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    billing_period: str
    def __init__(self, company_id: _Optional[str] = ..., billing_period: _Optional[str] = ...) -> None: ...

class PreviewInvoiceResponse(_message.Message):
    __slots__ = ("invoice",)
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    invoice: _billing_pb2.Invoice
    def __init__(self, invoice: _Optional[_Union[_billing_pb2.Invoice, _Mapping]] = ...) -> None: ...

class CloseBillingPeriodRequest(_message.Message):
    __slots__ = ("billing_period", "company_id", "as_of")
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    company_id: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, billing_period: _Optional[str] = ..., company_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CloseBillingPeriodResponse(_message.Message):
    __slots__ = ("invoices", "already_closed")
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    ALREADY_CLOSED_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[_billing_pb2.Invoice]
    already_closed: int
    def __init__(self, invoices: _Optional[_Iterable[_Union[_billing_pb2.Invoice, _Mapping]]] = ..., already_closed: _Optional[int] = ...) -> None: ...

class ListInvoicesRequest(_message.Message):
    __slots__ = ("company_id",)
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    def __init__(self, company_id: _Optional[str] = ...) -> None: ...

class ListInvoicesResponse(_message.Message):
    __slots__ = ("invoices",)
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[_billing_pb2.Invoice]
    def __init__(self, invoices: _Optional[_Iterable[_Union[_billing_pb2.Invoice, _Mapping]]] = ...) -> None: ...

class ChangeTierRequest(_message.Message):
    __slots__ = ("company_id", "tier", "effect")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    effect: _billing_pb2.ChangeEffect
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., effect: _Optional[_Union[_billing_pb2.ChangeEffect, str]] = ...) -> None: ...

class ChangeTierResponse(_message.Message):
    __slots__ = ("previous_tier", "tier", "effective_at", "proration")
    PREVIOUS_TIER_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    PRORATION_FIELD_NUMBER: _ClassVar[int]
    previous_tier: _tenancy_pb2.Tier
    tier: _tenancy_pb2.Tier
    effective_at: _timestamp_pb2.Timestamp
    proration: _containers.RepeatedCompositeFieldContainer[_billing_pb2.InvoiceLine]
    def __init__(self, previous_tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., proration: _Optional[_Iterable[_Union[_billing_pb2.InvoiceLine, _Mapping]]] = ...) -> None: ...

class RevenueReportRequest(_message.Message):
    __slots__ = ("billing_period",)
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    def __init__(self, billing_period: _Optional[str] = ...) -> None: ...

class RevenueReportResponse(_message.Message):
    __slots__ = ("billing_period", "mrr", "arpu_by_tier", "companies_by_tier", "revenue_by_service")
    class ArpuByTierEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _money_pb2.Money
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...
    class CompaniesByTierEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class RevenueByServiceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _money_pb2.Money
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    MRR_FIELD_NUMBER: _ClassVar[int]
    ARPU_BY_TIER_FIELD_NUMBER: _ClassVar[int]
    COMPANIES_BY_TIER_FIELD_NUMBER: _ClassVar[int]
    REVENUE_BY_SERVICE_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    mrr: _money_pb2.Money
    arpu_by_tier: _containers.MessageMap[str, _money_pb2.Money]
    companies_by_tier: _containers.ScalarMap[str, int]
    revenue_by_service: _containers.MessageMap[str, _money_pb2.Money]
    def __init__(self, billing_period: _Optional[str] = ..., mrr: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., arpu_by_tier: _Optional[_Mapping[str, _money_pb2.Money]] = ..., companies_by_tier: _Optional[_Mapping[str, int]] = ..., revenue_by_service: _Optional[_Mapping[str, _money_pb2.Money]] = ...) -> None: ...

class ChurnRiskRequest(_message.Message):
    __slots__ = ("billing_period",)
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    def __init__(self, billing_period: _Optional[str] = ...) -> None: ...

class ChurnRiskEntry(_message.Message):
    __slots__ = ("company_id", "tier", "monthly_usage", "decline_percent", "risk")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_USAGE_FIELD_NUMBER: _ClassVar[int]
    DECLINE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    RISK_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    monthly_usage: _containers.RepeatedScalarFieldContainer[int]
    decline_percent: str
    risk: str
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., monthly_usage: _Optional[_Iterable[int]] = ..., decline_percent: _Optional[str] = ..., risk: _Optional[str] = ...) -> None: ...

class ChurnRiskResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[ChurnRiskEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[ChurnRiskEntry, _Mapping]]] = ...) -> None: ...

class UpsellCandidatesRequest(_message.Message):
    __slots__ = ("threshold",)
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    threshold: float
    def __init__(self, threshold: _Optional[float] = ...) -> None: ...

class UpsellCandidate(_message.Message):
    __slots__ = ("company_id", "tier", "suggested_tier", "quota", "used_ratio")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_TIER_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    USED_RATIO_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    suggested_tier: _tenancy_pb2.Tier
    quota: str
    used_ratio: float
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., suggested_tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., quota: _Optional[str] = ..., used_ratio: _Optional[float] = ...) -> None: ...

class UpsellCandidatesResponse(_message.Message):
    __slots__ = ("candidates",)
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[UpsellCandidate]
    def __init__(self, candidates: _Optional[_Iterable[_Union[UpsellCandidate, _Mapping]]] = ...) -> None: ...

class SlaReportRequest(_message.Message):
    __slots__ = ("billing_period",)
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    def __init__(self, billing_period: _Optional[str] = ...) -> None: ...

class TierSla(_message.Message):
    __slots__ = ("tier", "target_percent", "measured_percent", "latency_target_ms", "latency_p99_us", "met", "credits")
    TIER_FIELD_NUMBER: _ClassVar[int]
    TARGET_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEASURED_PERCENT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_TARGET_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_US_FIELD_NUMBER: _ClassVar[int]
    MET_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    tier: _tenancy_pb2.Tier
    target_percent: str
    measured_percent: str
    latency_target_ms: int
    latency_p99_us: int
    met: bool
    credits: _money_pb2.Money
    def __init__(self, tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., target_percent: _Optional[str] = ..., measured_percent: _Optional[str] = ..., latency_target_ms: _Optional[int] = ..., latency_p99_us: _Optional[int] = ..., met: _Optional[bool] = ..., credits: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class SlaReportResponse(_message.Message):
    __slots__ = ("tiers", "violations")
    TIERS_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    tiers: _containers.RepeatedCompositeFieldContainer[TierSla]
    violations: _containers.RepeatedCompositeFieldContainer[CompanySlaViolation]
    def __init__(self, tiers: _Optional[_Iterable[_Union[TierSla, _Mapping]]] = ..., violations: _Optional[_Iterable[_Union[CompanySlaViolation, _Mapping]]] = ...) -> None: ...

class CompanySlaViolation(_message.Message):
    __slots__ = ("company_id", "tier", "target_percent", "measured_percent", "minutes", "minutes_missed", "latency_p99_us")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    TARGET_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEASURED_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    MINUTES_MISSED_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_US_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    target_percent: str
    measured_percent: str
    minutes: int
    minutes_missed: int
    latency_p99_us: int
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., target_percent: _Optional[str] = ..., measured_percent: _Optional[str] = ..., minutes: _Optional[int] = ..., minutes_missed: _Optional[int] = ..., latency_p99_us: _Optional[int] = ...) -> None: ...

class CustomerHealthRequest(_message.Message):
    __slots__ = ("company_id",)
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    def __init__(self, company_id: _Optional[str] = ...) -> None: ...

class CompanyHealth(_message.Message):
    __slots__ = ("company_id", "tier", "score", "factors")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FACTORS_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    score: float
    factors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., score: _Optional[float] = ..., factors: _Optional[_Iterable[str]] = ...) -> None: ...

class CustomerHealthResponse(_message.Message):
    __slots__ = ("companies",)
    COMPANIES_FIELD_NUMBER: _ClassVar[int]
    companies: _containers.RepeatedCompositeFieldContainer[CompanyHealth]
    def __init__(self, companies: _Optional[_Iterable[_Union[CompanyHealth, _Mapping]]] = ...) -> None: ...

class ReconcileRequest(_message.Message):
    __slots__ = ("billing_period",)
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    def __init__(self, billing_period: _Optional[str] = ...) -> None: ...

class ReconcileEntry(_message.Message):
    __slots__ = ("company_id", "delivered", "billed", "difference")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    BILLED_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    delivered: int
    billed: int
    difference: int
    def __init__(self, company_id: _Optional[str] = ..., delivered: _Optional[int] = ..., billed: _Optional[int] = ..., difference: _Optional[int] = ...) -> None: ...

class ReconcileResponse(_message.Message):
    __slots__ = ("billing_period", "entries", "balanced", "bridges_counted")
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    BALANCED_FIELD_NUMBER: _ClassVar[int]
    BRIDGES_COUNTED_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    entries: _containers.RepeatedCompositeFieldContainer[ReconcileEntry]
    balanced: bool
    bridges_counted: int
    def __init__(self, billing_period: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[ReconcileEntry, _Mapping]]] = ..., balanced: _Optional[bool] = ..., bridges_counted: _Optional[int] = ...) -> None: ...

class SetPaymentMethodRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class SetPaymentMethodResponse(_message.Message):
    __slots__ = ("brand", "last4")
    BRAND_FIELD_NUMBER: _ClassVar[int]
    LAST4_FIELD_NUMBER: _ClassVar[int]
    brand: str
    last4: str
    def __init__(self, brand: _Optional[str] = ..., last4: _Optional[str] = ...) -> None: ...

class CollectPaymentsRequest(_message.Message):
    __slots__ = ("billing_period", "company_id", "as_of")
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    company_id: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, billing_period: _Optional[str] = ..., company_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Collection(_message.Message):
    __slots__ = ("company_id", "invoice_id", "payment_status", "reason")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    invoice_id: str
    payment_status: str
    reason: str
    def __init__(self, company_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., payment_status: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CollectPaymentsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[Collection]
    def __init__(self, collections: _Optional[_Iterable[_Union[Collection, _Mapping]]] = ...) -> None: ...

class BrokerReportRequest(_message.Message):
    __slots__ = ("billing_period",)
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    def __init__(self, billing_period: _Optional[str] = ...) -> None: ...

class BestPriceShare(_message.Message):
    __slots__ = ("tier", "won", "total", "share_percent")
    TIER_FIELD_NUMBER: _ClassVar[int]
    WON_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SHARE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    tier: _tenancy_pb2.Tier
    won: int
    total: int
    share_percent: str
    def __init__(self, tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., won: _Optional[int] = ..., total: _Optional[int] = ..., share_percent: _Optional[str] = ...) -> None: ...

class TenantCost(_message.Message):
    __slots__ = ("company_id", "tier", "cost")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    cost: _money_pb2.Money
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class BrokerAnalysis(_message.Message):
    __slots__ = ("broker", "monthly_cost", "uptime_percent", "completeness_percent", "latency_mean_us", "latency_p99_us", "quotes", "outliers_rejected", "invalid_rejected", "best_prices", "tiers", "cost_per_tenant", "unallocated", "recommendation", "reasons", "observed_seconds")
    BROKER_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_COST_FIELD_NUMBER: _ClassVar[int]
    UPTIME_PERCENT_FIELD_NUMBER: _ClassVar[int]
    COMPLETENESS_PERCENT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MEAN_US_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_US_FIELD_NUMBER: _ClassVar[int]
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    OUTLIERS_REJECTED_FIELD_NUMBER: _ClassVar[int]
    INVALID_REJECTED_FIELD_NUMBER: _ClassVar[int]
    BEST_PRICES_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    COST_PER_TENANT_FIELD_NUMBER: _ClassVar[int]
    UNALLOCATED_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    broker: str
    monthly_cost: _money_pb2.Money
    uptime_percent: str
    completeness_percent: str
    latency_mean_us: int
    latency_p99_us: int
    quotes: int
    outliers_rejected: int
    invalid_rejected: int
    best_prices: _containers.RepeatedCompositeFieldContainer[BestPriceShare]
    tiers: _containers.RepeatedScalarFieldContainer[_tenancy_pb2.Tier]
    cost_per_tenant: _containers.RepeatedCompositeFieldContainer[TenantCost]
    unallocated: _money_pb2.Money
    recommendation: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    observed_seconds: int
    def __init__(self, broker: _Optional[str] = ..., monthly_cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., uptime_percent: _Optional[str] = ..., completeness_percent: _Optional[str] = ..., latency_mean_us: _Optional[int] = ..., latency_p99_us: _Optional[int] = ..., quotes: _Optional[int] = ..., outliers_rejected: _Optional[int] = ..., invalid_rejected: _Optional[int] = ..., best_prices: _Optional[_Iterable[_Union[BestPriceShare, _Mapping]]] = ..., tiers: _Optional[_Iterable[_Union[_tenancy_pb2.Tier, str]]] = ..., cost_per_tenant: _Optional[_Iterable[_Union[TenantCost, _Mapping]]] = ..., unallocated: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., recommendation: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., observed_seconds: _Optional[int] = ...) -> None: ...

class BrokerReportResponse(_message.Message):
    __slots__ = ("billing_period", "brokers", "total_cost")
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    BROKERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    brokers: _containers.RepeatedCompositeFieldContainer[BrokerAnalysis]
    total_cost: _money_pb2.Money
    def __init__(self, billing_period: _Optional[str] = ..., brokers: _Optional[_Iterable[_Union[BrokerAnalysis, _Mapping]]] = ..., total_cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...
