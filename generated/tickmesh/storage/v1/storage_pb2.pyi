import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tickmesh.common.v1 import billing_pb2 as _billing_pb2
from tickmesh.common.v1 import history_pb2 as _history_pb2
from tickmesh.common.v1 import market_pb2 as _market_pb2
from tickmesh.common.v1 import tenancy_pb2 as _tenancy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Company(_message.Message):
    __slots__ = ("company_id", "name", "tier", "status", "created_at")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    name: str
    tier: _tenancy_pb2.Tier
    status: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, company_id: _Optional[str] = ..., name: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., status: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateCompanyRequest(_message.Message):
    __slots__ = ("name", "tier", "owner_email", "owner_name")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    OWNER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    OWNER_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    tier: _tenancy_pb2.Tier
    owner_email: str
    owner_name: str
    def __init__(self, name: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., owner_email: _Optional[str] = ..., owner_name: _Optional[str] = ...) -> None: ...

class CreateCompanyResponse(_message.Message):
    __slots__ = ("company", "subscription", "owner", "owner_key")
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    OWNER_KEY_FIELD_NUMBER: _ClassVar[int]
    company: Company
    subscription: Subscription
    owner: User
    owner_key: IssueApiKeyResponse
    def __init__(self, company: _Optional[_Union[Company, _Mapping]] = ..., subscription: _Optional[_Union[Subscription, _Mapping]] = ..., owner: _Optional[_Union[User, _Mapping]] = ..., owner_key: _Optional[_Union[IssueApiKeyResponse, _Mapping]] = ...) -> None: ...

class GetCompanyRequest(_message.Message):
    __slots__ = ("company_id",)
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    def __init__(self, company_id: _Optional[str] = ...) -> None: ...

class GetCompanyResponse(_message.Message):
    __slots__ = ("company",)
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    company: Company
    def __init__(self, company: _Optional[_Union[Company, _Mapping]] = ...) -> None: ...

class ListCompaniesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCompaniesResponse(_message.Message):
    __slots__ = ("companies", "next_page_token")
    COMPANIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    companies: _containers.RepeatedCompositeFieldContainer[Company]
    next_page_token: str
    def __init__(self, companies: _Optional[_Iterable[_Union[Company, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("user_id", "email", "name", "role", "created_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    email: str
    name: str
    role: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateUserRequest(_message.Message):
    __slots__ = ("email", "name", "role")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    email: str
    name: str
    role: str
    def __init__(self, email: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class CreateUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class ListUsersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListUsersResponse(_message.Message):
    __slots__ = ("users",)
    USERS_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[User]
    def __init__(self, users: _Optional[_Iterable[_Union[User, _Mapping]]] = ...) -> None: ...

class IssueApiKeyRequest(_message.Message):
    __slots__ = ("user_id", "company_id", "label", "scopes", "expires_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    company_id: str
    label: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., company_id: _Optional[str] = ..., label: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class IssueApiKeyResponse(_message.Message):
    __slots__ = ("key_id", "api_key", "created_at", "expires_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    api_key: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., api_key: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class RevokeApiKeyResponse(_message.Message):
    __slots__ = ("revoked_at",)
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ApiKeyInfo(_message.Message):
    __slots__ = ("key_id", "prefix", "user_id", "scopes", "created_at", "expires_at", "revoked_at", "last_used_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    prefix: str
    user_id: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., prefix: _Optional[str] = ..., user_id: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[ApiKeyInfo]
    def __init__(self, keys: _Optional[_Iterable[_Union[ApiKeyInfo, _Mapping]]] = ...) -> None: ...

class AuthenticateKeyRequest(_message.Message):
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    def __init__(self, api_key: _Optional[str] = ...) -> None: ...

class AuthenticateKeyResponse(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: _tenancy_pb2.TenantContext
    def __init__(self, tenant: _Optional[_Union[_tenancy_pb2.TenantContext, _Mapping]] = ...) -> None: ...

class Subscription(_message.Message):
    __slots__ = ("company_id", "tier", "status", "period_start", "period_end", "pending_tier", "expires_at")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    PENDING_TIER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    status: str
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    pending_tier: _tenancy_pb2.Tier
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., status: _Optional[str] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pending_tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetSubscriptionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class ChangeTierRequest(_message.Message):
    __slots__ = ("company_id", "tier", "effect", "actor")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    effect: _billing_pb2.ChangeEffect
    actor: str
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., effect: _Optional[_Union[_billing_pb2.ChangeEffect, str]] = ..., actor: _Optional[str] = ...) -> None: ...

class ChangeTierResponse(_message.Message):
    __slots__ = ("subscription", "previous_tier", "effective_at")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_TIER_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    previous_tier: _tenancy_pb2.Tier
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ..., previous_tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListSubscriptionEventsRequest(_message.Message):
    __slots__ = ("company_id", "since", "until")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, company_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubscriptionEvent(_message.Message):
    __slots__ = ("kind", "from_tier", "to_tier", "effective_at", "actor")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FROM_TIER_FIELD_NUMBER: _ClassVar[int]
    TO_TIER_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    kind: str
    from_tier: _tenancy_pb2.Tier
    to_tier: _tenancy_pb2.Tier
    effective_at: _timestamp_pb2.Timestamp
    actor: str
    def __init__(self, kind: _Optional[str] = ..., from_tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., to_tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class ListSubscriptionEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[SubscriptionEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[SubscriptionEvent, _Mapping]]] = ...) -> None: ...

class BrokerAccount(_message.Message):
    __slots__ = ("account_id", "user_id", "broker", "account_number")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    BROKER_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    user_id: str
    broker: str
    account_number: str
    def __init__(self, account_id: _Optional[str] = ..., user_id: _Optional[str] = ..., broker: _Optional[str] = ..., account_number: _Optional[str] = ...) -> None: ...

class CreateBrokerAccountRequest(_message.Message):
    __slots__ = ("user_id", "broker", "account_number")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    BROKER_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    broker: str
    account_number: str
    def __init__(self, user_id: _Optional[str] = ..., broker: _Optional[str] = ..., account_number: _Optional[str] = ...) -> None: ...

class CreateBrokerAccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: BrokerAccount
    def __init__(self, account: _Optional[_Union[BrokerAccount, _Mapping]] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("position_id", "account_id", "symbol", "side", "volume", "open_price", "close_price", "opened_at", "closed_at")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    OPEN_PRICE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_PRICE_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    account_id: str
    symbol: str
    side: str
    volume: str
    open_price: str
    close_price: str
    opened_at: _timestamp_pb2.Timestamp
    closed_at: _timestamp_pb2.Timestamp
    def __init__(self, position_id: _Optional[str] = ..., account_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[str] = ..., volume: _Optional[str] = ..., open_price: _Optional[str] = ..., close_price: _Optional[str] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordPositionsRequest(_message.Message):
    __slots__ = ("positions",)
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[Position]
    def __init__(self, positions: _Optional[_Iterable[_Union[Position, _Mapping]]] = ...) -> None: ...

class RecordPositionsResponse(_message.Message):
    __slots__ = ("position_ids", "storage_used_bytes")
    POSITION_IDS_FIELD_NUMBER: _ClassVar[int]
    STORAGE_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    position_ids: _containers.RepeatedScalarFieldContainer[str]
    storage_used_bytes: int
    def __init__(self, position_ids: _Optional[_Iterable[str]] = ..., storage_used_bytes: _Optional[int] = ...) -> None: ...

class ListPositionsRequest(_message.Message):
    __slots__ = ("account_id", "include_closed", "limit")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CLOSED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    include_closed: bool
    limit: int
    def __init__(self, account_id: _Optional[str] = ..., include_closed: _Optional[bool] = ..., limit: _Optional[int] = ...) -> None: ...

class ListPositionsResponse(_message.Message):
    __slots__ = ("positions",)
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[Position]
    def __init__(self, positions: _Optional[_Iterable[_Union[Position, _Mapping]]] = ...) -> None: ...

class GetStorageUsageRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStorageUsageResponse(_message.Message):
    __slots__ = ("used_bytes", "quota_bytes")
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    QUOTA_BYTES_FIELD_NUMBER: _ClassVar[int]
    used_bytes: int
    quota_bytes: int
    def __init__(self, used_bytes: _Optional[int] = ..., quota_bytes: _Optional[int] = ...) -> None: ...

class ApplyRetentionRequest(_message.Message):
    __slots__ = ("company_id", "dry_run", "as_of")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    dry_run: bool
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, company_id: _Optional[str] = ..., dry_run: _Optional[bool] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RetentionResult(_message.Message):
    __slots__ = ("company_id", "tier", "positions_deleted", "cutoff")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_DELETED_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    positions_deleted: int
    cutoff: _timestamp_pb2.Timestamp
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., positions_deleted: _Optional[int] = ..., cutoff: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApplyRetentionResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RetentionResult]
    def __init__(self, results: _Optional[_Iterable[_Union[RetentionResult, _Mapping]]] = ...) -> None: ...

class RecordUsageRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_tenancy_pb2.UsageEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[_tenancy_pb2.UsageEvent, _Mapping]]] = ...) -> None: ...

class UsageRejection(_message.Message):
    __slots__ = ("index", "idempotency_key", "reason")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    index: int
    idempotency_key: str
    reason: str
    def __init__(self, index: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RecordUsageResponse(_message.Message):
    __slots__ = ("accepted", "duplicates", "rejected")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    duplicates: int
    rejected: _containers.RepeatedCompositeFieldContainer[UsageRejection]
    def __init__(self, accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[UsageRejection, _Mapping]]] = ...) -> None: ...

class QueryUsageRequest(_message.Message):
    __slots__ = ("company_id", "billing_period", "group_by")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    billing_period: str
    group_by: str
    def __init__(self, company_id: _Optional[str] = ..., billing_period: _Optional[str] = ..., group_by: _Optional[str] = ...) -> None: ...

class UsageRow(_message.Message):
    __slots__ = ("key", "events", "data_points", "processing_time_us")
    KEY_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    DATA_POINTS_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_TIME_US_FIELD_NUMBER: _ClassVar[int]
    key: str
    events: int
    data_points: int
    processing_time_us: int
    def __init__(self, key: _Optional[str] = ..., events: _Optional[int] = ..., data_points: _Optional[int] = ..., processing_time_us: _Optional[int] = ...) -> None: ...

class QueryUsageResponse(_message.Message):
    __slots__ = ("company_id", "billing_period", "rows")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    billing_period: str
    rows: _containers.RepeatedCompositeFieldContainer[UsageRow]
    def __init__(self, company_id: _Optional[str] = ..., billing_period: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[UsageRow, _Mapping]]] = ...) -> None: ...

class SlaSample(_message.Message):
    __slots__ = ("company_id", "tier", "service", "latency_us", "within_target", "time_us", "held")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_US_FIELD_NUMBER: _ClassVar[int]
    WITHIN_TARGET_FIELD_NUMBER: _ClassVar[int]
    TIME_US_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    service: str
    latency_us: int
    within_target: bool
    time_us: int
    held: bool
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., service: _Optional[str] = ..., latency_us: _Optional[int] = ..., within_target: _Optional[bool] = ..., time_us: _Optional[int] = ..., held: _Optional[bool] = ...) -> None: ...

class StreamMinute(_message.Message):
    __slots__ = ("company_id", "tier", "service", "minute_us", "stream_ms", "available_ms", "ticks_delivered", "ticks_skipped", "gaps", "live_sources_min", "below_redundancy")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    MINUTE_US_FIELD_NUMBER: _ClassVar[int]
    STREAM_MS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_MS_FIELD_NUMBER: _ClassVar[int]
    TICKS_DELIVERED_FIELD_NUMBER: _ClassVar[int]
    TICKS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    LIVE_SOURCES_MIN_FIELD_NUMBER: _ClassVar[int]
    BELOW_REDUNDANCY_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    service: str
    minute_us: int
    stream_ms: int
    available_ms: int
    ticks_delivered: int
    ticks_skipped: int
    gaps: int
    live_sources_min: int
    below_redundancy: bool
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., service: _Optional[str] = ..., minute_us: _Optional[int] = ..., stream_ms: _Optional[int] = ..., available_ms: _Optional[int] = ..., ticks_delivered: _Optional[int] = ..., ticks_skipped: _Optional[int] = ..., gaps: _Optional[int] = ..., live_sources_min: _Optional[int] = ..., below_redundancy: _Optional[bool] = ...) -> None: ...

class RecordSlaRequest(_message.Message):
    __slots__ = ("samples", "minutes")
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    samples: _containers.RepeatedCompositeFieldContainer[SlaSample]
    minutes: _containers.RepeatedCompositeFieldContainer[StreamMinute]
    def __init__(self, samples: _Optional[_Iterable[_Union[SlaSample, _Mapping]]] = ..., minutes: _Optional[_Iterable[_Union[StreamMinute, _Mapping]]] = ...) -> None: ...

class RecordSlaResponse(_message.Message):
    __slots__ = ("accepted", "minutes_accepted")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    MINUTES_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    minutes_accepted: int
    def __init__(self, accepted: _Optional[int] = ..., minutes_accepted: _Optional[int] = ...) -> None: ...

class QuerySlaRequest(_message.Message):
    __slots__ = ("billing_period", "company_id")
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    company_id: str
    def __init__(self, billing_period: _Optional[str] = ..., company_id: _Optional[str] = ...) -> None: ...

class SlaFigures(_message.Message):
    __slots__ = ("tier", "company_id", "samples", "within_target", "latency_p50_us", "latency_p99_us", "availability_percent", "minutes", "minutes_missed", "completeness_percent", "stream_availability_percent", "stream_minutes", "minutes_below_redundancy", "live_sources_min", "held_samples", "latency_with_hold_p50_us", "latency_with_hold_p99_us", "latency_histogram")
    TIER_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    WITHIN_TARGET_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_US_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_US_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    MINUTES_MISSED_FIELD_NUMBER: _ClassVar[int]
    COMPLETENESS_PERCENT_FIELD_NUMBER: _ClassVar[int]
    STREAM_AVAILABILITY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    STREAM_MINUTES_FIELD_NUMBER: _ClassVar[int]
    MINUTES_BELOW_REDUNDANCY_FIELD_NUMBER: _ClassVar[int]
    LIVE_SOURCES_MIN_FIELD_NUMBER: _ClassVar[int]
    HELD_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    LATENCY_WITH_HOLD_P50_US_FIELD_NUMBER: _ClassVar[int]
    LATENCY_WITH_HOLD_P99_US_FIELD_NUMBER: _ClassVar[int]
    LATENCY_HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    tier: _tenancy_pb2.Tier
    company_id: str
    samples: int
    within_target: int
    latency_p50_us: int
    latency_p99_us: int
    availability_percent: str
    minutes: int
    minutes_missed: int
    completeness_percent: str
    stream_availability_percent: str
    stream_minutes: int
    minutes_below_redundancy: int
    live_sources_min: int
    held_samples: int
    latency_with_hold_p50_us: int
    latency_with_hold_p99_us: int
    latency_histogram: _containers.RepeatedCompositeFieldContainer[LatencyBucket]
    def __init__(self, tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., company_id: _Optional[str] = ..., samples: _Optional[int] = ..., within_target: _Optional[int] = ..., latency_p50_us: _Optional[int] = ..., latency_p99_us: _Optional[int] = ..., availability_percent: _Optional[str] = ..., minutes: _Optional[int] = ..., minutes_missed: _Optional[int] = ..., completeness_percent: _Optional[str] = ..., stream_availability_percent: _Optional[str] = ..., stream_minutes: _Optional[int] = ..., minutes_below_redundancy: _Optional[int] = ..., live_sources_min: _Optional[int] = ..., held_samples: _Optional[int] = ..., latency_with_hold_p50_us: _Optional[int] = ..., latency_with_hold_p99_us: _Optional[int] = ..., latency_histogram: _Optional[_Iterable[_Union[LatencyBucket, _Mapping]]] = ...) -> None: ...

class LatencyBucket(_message.Message):
    __slots__ = ("below_us", "samples")
    BELOW_US_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    below_us: int
    samples: int
    def __init__(self, below_us: _Optional[int] = ..., samples: _Optional[int] = ...) -> None: ...

class QuerySlaResponse(_message.Message):
    __slots__ = ("figures",)
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    figures: _containers.RepeatedCompositeFieldContainer[SlaFigures]
    def __init__(self, figures: _Optional[_Iterable[_Union[SlaFigures, _Mapping]]] = ...) -> None: ...

class BestPricesWon(_message.Message):
    __slots__ = ("tier", "won")
    TIER_FIELD_NUMBER: _ClassVar[int]
    WON_FIELD_NUMBER: _ClassVar[int]
    tier: _tenancy_pb2.Tier
    won: int
    def __init__(self, tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., won: _Optional[int] = ...) -> None: ...

class BrokerSample(_message.Message):
    __slots__ = ("broker", "time_us", "interval_us", "up_us", "quotes", "expected_quotes", "invalid", "outliers", "latency_sum_us", "latency_count", "latency_p99_us", "best_prices_won")
    BROKER_FIELD_NUMBER: _ClassVar[int]
    TIME_US_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_US_FIELD_NUMBER: _ClassVar[int]
    UP_US_FIELD_NUMBER: _ClassVar[int]
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_QUOTES_FIELD_NUMBER: _ClassVar[int]
    INVALID_FIELD_NUMBER: _ClassVar[int]
    OUTLIERS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_SUM_US_FIELD_NUMBER: _ClassVar[int]
    LATENCY_COUNT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_US_FIELD_NUMBER: _ClassVar[int]
    BEST_PRICES_WON_FIELD_NUMBER: _ClassVar[int]
    broker: str
    time_us: int
    interval_us: int
    up_us: int
    quotes: int
    expected_quotes: float
    invalid: int
    outliers: int
    latency_sum_us: int
    latency_count: int
    latency_p99_us: int
    best_prices_won: _containers.RepeatedCompositeFieldContainer[BestPricesWon]
    def __init__(self, broker: _Optional[str] = ..., time_us: _Optional[int] = ..., interval_us: _Optional[int] = ..., up_us: _Optional[int] = ..., quotes: _Optional[int] = ..., expected_quotes: _Optional[float] = ..., invalid: _Optional[int] = ..., outliers: _Optional[int] = ..., latency_sum_us: _Optional[int] = ..., latency_count: _Optional[int] = ..., latency_p99_us: _Optional[int] = ..., best_prices_won: _Optional[_Iterable[_Union[BestPricesWon, _Mapping]]] = ...) -> None: ...

class RecordBrokerSamplesRequest(_message.Message):
    __slots__ = ("samples",)
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    samples: _containers.RepeatedCompositeFieldContainer[BrokerSample]
    def __init__(self, samples: _Optional[_Iterable[_Union[BrokerSample, _Mapping]]] = ...) -> None: ...

class RecordBrokerSamplesResponse(_message.Message):
    __slots__ = ("accepted",)
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    def __init__(self, accepted: _Optional[int] = ...) -> None: ...

class QueryBrokerFiguresRequest(_message.Message):
    __slots__ = ("billing_period",)
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    def __init__(self, billing_period: _Optional[str] = ...) -> None: ...

class BrokerFigures(_message.Message):
    __slots__ = ("broker", "samples", "observed_us", "up_us", "quotes", "expected_quotes", "invalid", "outliers", "latency_mean_us", "latency_p99_us", "best_prices_won")
    BROKER_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_US_FIELD_NUMBER: _ClassVar[int]
    UP_US_FIELD_NUMBER: _ClassVar[int]
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_QUOTES_FIELD_NUMBER: _ClassVar[int]
    INVALID_FIELD_NUMBER: _ClassVar[int]
    OUTLIERS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MEAN_US_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_US_FIELD_NUMBER: _ClassVar[int]
    BEST_PRICES_WON_FIELD_NUMBER: _ClassVar[int]
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
    best_prices_won: _containers.RepeatedCompositeFieldContainer[BestPricesWon]
    def __init__(self, broker: _Optional[str] = ..., samples: _Optional[int] = ..., observed_us: _Optional[int] = ..., up_us: _Optional[int] = ..., quotes: _Optional[int] = ..., expected_quotes: _Optional[float] = ..., invalid: _Optional[int] = ..., outliers: _Optional[int] = ..., latency_mean_us: _Optional[int] = ..., latency_p99_us: _Optional[int] = ..., best_prices_won: _Optional[_Iterable[_Union[BestPricesWon, _Mapping]]] = ...) -> None: ...

class ServedCompany(_message.Message):
    __slots__ = ("company_id", "tier", "ticks")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    TICKS_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    ticks: int
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., ticks: _Optional[int] = ...) -> None: ...

