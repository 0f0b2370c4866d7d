import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tickmesh.common.v1 import tenancy_pb2 as _tenancy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InstanceHealth(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSTANCE_HEALTH_UNSPECIFIED: _ClassVar[InstanceHealth]
    INSTANCE_HEALTH_SERVING: _ClassVar[InstanceHealth]
    INSTANCE_HEALTH_NOT_SERVING: _ClassVar[InstanceHealth]
    INSTANCE_HEALTH_UNREACHABLE: _ClassVar[InstanceHealth]
    INSTANCE_HEALTH_EJECTED: _ClassVar[InstanceHealth]
INSTANCE_HEALTH_UNSPECIFIED: InstanceHealth
INSTANCE_HEALTH_SERVING: InstanceHealth
INSTANCE_HEALTH_NOT_SERVING: InstanceHealth
INSTANCE_HEALTH_UNREACHABLE: InstanceHealth
INSTANCE_HEALTH_EJECTED: InstanceHealth

class InstanceSpec(_message.Message):
    __slots__ = ("instance_id", "service", "address", "zone", "tiers", "capacity", "free_tier_allowed", "cost_per_request_micros", "labels", "tier_pool", "public_address")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    FREE_TIER_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    COST_PER_REQUEST_MICROS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TIER_POOL_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    service: str
    address: str
    zone: str
    tiers: _containers.RepeatedScalarFieldContainer[_tenancy_pb2.Tier]
    capacity: int
    free_tier_allowed: bool
    cost_per_request_micros: int
    labels: _containers.ScalarMap[str, str]
    tier_pool: bool
    public_address: str
    def __init__(self, instance_id: _Optional[str] = ..., service: _Optional[str] = ..., address: _Optional[str] = ..., zone: _Optional[str] = ..., tiers: _Optional[_Iterable[_Union[_tenancy_pb2.Tier, str]]] = ..., capacity: _Optional[int] = ..., free_tier_allowed: _Optional[bool] = ..., cost_per_request_micros: _Optional[int] = ..., labels: _Optional[_Mapping[str, str]] = ..., tier_pool: _Optional[bool] = ..., public_address: _Optional[str] = ...) -> None: ...

class Instance(_message.Message):
    __slots__ = ("spec", "health", "lease_id", "lease_expires_at", "active_sessions", "score", "registered_at")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    spec: InstanceSpec
    health: InstanceHealth
    lease_id: str
    lease_expires_at: _timestamp_pb2.Timestamp
    active_sessions: int
    score: float
    registered_at: _timestamp_pb2.Timestamp
    def __init__(self, spec: _Optional[_Union[InstanceSpec, _Mapping]] = ..., health: _Optional[_Union[InstanceHealth, str]] = ..., lease_id: _Optional[str] = ..., lease_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., active_sessions: _Optional[int] = ..., score: _Optional[float] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("spec", "ttl_seconds")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    spec: InstanceSpec
    ttl_seconds: int
    def __init__(self, spec: _Optional[_Union[InstanceSpec, _Mapping]] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("lease_id", "ttl_seconds", "expires_at")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    ttl_seconds: int
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, lease_id: _Optional[str] = ..., ttl_seconds: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("lease_id", "active_sessions")
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    active_sessions: int
    def __init__(self, lease_id: _Optional[str] = ..., active_sessions: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("expires_at",)
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeregisterRequest(_message.Message):
    __slots__ = ("lease_id",)
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    lease_id: str
    def __init__(self, lease_id: _Optional[str] = ...) -> None: ...

class DeregisterResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListInstancesRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class ListInstancesResponse(_message.Message):
    __slots__ = ("instances",)
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[Instance]
    def __init__(self, instances: _Optional[_Iterable[_Union[Instance, _Mapping]]] = ...) -> None: ...

class WatchInstancesRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class WatchInstancesResponse(_message.Message):
    __slots__ = ("type", "instance")
    class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        EVENT_TYPE_UNSPECIFIED: _ClassVar[WatchInstancesResponse.EventType]
        EVENT_TYPE_EXISTING: _ClassVar[WatchInstancesResponse.EventType]
        EVENT_TYPE_SNAPSHOT_END: _ClassVar[WatchInstancesResponse.EventType]
        EVENT_TYPE_ADDED: _ClassVar[WatchInstancesResponse.EventType]
        EVENT_TYPE_UPDATED: _ClassVar[WatchInstancesResponse.EventType]
        EVENT_TYPE_REMOVED: _ClassVar[WatchInstancesResponse.EventType]
    EVENT_TYPE_UNSPECIFIED: WatchInstancesResponse.EventType
    EVENT_TYPE_EXISTING: WatchInstancesResponse.EventType
    EVENT_TYPE_SNAPSHOT_END: WatchInstancesResponse.EventType
    EVENT_TYPE_ADDED: WatchInstancesResponse.EventType
    EVENT_TYPE_UPDATED: WatchInstancesResponse.EventType
    EVENT_TYPE_REMOVED: WatchInstancesResponse.EventType
    TYPE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    type: WatchInstancesResponse.EventType
    instance: Instance
    def __init__(self, type: _Optional[_Union[WatchInstancesResponse.EventType, str]] = ..., instance: _Optional[_Union[Instance, _Mapping]] = ...) -> None: ...

class ResolveRequest(_message.Message):
    __slots__ = ("service", "exclude_instance_ids")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    service: str
    exclude_instance_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, service: _Optional[str] = ..., exclude_instance_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ResolveResponse(_message.Message):
    __slots__ = ("instance", "reason")
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    instance: Instance
    reason: str
    def __init__(self, instance: _Optional[_Union[Instance, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class GetMeshMetricsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMeshMetricsResponse(_message.Message):
    __slots__ = ("collected_at", "services", "revenue_by_service", "revenue_by_tier", "active_sessions_by_tier", "customers", "insights")
    class RevenueByServiceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class RevenueByTierEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ActiveSessionsByTierEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    COLLECTED_AT_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    REVENUE_BY_SERVICE_FIELD_NUMBER: _ClassVar[int]
    REVENUE_BY_TIER_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SESSIONS_BY_TIER_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    INSIGHTS_FIELD_NUMBER: _ClassVar[int]
    collected_at: _timestamp_pb2.Timestamp
    services: _containers.RepeatedCompositeFieldContainer[ServiceSummary]
    revenue_by_service: _containers.ScalarMap[str, int]
    revenue_by_tier: _containers.ScalarMap[str, int]
    active_sessions_by_tier: _containers.ScalarMap[str, int]
    customers: _containers.RepeatedCompositeFieldContainer[CustomerHealth]
    insights: _containers.RepeatedCompositeFieldContainer[Insight]
    def __init__(self, collected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., services: _Optional[_Iterable[_Union[ServiceSummary, _Mapping]]] = ..., revenue_by_service: _Optional[_Mapping[str, int]] = ..., revenue_by_tier: _Optional[_Mapping[str, int]] = ..., active_sessions_by_tier: _Optional[_Mapping[str, int]] = ..., customers: _Optional[_Iterable[_Union[CustomerHealth, _Mapping]]] = ..., insights: _Optional[_Iterable[_Union[Insight, _Mapping]]] = ...) -> None: ...

class ServiceSummary(_message.Message):
    __slots__ = ("service", "instances", "healthy")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    service: str
    instances: int
    healthy: int
    def __init__(self, service: _Optional[str] = ..., instances: _Optional[int] = ..., healthy: _Optional[int] = ...) -> None: ...

class CustomerHealth(_message.Message):
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

class Insight(_message.Message):
    __slots__ = ("kind", "message", "recommendation")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    message: str
    recommendation: str
    def __init__(self, kind: _Optional[str] = ..., message: _Optional[str] = ..., recommendation: _Optional[str] = ...) -> None: ...

class GetServiceCatalogRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TenantMethod(_message.Message):
    __slots__ = ("method", "scope")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    method: str
    scope: str
    def __init__(self, method: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class TierInclusion(_message.Message):
    __slots__ = ("tier", "includes")
    TIER_FIELD_NUMBER: _ClassVar[int]
    INCLUDES_FIELD_NUMBER: _ClassVar[int]
    tier: _tenancy_pb2.Tier
    includes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., includes: _Optional[_Iterable[str]] = ...) -> None: ...

class ServiceOffer(_message.Message):
    __slots__ = ("name", "summary", "methods", "tiers", "healthy_instances", "served_tiers")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    SERVED_TIERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    summary: str
    methods: _containers.RepeatedCompositeFieldContainer[TenantMethod]
    tiers: _containers.RepeatedCompositeFieldContainer[TierInclusion]
    healthy_instances: int
    served_tiers: _containers.RepeatedScalarFieldContainer[_tenancy_pb2.Tier]
    def __init__(self, name: _Optional[str] = ..., summary: _Optional[str] = ..., methods: _Optional[_Iterable[_Union[TenantMethod, _Mapping]]] = ..., tiers: _Optional[_Iterable[_Union[TierInclusion, _Mapping]]] = ..., healthy_instances: _Optional[int] = ..., served_tiers: _Optional[_Iterable[_Union[_tenancy_pb2.Tier, str]]] = ...) -> None: ...

class GetServiceCatalogResponse(_message.Message):
    __slots__ = ("services",)
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[ServiceOffer]
    def __init__(self, services: _Optional[_Iterable[_Union[ServiceOffer, _Mapping]]] = ...) -> None: ...
