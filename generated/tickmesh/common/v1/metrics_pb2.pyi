from tickmesh.common.v1 import tenancy_pb2 as _tenancy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetBusinessMetricsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetBusinessMetricsResponse(_message.Message):
    __slots__ = ("service", "instance_id", "requests_by_tier", "active_sessions_by_tier", "revenue_minor_units_by_tier", "gauges", "companies")
    class GaugesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_BY_TIER_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SESSIONS_BY_TIER_FIELD_NUMBER: _ClassVar[int]
    REVENUE_MINOR_UNITS_BY_TIER_FIELD_NUMBER: _ClassVar[int]
    GAUGES_FIELD_NUMBER: _ClassVar[int]
    COMPANIES_FIELD_NUMBER: _ClassVar[int]
    service: str
    instance_id: str
    requests_by_tier: _containers.RepeatedCompositeFieldContainer[TierCount]
    active_sessions_by_tier: _containers.RepeatedCompositeFieldContainer[TierCount]
    revenue_minor_units_by_tier: _containers.RepeatedCompositeFieldContainer[TierCount]
    gauges: _containers.ScalarMap[str, float]
    companies: _containers.RepeatedCompositeFieldContainer[CompanyActivity]
    def __init__(self, service: _Optional[str] = ..., instance_id: _Optional[str] = ..., requests_by_tier: _Optional[_Iterable[_Union[TierCount, _Mapping]]] = ..., active_sessions_by_tier: _Optional[_Iterable[_Union[TierCount, _Mapping]]] = ..., revenue_minor_units_by_tier: _Optional[_Iterable[_Union[TierCount, _Mapping]]] = ..., gauges: _Optional[_Mapping[str, float]] = ..., companies: _Optional[_Iterable[_Union[CompanyActivity, _Mapping]]] = ...) -> None: ...

class TierCount(_message.Message):
    __slots__ = ("tier", "value")
    TIER_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    tier: _tenancy_pb2.Tier
    value: int
    def __init__(self, tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., value: _Optional[int] = ...) -> None: ...

class CompanyActivity(_message.Message):
    __slots__ = ("company_id", "tier", "requests", "errors", "quota_used_ratio")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    QUOTA_USED_RATIO_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    tier: _tenancy_pb2.Tier
    requests: int
    errors: int
    quota_used_ratio: float
    def __init__(self, company_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., requests: _Optional[int] = ..., errors: _Optional[int] = ..., quota_used_ratio: _Optional[float] = ...) -> None: ...