class QueryBrokerFiguresResponse(_message.Message):
    __slots__ = ("brokers", "served")
    BROKERS_FIELD_NUMBER: _ClassVar[int]
    SERVED_FIELD_NUMBER: _ClassVar[int]
    brokers: _containers.RepeatedCompositeFieldContainer[BrokerFigures]
    served: _containers.RepeatedCompositeFieldContainer[ServedCompany]
    def __init__(self, brokers: _Optional[_Iterable[_Union[BrokerFigures, _Mapping]]] = ..., served: _Optional[_Iterable[_Union[ServedCompany, _Mapping]]] = ...) -> None: ...

class SaveInvoiceRequest(_message.Message):
    __slots__ = ("invoice",)
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    invoice: _billing_pb2.Invoice
    def __init__(self, invoice: _Optional[_Union[_billing_pb2.Invoice, _Mapping]] = ...) -> None: ...

class SaveInvoiceResponse(_message.Message):
    __slots__ = ("invoice", "already_existed")
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    ALREADY_EXISTED_FIELD_NUMBER: _ClassVar[int]
    invoice: _billing_pb2.Invoice
    already_existed: bool
    def __init__(self, invoice: _Optional[_Union[_billing_pb2.Invoice, _Mapping]] = ..., already_existed: _Optional[bool] = ...) -> None: ...

