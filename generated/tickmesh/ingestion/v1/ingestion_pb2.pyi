from tickmesh.common.v1 import market_pb2 as _market_pb2
from tickmesh.common.v1 import tenancy_pb2 as _tenancy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SwitchKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SWITCH_KIND_UNSPECIFIED: _ClassVar[SwitchKind]
    SWITCH_KIND_FAILOVER: _ClassVar[SwitchKind]
    SWITCH_KIND_RECOVERY: _ClassVar[SwitchKind]

class FeedState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEED_STATE_UNSPECIFIED: _ClassVar[FeedState]
    FEED_STATE_RUNNING: _ClassVar[FeedState]
    FEED_STATE_DISCONNECTED: _ClassVar[FeedState]
    FEED_STATE_SILENT: _ClassVar[FeedState]
SWITCH_KIND_UNSPECIFIED: SwitchKind
SWITCH_KIND_FAILOVER: SwitchKind
SWITCH_KIND_RECOVERY: SwitchKind
FEED_STATE_UNSPECIFIED: FeedState
FEED_STATE_RUNNING: FeedState
FEED_STATE_DISCONNECTED: FeedState
FEED_STATE_SILENT: FeedState

class StreamTicksRequest(_message.Message):
    __slots__ = ("from_seq", "symbols", "max_batch_ticks")
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_TICKS_FIELD_NUMBER: _ClassVar[int]
    from_seq: int
    symbols: _containers.RepeatedScalarFieldContainer[str]
    max_batch_ticks: int
    def __init__(self, from_seq: _Optional[int] = ..., symbols: _Optional[_Iterable[str]] = ..., max_batch_ticks: _Optional[int] = ...) -> None: ...

class ReplayComplete(_message.Message):
    __slots__ = ("last_replayed_seq", "replayed")
    LAST_REPLAYED_SEQ_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    last_replayed_seq: int
    replayed: int
    def __init__(self, last_replayed_seq: _Optional[int] = ..., replayed: _Optional[int] = ...) -> None: ...

class StreamTicksResponse(_message.Message):
    __slots__ = ("batch", "replay_complete", "gap", "heartbeat")
    BATCH_FIELD_NUMBER: _ClassVar[int]
    REPLAY_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    batch: _market_pb2.TickBatch
    replay_complete: ReplayComplete
    gap: _market_pb2.GapNotice
    heartbeat: _market_pb2.Heartbeat
    def __init__(self, batch: _Optional[_Union[_market_pb2.TickBatch, _Mapping]] = ..., replay_complete: _Optional[_Union[ReplayComplete, _Mapping]] = ..., gap: _Optional[_Union[_market_pb2.GapNotice, _Mapping]] = ..., heartbeat: _Optional[_Union[_market_pb2.Heartbeat, _Mapping]] = ...) -> None: ...

class PublishTicksRequest(_message.Message):
    __slots__ = ("quotes",)
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    quotes: _containers.RepeatedCompositeFieldContainer[_market_pb2.Quote]
    def __init__(self, quotes: _Optional[_Iterable[_Union[_market_pb2.Quote, _Mapping]]] = ...) -> None: ...

