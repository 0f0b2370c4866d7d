import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tickmesh.common.v1 import market_pb2 as _market_pb2
from tickmesh.common.v1 import tenancy_pb2 as _tenancy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubscribeOptions(_message.Message):
    __slots__ = ("best_effort", "max_batch_ticks", "no_snapshot")
    BEST_EFFORT_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_TICKS_FIELD_NUMBER: _ClassVar[int]
    NO_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    best_effort: bool
    max_batch_ticks: int
    no_snapshot: bool
    def __init__(self, best_effort: _Optional[bool] = ..., max_batch_ticks: _Optional[int] = ..., no_snapshot: _Optional[bool] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("symbols", "resume_from", "options")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    RESUME_FROM_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    resume_from: int
    options: SubscribeOptions
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., resume_from: _Optional[int] = ..., options: _Optional[_Union[SubscribeOptions, _Mapping]] = ...) -> None: ...

class RefusedSymbol(_message.Message):
    __slots__ = ("symbol", "reason", "required_tier")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_TIER_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    reason: str
    required_tier: _tenancy_pb2.Tier
    def __init__(self, symbol: _Optional[str] = ..., reason: _Optional[str] = ..., required_tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ...) -> None: ...

class SubscriptionAck(_message.Message):
    __slots__ = ("session_id", "tier", "symbols", "refused", "update_interval_ms", "features", "snapshot", "quota_remaining", "start_seq")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    UPDATE_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    QUOTA_REMAINING_FIELD_NUMBER: _ClassVar[int]
    START_SEQ_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    tier: _tenancy_pb2.Tier
    symbols: _containers.RepeatedScalarFieldContainer[str]
    refused: _containers.RepeatedCompositeFieldContainer[RefusedSymbol]
    update_interval_ms: int
    features: _containers.RepeatedScalarFieldContainer[str]
    snapshot: _market_pb2.TickBatch
    quota_remaining: int
    start_seq: int
    def __init__(self, session_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., symbols: _Optional[_Iterable[str]] = ..., refused: _Optional[_Iterable[_Union[RefusedSymbol, _Mapping]]] = ..., update_interval_ms: _Optional[int] = ..., features: _Optional[_Iterable[str]] = ..., snapshot: _Optional[_Union[_market_pb2.TickBatch, _Mapping]] = ..., quota_remaining: _Optional[int] = ..., start_seq: _Optional[int] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("ack", "batch", "heartbeat", "gap", "skipped", "message_seq")
    ACK_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_SEQ_FIELD_NUMBER: _ClassVar[int]
    ack: SubscriptionAck
    batch: _market_pb2.TickBatch
    heartbeat: _market_pb2.Heartbeat
    gap: _market_pb2.GapNotice
    skipped: int
    message_seq: int
    def __init__(self, ack: _Optional[_Union[SubscriptionAck, _Mapping]] = ..., batch: _Optional[_Union[_market_pb2.TickBatch, _Mapping]] = ..., heartbeat: _Optional[_Union[_market_pb2.Heartbeat, _Mapping]] = ..., gap: _Optional[_Union[_market_pb2.GapNotice, _Mapping]] = ..., skipped: _Optional[int] = ..., message_seq: _Optional[int] = ...) -> None: ...

class GetSessionStatsRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class SessionStats(_message.Message):
    __slots__ = ("session_id", "user_id", "tier", "symbols", "opened_at", "ticks_delivered", "messages_delivered", "skipped", "queue_depth")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    TICKS_DELIVERED_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_DELIVERED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    tier: _tenancy_pb2.Tier
    symbols: _containers.RepeatedScalarFieldContainer[str]
    opened_at: _timestamp_pb2.Timestamp
    ticks_delivered: int
    messages_delivered: int
    skipped: int
    queue_depth: int
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., symbols: _Optional[_Iterable[str]] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ticks_delivered: _Optional[int] = ..., messages_delivered: _Optional[int] = ..., skipped: _Optional[int] = ..., queue_depth: _Optional[int] = ...) -> None: ...

class GetSessionStatsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[SessionStats]
    def __init__(self, sessions: _Optional[_Iterable[_Union[SessionStats, _Mapping]]] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ("billing_period", "company_id")
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    company_id: str
    def __init__(self, billing_period: _Optional[str] = ..., company_id: _Optional[str] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ("company_id", "billing_period", "ticks_delivered", "ticks_recorded", "open_streams", "streams_refused")
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    TICKS_DELIVERED_FIELD_NUMBER: _ClassVar[int]
    TICKS_RECORDED_FIELD_NUMBER: _ClassVar[int]
    OPEN_STREAMS_FIELD_NUMBER: _ClassVar[int]
    STREAMS_REFUSED_FIELD_NUMBER: _ClassVar[int]
    company_id: str
    billing_period: str
    ticks_delivered: int
    ticks_recorded: int
    open_streams: int
    streams_refused: int
    def __init__(self, company_id: _Optional[str] = ..., billing_period: _Optional[str] = ..., ticks_delivered: _Optional[int] = ..., ticks_recorded: _Optional[int] = ..., open_streams: _Optional[int] = ..., streams_refused: _Optional[int] = ...) -> None: ...