class ListInvoicesRequest(_message.Message):
    __slots__ = ("company_id", "billing_period")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    billing_period: str
    def __init__(self, company_id: _Optional[str] = ..., billing_period: _Optional[str] = ...) -> None: ...

class ListInvoicesResponse(_message.Message):
    __slots__ = ("invoices",)
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[_billing_pb2.Invoice]
    def __init__(self, invoices: _Optional[_Iterable[_Union[_billing_pb2.Invoice, _Mapping]]] = ...) -> None: ...

class AdvanceSubscriptionsRequest(_message.Message):
    __slots__ = ("company_id", "as_of")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, company_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubscriptionAdvance(_message.Message):
    __slots__ = ("company_id", "action", "tier_before", "tier_after", "period_start")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TIER_BEFORE_FIELD_NUMBER: _ClassVar[int]
    TIER_AFTER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    action: str
    tier_before: _tenancy_pb2.Tier
    tier_after: _tenancy_pb2.Tier
    period_start: _timestamp_pb2.Timestamp
    def __init__(self, company_id: _Optional[str] = ..., action: _Optional[str] = ..., tier_before: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., tier_after: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AdvanceSubscriptionsResponse(_message.Message):
    __slots__ = ("advanced",)
    ADVANCED_FIELD_NUMBER: _ClassVar[int]
    advanced: _containers.RepeatedCompositeFieldContainer[SubscriptionAdvance]
    def __init__(self, advanced: _Optional[_Iterable[_Union[SubscriptionAdvance, _Mapping]]] = ...) -> None: ...

class MarkPastDueRequest(_message.Message):
    __slots__ = ("company_id", "as_of")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, company_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MarkPastDueResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class WebhookEndpoint(_message.Message):
    __slots__ = ("endpoint_id", "url", "event_types", "status", "disabled_reason", "created_at", "failing_since", "secret", "company_id")
    ENDPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DISABLED_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FAILING_SINCE_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    endpoint_id: str
    url: str
    event_types: _containers.RepeatedScalarFieldContainer[str]
    status: str
    disabled_reason: str
    created_at: _timestamp_pb2.Timestamp
    failing_since: _timestamp_pb2.Timestamp
    secret: str
    company_id: str
    def __init__(self, endpoint_id: _Optional[str] = ..., url: _Optional[str] = ..., event_types: _Optional[_Iterable[str]] = ..., status: _Optional[str] = ..., disabled_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failing_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., secret: _Optional[str] = ..., company_id: _Optional[str] = ...) -> None: ...

class CreateWebhookEndpointRequest(_message.Message):
    __slots__ = ("url", "event_types")
    URL_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    url: str
    event_types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, url: _Optional[str] = ..., event_types: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateWebhookEndpointResponse(_message.Message):
    __slots__ = ("endpoint",)
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    endpoint: WebhookEndpoint
    def __init__(self, endpoint: _Optional[_Union[WebhookEndpoint, _Mapping]] = ...) -> None: ...

class ListWebhookEndpointsRequest(_message.Message):
    __slots__ = ("company_id",)
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    def __init__(self, company_id: _Optional[str] = ...) -> None: ...

class ListWebhookEndpointsResponse(_message.Message):
    __slots__ = ("endpoints",)
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    endpoints: _containers.RepeatedCompositeFieldContainer[WebhookEndpoint]
    def __init__(self, endpoints: _Optional[_Iterable[_Union[WebhookEndpoint, _Mapping]]] = ...) -> None: ...

class DeleteWebhookEndpointRequest(_message.Message):
    __slots__ = ("endpoint_id",)
    ENDPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    endpoint_id: str
    def __init__(self, endpoint_id: _Optional[str] = ...) -> None: ...

class DeleteWebhookEndpointResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WebhookAttempt(_message.Message):
    __slots__ = ("endpoint_id", "event_id", "attempt", "succeeded", "status_code", "error", "attempted_at", "duration_ms", "company_id")
    ENDPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    endpoint_id: str
    event_id: str
    attempt: int
    succeeded: bool
    status_code: int
    error: str
    attempted_at: _timestamp_pb2.Timestamp
    duration_ms: int
    company_id: str
    def __init__(self, endpoint_id: _Optional[str] = ..., event_id: _Optional[str] = ..., attempt: _Optional[int] = ..., succeeded: _Optional[bool] = ..., status_code: _Optional[int] = ..., error: _Optional[str] = ..., attempted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ms: _Optional[int] = ..., company_id: _Optional[str] = ...) -> None: ...

class ListWebhookAttemptsRequest(_message.Message):
    __slots__ = ("endpoint_id", "event_id", "company_id")
    ENDPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    endpoint_id: str
    event_id: str
    company_id: str
    def __init__(self, endpoint_id: _Optional[str] = ..., event_id: _Optional[str] = ..., company_id: _Optional[str] = ...) -> None: ...

class ListWebhookAttemptsResponse(_message.Message):
    __slots__ = ("attempts",)
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[WebhookAttempt]
    def __init__(self, attempts: _Optional[_Iterable[_Union[WebhookAttempt, _Mapping]]] = ...) -> None: ...

class RecordWebhookAttemptRequest(_message.Message):
    __slots__ = ("attempt",)
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    attempt: WebhookAttempt
    def __init__(self, attempt: _Optional[_Union[WebhookAttempt, _Mapping]] = ...) -> None: ...

class RecordWebhookAttemptResponse(_message.Message):
    __slots__ = ("endpoint",)
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    endpoint: WebhookEndpoint
    def __init__(self, endpoint: _Optional[_Union[WebhookEndpoint, _Mapping]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("seq", "event_id", "company_id", "type", "occurred_at", "data_json")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    seq: int
    event_id: str
    company_id: str
    type: str
    occurred_at: _timestamp_pb2.Timestamp
    data_json: str
    def __init__(self, seq: _Optional[int] = ..., event_id: _Optional[str] = ..., company_id: _Optional[str] = ..., type: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., data_json: _Optional[str] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("after_seq", "limit", "event_id", "company_id")
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    limit: int
    event_id: str
    company_id: str
    def __init__(self, after_seq: _Optional[int] = ..., limit: _Optional[int] = ..., event_id: _Optional[str] = ..., company_id: _Optional[str] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class PaymentMethod(_message.Message):
    __slots__ = ("token", "brand", "last4", "exp_month", "exp_year", "created_at")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    LAST4_FIELD_NUMBER: _ClassVar[int]
    EXP_MONTH_FIELD_NUMBER: _ClassVar[int]
    EXP_YEAR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., brand: _Optional[str] = ..., last4: _Optional[str] = ..., exp_month: _Optional[int] = ..., exp_year: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SavePaymentMethodRequest(_message.Message):
    __slots__ = ("company_id", "method")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    method: PaymentMethod
    def __init__(self, company_id: _Optional[str] = ..., method: _Optional[_Union[PaymentMethod, _Mapping]] = ...) -> None: ...

class SavePaymentMethodResponse(_message.Message):
    __slots__ = ("method",)
    METHOD_FIELD_NUMBER: _ClassVar[int]
    method: PaymentMethod
    def __init__(self, method: _Optional[_Union[PaymentMethod, _Mapping]] = ...) -> None: ...

class GetPaymentMethodRequest(_message.Message):
    __slots__ = ("company_id",)
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    def __init__(self, company_id: _Optional[str] = ...) -> None: ...

class GetPaymentMethodResponse(_message.Message):
    __slots__ = ("method",)
    METHOD_FIELD_NUMBER: _ClassVar[int]
    method: PaymentMethod
    def __init__(self, method: _Optional[_Union[PaymentMethod, _Mapping]] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("invoice_id", "company_id", "amount_minor_units", "status", "reason", "reference", "attempted_at")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_UNITS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTED_AT_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    company_id: str
    amount_minor_units: int
    status: str
    reason: str
    reference: str
    attempted_at: _timestamp_pb2.Timestamp
    def __init__(self, invoice_id: _Optional[str] = ..., company_id: _Optional[str] = ..., amount_minor_units: _Optional[int] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., reference: _Optional[str] = ..., attempted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordPaymentRequest(_message.Message):
    __slots__ = ("payment",)
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    payment: Payment
    def __init__(self, payment: _Optional[_Union[Payment, _Mapping]] = ...) -> None: ...

class RecordPaymentResponse(_message.Message):
    __slots__ = ("payment_status",)
    PAYMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    payment_status: str
    def __init__(self, payment_status: _Optional[str] = ...) -> None: ...

class ChainVersion(_message.Message):
    __slots__ = ("name", "version", "definition", "registered_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    definition: bytes
    registered_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., definition: _Optional[bytes] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SaveChainVersionRequest(_message.Message):
    __slots__ = ("name", "definition")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    name: str
    definition: bytes
    def __init__(self, name: _Optional[str] = ..., definition: _Optional[bytes] = ...) -> None: ...

class SaveChainVersionResponse(_message.Message):
    __slots__ = ("chain",)
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    chain: ChainVersion
    def __init__(self, chain: _Optional[_Union[ChainVersion, _Mapping]] = ...) -> None: ...

class ListChainVersionsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListChainVersionsResponse(_message.Message):
    __slots__ = ("chains",)
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    chains: _containers.RepeatedCompositeFieldContainer[ChainVersion]
    def __init__(self, chains: _Optional[_Iterable[_Union[ChainVersion, _Mapping]]] = ...) -> None: ...

class RecordTicksRequest(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: _market_pb2.TickBatch
    def __init__(self, batch: _Optional[_Union[_market_pb2.TickBatch, _Mapping]] = ...) -> None: ...

class RecordTicksResponse(_message.Message):
    __slots__ = ("recorded", "duplicates", "last_seq")
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    recorded: int
    duplicates: int
    last_seq: int
    def __init__(self, recorded: _Optional[int] = ..., duplicates: _Optional[int] = ..., last_seq: _Optional[int] = ...) -> None: ...

class GetRecordedSequenceRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRecordedSequenceResponse(_message.Message):
    __slots__ = ("last_seq",)
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    last_seq: int
    def __init__(self, last_seq: _Optional[int] = ...) -> None: ...

class QueryTicksRequest(_message.Message):
    __slots__ = ("symbols", "start_time_us", "end_time_us", "fields", "max_batch_ticks")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_US_FIELD_NUMBER: _ClassVar[int]
    END_TIME_US_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_TICKS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    start_time_us: int
    end_time_us: int
    fields: _containers.RepeatedScalarFieldContainer[str]
    max_batch_ticks: int
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., start_time_us: _Optional[int] = ..., end_time_us: _Optional[int] = ..., fields: _Optional[_Iterable[str]] = ..., max_batch_ticks: _Optional[int] = ...) -> None: ...

class QueryTicksResponse(_message.Message):
    __slots__ = ("tick_count", "batch")
    TICK_COUNT_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    tick_count: int
    batch: _market_pb2.TickBatch
    def __init__(self, tick_count: _Optional[int] = ..., batch: _Optional[_Union[_market_pb2.TickBatch, _Mapping]] = ...) -> None: ...

class QueryBarsRequest(_message.Message):
    __slots__ = ("symbol", "interval", "start_time_us", "end_time_us", "limit")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    START_TIME_US_FIELD_NUMBER: _ClassVar[int]
    END_TIME_US_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    interval: _history_pb2.BarInterval
    start_time_us: int
    end_time_us: int
    limit: int
    def __init__(self, symbol: _Optional[str] = ..., interval: _Optional[_Union[_history_pb2.BarInterval, str]] = ..., start_time_us: _Optional[int] = ..., end_time_us: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class QueryBarsResponse(_message.Message):
    __slots__ = ("bars",)
    BARS_FIELD_NUMBER: _ClassVar[int]
    bars: _containers.RepeatedCompositeFieldContainer[_history_pb2.Bar]
    def __init__(self, bars: _Optional[_Iterable[_Union[_history_pb2.Bar, _Mapping]]] = ...) -> None: ...

class LatestTicksRequest(_message.Message):
    __slots__ = ("symbols",)
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbols: _Optional[_Iterable[str]] = ...) -> None: ...

class LatestTicksResponse(_message.Message):
    __slots__ = ("ticks",)
    TICKS_FIELD_NUMBER: _ClassVar[int]
    ticks: _containers.RepeatedCompositeFieldContainer[_market_pb2.Tick]
    def __init__(self, ticks: _Optional[_Iterable[_Union[_market_pb2.Tick, _Mapping]]] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("company_id", "since", "until", "actor", "action", "page_size", "page_token")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    actor: str
    action: str
    page_size: int
    page_token: str
    def __init__(self, company_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("event_id", "at", "actor", "action", "company_id", "target", "before_json", "after_json")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    BEFORE_JSON_FIELD_NUMBER: _ClassVar[int]
    AFTER_JSON_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    at: _timestamp_pb2.Timestamp
    actor: str
    action: str
    company_id: str
    target: str
    before_json: str
    after_json: str
    def __init__(self, event_id: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., company_id: _Optional[str] = ..., target: _Optional[str] = ..., before_json: _Optional[str] = ..., after_json: _Optional[str] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SignUpRequest(_message.Message):
    __slots__ = ("company_name", "owner_email", "owner_name")
    COMPANY_NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    OWNER_NAME_FIELD_NUMBER: _ClassVar[int]
    company_name: str
    owner_email: str
    owner_name: str
    def __init__(self, company_name: _Optional[str] = ..., owner_email: _Optional[str] = ..., owner_name: _Optional[str] = ...) -> None: ...

class SignUpResponse(_message.Message):
    __slots__ = ("company_id", "user_id", "verification_expires_at")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    user_id: str
    verification_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, company_id: _Optional[str] = ..., user_id: _Optional[str] = ..., verification_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class VerifyEmailRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class VerifyEmailResponse(_message.Message):
    __slots__ = ("company_id", "owner_key")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_KEY_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    owner_key: IssueApiKeyResponse
    def __init__(self, company_id: _Optional[str] = ..., owner_key: _Optional[_Union[IssueApiKeyResponse, _Mapping]] = ...) -> None: ...

class EmitEventRequest(_message.Message):
    __slots__ = ("company_id", "type", "data_json", "dedupe_key")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    DEDUPE_KEY_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    type: str
    data_json: str
    dedupe_key: str
    def __init__(self, company_id: _Optional[str] = ..., type: _Optional[str] = ..., data_json: _Optional[str] = ..., dedupe_key: _Optional[str] = ...) -> None: ...

class EmitEventResponse(_message.Message):
    __slots__ = ("event_id", "duplicate")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    duplicate: bool
    def __init__(self, event_id: _Optional[str] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class SupportMessage(_message.Message):
    __slots__ = ("message_id", "author", "author_id", "body", "created_at")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    author: str
    author_id: str
    body: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, message_id: _Optional[str] = ..., author: _Optional[str] = ..., author_id: _Optional[str] = ..., body: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SupportTicket(_message.Message):
    __slots__ = ("ticket_id", "company_id", "opened_by", "subject", "status", "support_level", "created_at", "first_response_due_at", "first_responded_at", "closed_at", "response_missed", "messages")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    OPENED_BY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_DUE_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONDED_AT_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_MISSED_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    company_id: str
    opened_by: str
    subject: str
    status: str
    support_level: str
    created_at: _timestamp_pb2.Timestamp
    first_response_due_at: _timestamp_pb2.Timestamp
    first_responded_at: _timestamp_pb2.Timestamp
    closed_at: _timestamp_pb2.Timestamp
    response_missed: bool
    messages: _containers.RepeatedCompositeFieldContainer[SupportMessage]
    def __init__(self, ticket_id: _Optional[str] = ..., company_id: _Optional[str] = ..., opened_by: _Optional[str] = ..., subject: _Optional[str] = ..., status: _Optional[str] = ..., support_level: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_response_due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_responded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., response_missed: _Optional[bool] = ..., messages: _Optional[_Iterable[_Union[SupportMessage, _Mapping]]] = ...) -> None: ...

class OpenTicketRequest(_message.Message):
    __slots__ = ("subject", "body")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    subject: str
    body: str
    def __init__(self, subject: _Optional[str] = ..., body: _Optional[str] = ...) -> None: ...

class OpenTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: SupportTicket
    def __init__(self, ticket: _Optional[_Union[SupportTicket, _Mapping]] = ...) -> None: ...

class ListTicketsRequest(_message.Message):
    __slots__ = ("company_id", "status", "limit")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    status: str
    limit: int
    def __init__(self, company_id: _Optional[str] = ..., status: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListTicketsResponse(_message.Message):
    __slots__ = ("tickets",)
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    tickets: _containers.RepeatedCompositeFieldContainer[SupportTicket]
    def __init__(self, tickets: _Optional[_Iterable[_Union[SupportTicket, _Mapping]]] = ...) -> None: ...

class GetTicketRequest(_message.Message):
    __slots__ = ("ticket_id",)
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    def __init__(self, ticket_id: _Optional[str] = ...) -> None: ...

class GetTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: SupportTicket
    def __init__(self, ticket: _Optional[_Union[SupportTicket, _Mapping]] = ...) -> None: ...

class ReplyTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "body")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    body: str
    def __init__(self, ticket_id: _Optional[str] = ..., body: _Optional[str] = ...) -> None: ...

class ReplyTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: SupportTicket
    def __init__(self, ticket: _Optional[_Union[SupportTicket, _Mapping]] = ...) -> None: ...

class CloseTicketRequest(_message.Message):
    __slots__ = ("ticket_id",)
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    def __init__(self, ticket_id: _Optional[str] = ...) -> None: ...

class CloseTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: SupportTicket
    def __init__(self, ticket: _Optional[_Union[SupportTicket, _Mapping]] = ...) -> None: ...

class ReportMissedResponsesRequest(_message.Message):
    __slots__ = ("as_of",)
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReportMissedResponsesResponse(_message.Message):
    __slots__ = ("reported",)
    REPORTED_FIELD_NUMBER: _ClassVar[int]
    reported: int
    def __init__(self, reported: _Optional[int] = ...) -> None: ...

class CompanyConfig(_message.Message):
    __slots__ = ("company_id", "tier", "max_users", "max_users_set", "support_level", "support_level_set", "features", "users", "first_response_hours")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    MAX_USERS_FIELD_NUMBER: _ClassVar[int]
    MAX_USERS_SET_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_LEVEL_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_LEVEL_SET_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_HOURS_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    max_users: int
    max_users_set: bool
    support_level: str
    support_level_set: bool
    features: _containers.RepeatedScalarFieldContainer[str]
    users: int
    first_response_hours: int
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., max_users: _Optional[int] = ..., max_users_set: _Optional[bool] = ..., support_level: _Optional[str] = ..., support_level_set: _Optional[bool] = ..., features: _Optional[_Iterable[str]] = ..., users: _Optional[int] = ..., first_response_hours: _Optional[int] = ...) -> None: ...

class GetCompanyConfigRequest(_message.Message):
    __slots__ = ("company_id",)
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    def __init__(self, company_id: _Optional[str] = ...) -> None: ...

class GetCompanyConfigResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: CompanyConfig
    def __init__(self, config: _Optional[_Union[CompanyConfig, _Mapping]] = ...) -> None: ...

class SetCompanyConfigRequest(_message.Message):
    __slots__ = ("company_id", "max_users", "support_level", "reset_max_users", "reset_support_level")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_USERS_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_LEVEL_FIELD_NUMBER: _ClassVar[int]
    RESET_MAX_USERS_FIELD_NUMBER: _ClassVar[int]
    RESET_SUPPORT_LEVEL_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    max_users: int
    support_level: str
    reset_max_users: bool
    reset_support_level: bool
    def __init__(self, company_id: _Optional[str] = ..., max_users: _Optional[int] = ..., support_level: _Optional[str] = ..., reset_max_users: _Optional[bool] = ..., reset_support_level: _Optional[bool] = ...) -> None: ...

class SetCompanyConfigResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: CompanyConfig
    def __init__(self, config: _Optional[_Union[CompanyConfig, _Mapping]] = ...) -> None: ...