class QuoteRejection(_message.Message):
    __slots__ = ("index", "symbol", "reason")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    index: int
    symbol: str
    reason: str
    def __init__(self, index: _Optional[int] = ..., symbol: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PublishTicksResponse(_message.Message):
    __slots__ = ("accepted", "rejected", "rejections", "last_seq")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    rejected: int
    rejections: _containers.RepeatedCompositeFieldContainer[QuoteRejection]
    last_seq: int
    def __init__(self, accepted: _Optional[int] = ..., rejected: _Optional[int] = ..., rejections: _Optional[_Iterable[_Union[QuoteRejection, _Mapping]]] = ..., last_seq: _Optional[int] = ...) -> None: ...

class ListSymbolsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SymbolInfo(_message.Message):
    __slots__ = ("symbol", "digits", "pip_size", "major", "brokers")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    DIGITS_FIELD_NUMBER: _ClassVar[int]
    PIP_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    BROKERS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    digits: int
    pip_size: float
    major: bool
    brokers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbol: _Optional[str] = ..., digits: _Optional[int] = ..., pip_size: _Optional[float] = ..., major: _Optional[bool] = ..., brokers: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSymbolsResponse(_message.Message):
    __slots__ = ("symbols",)
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedCompositeFieldContainer[SymbolInfo]
    def __init__(self, symbols: _Optional[_Iterable[_Union[SymbolInfo, _Mapping]]] = ...) -> None: ...

class GetBrokerStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BrokerStatus(_message.Message):
    __slots__ = ("broker", "up", "latency_p50_us", "latency_p99_us", "completeness", "quotes", "rejected", "disconnects")
    BROKER_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_US_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_US_FIELD_NUMBER: _ClassVar[int]
    COMPLETENESS_FIELD_NUMBER: _ClassVar[int]
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    DISCONNECTS_FIELD_NUMBER: _ClassVar[int]
    broker: str
    up: bool
    latency_p50_us: int
    latency_p99_us: int
    completeness: float
    quotes: int
    rejected: int
    disconnects: int
    def __init__(self, broker: _Optional[str] = ..., up: _Optional[bool] = ..., latency_p50_us: _Optional[int] = ..., latency_p99_us: _Optional[int] = ..., completeness: _Optional[float] = ..., quotes: _Optional[int] = ..., rejected: _Optional[int] = ..., disconnects: _Optional[int] = ...) -> None: ...

class GetBrokerStatusResponse(_message.Message):
    __slots__ = ("brokers", "last_seq", "oldest_buffered_seq", "views")
    BROKERS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    OLDEST_BUFFERED_SEQ_FIELD_NUMBER: _ClassVar[int]
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    brokers: _containers.RepeatedCompositeFieldContainer[BrokerStatus]
    last_seq: int
    oldest_buffered_seq: int
    views: _containers.RepeatedCompositeFieldContainer[ViewSources]
    def __init__(self, brokers: _Optional[_Iterable[_Union[BrokerStatus, _Mapping]]] = ..., last_seq: _Optional[int] = ..., oldest_buffered_seq: _Optional[int] = ..., views: _Optional[_Iterable[_Union[ViewSources, _Mapping]]] = ...) -> None: ...

class ViewSources(_message.Message):
    __slots__ = ("tier", "symbol", "sources", "target")
    TIER_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    tier: _tenancy_pb2.Tier
    symbol: str
    sources: int
    target: int
    def __init__(self, tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., symbol: _Optional[str] = ..., sources: _Optional[int] = ..., target: _Optional[int] = ...) -> None: ...

class ListSourceSwitchesRequest(_message.Message):
    __slots__ = ("since_us", "tier", "symbol")
    SINCE_US_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    since_us: int
    tier: _tenancy_pb2.Tier
    symbol: str
    def __init__(self, since_us: _Optional[int] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., symbol: _Optional[str] = ...) -> None: ...

class SourceSwitch(_message.Message):
    __slots__ = ("time_us", "tier", "symbol", "from_brokers", "to_brokers", "cause", "degraded", "kind")
    TIME_US_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    FROM_BROKERS_FIELD_NUMBER: _ClassVar[int]
    TO_BROKERS_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    time_us: int
    tier: _tenancy_pb2.Tier
    symbol: str
    from_brokers: _containers.RepeatedScalarFieldContainer[str]
    to_brokers: _containers.RepeatedScalarFieldContainer[str]
    cause: str
    degraded: bool
    kind: SwitchKind
    def __init__(self, time_us: _Optional[int] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., symbol: _Optional[str] = ..., from_brokers: _Optional[_Iterable[str]] = ..., to_brokers: _Optional[_Iterable[str]] = ..., cause: _Optional[str] = ..., degraded: _Optional[bool] = ..., kind: _Optional[_Union[SwitchKind, str]] = ...) -> None: ...

class ListSourceSwitchesResponse(_message.Message):
    __slots__ = ("switches", "failovers", "recoveries")
    SWITCHES_FIELD_NUMBER: _ClassVar[int]
    FAILOVERS_FIELD_NUMBER: _ClassVar[int]
    RECOVERIES_FIELD_NUMBER: _ClassVar[int]
    switches: _containers.RepeatedCompositeFieldContainer[SourceSwitch]
    failovers: int
    recoveries: int
    def __init__(self, switches: _Optional[_Iterable[_Union[SourceSwitch, _Mapping]]] = ..., failovers: _Optional[int] = ..., recoveries: _Optional[int] = ...) -> None: ...

class SetBrokerFeedRequest(_message.Message):
    __slots__ = ("broker", "state")
    BROKER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    broker: str
    state: FeedState
    def __init__(self, broker: _Optional[str] = ..., state: _Optional[_Union[FeedState, str]] = ...) -> None: ...

class SetBrokerFeedResponse(_message.Message):
    __slots__ = ("broker", "state")
    BROKER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    broker: str
    state: FeedState
    def __init__(self, broker: _Optional[str] = ..., state: _Optional[_Union[FeedState, str]] = ...) -> None: ...
