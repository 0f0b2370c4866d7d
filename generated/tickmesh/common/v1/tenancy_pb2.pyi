from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIER_UNSPECIFIED: _ClassVar[Tier]
    TIER_FREE: _ClassVar[Tier]
    TIER_PRO: _ClassVar[Tier]
    TIER_ENTERPRISE: _ClassVar[Tier]
TIER_UNSPECIFIED: Tier
TIER_FREE: Tier
TIER_PRO: Tier
TIER_ENTERPRISE: Tier

class TenantContext(_message.Message):
    __slots__ = ("company_id", "user_id", "tier", "key_id", "role", "scopes", "key_expires_at_us")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    KEY_EXPIRES_AT_US_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    user_id: str
    tier: Tier
    key_id: str
    role: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    key_expires_at_us: int
    def __init__(self, company_id: _Optional[str] = ..., user_id: _Optional[str] = ..., tier: _Optional[_Union[Tier, str]] = ..., key_id: _Optional[str] = ..., role: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., key_expires_at_us: _Optional[int] = ...) -> None: ...

class UsageEvent(_message.Message):
    __slots__ = ("idempotency_key", "company_id", "user_id", "tier", "service", "endpoint", "data_points", "processing_time_us", "event_time_us", "billing_period")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    DATA_POINTS_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_TIME_US_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_US_FIELD_NUMBER: _ClassVar[int]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    company_id: str
    user_id: str
    tier: Tier
    service: str
    endpoint: str
    data_points: int
    processing_time_us: int
    event_time_us: int
    billing_period: str
    def __init__(self, idempotency_key: _Optional[str] = ..., company_id: _Optional[str] = ..., user_id: _Optional[str] = ..., tier: _Optional[_Union[Tier, str]] = ..., service: _Optional[str] = ..., endpoint: _Optional[str] = ..., data_points: _Optional[int] = ..., processing_time_us: _Optional[int] = ..., event_time_us: _Optional[int] = ..., billing_period: _Optional[str] = ...) -> None: ...

class RelayedCaller(_message.Message):
    __slots__ = ("service", "tenant", "operator")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    service: str
    tenant: TenantContext
    operator: bool
    def __init__(self, service: _Optional[str] = ..., tenant: _Optional[_Union[TenantContext, _Mapping]] = ..., operator: _Optional[bool] = ...) -> None: ...
