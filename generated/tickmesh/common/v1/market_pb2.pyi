from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Quote(_message.Message):
    __slots__ = ("symbol", "bid", "ask", "broker", "broker_time_us", "bid_size", "ask_size")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    BID_FIELD_NUMBER: _ClassVar[int]
    ASK_FIELD_NUMBER: _ClassVar[int]
    BROKER_FIELD_NUMBER: _ClassVar[int]
    BROKER_TIME_US_FIELD_NUMBER: _ClassVar[int]
    BID_SIZE_FIELD_NUMBER: _ClassVar[int]
    ASK_SIZE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    bid: float
    ask: float
    broker: str
    broker_time_us: int
    bid_size: float
    ask_size: float
    def __init__(self, symbol: _Optional[str] = ..., bid: _Optional[float] = ..., ask: _Optional[float] = ..., broker: _Optional[str] = ..., broker_time_us: _Optional[int] = ..., bid_size: _Optional[float] = ..., ask_size: _Optional[float] = ...) -> None: ...

class Tick(_message.Message):
    __slots__ = ("symbol", "bid", "ask", "broker", "broker_time_us", "ingest_time_us", "sequence", "spread_pips", "quality_score", "liquidity_score", "broker_quotes", "ask_broker", "views", "released_time_us")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    BID_FIELD_NUMBER: _ClassVar[int]
    ASK_FIELD_NUMBER: _ClassVar[int]
    BROKER_FIELD_NUMBER: _ClassVar[int]
    BROKER_TIME_US_FIELD_NUMBER: _ClassVar[int]
    INGEST_TIME_US_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SPREAD_PIPS_FIELD_NUMBER: _ClassVar[int]
    QUALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    LIQUIDITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    BROKER_QUOTES_FIELD_NUMBER: _ClassVar[int]
    ASK_BROKER_FIELD_NUMBER: _ClassVar[int]
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    RELEASED_TIME_US_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    bid: float
    ask: float
    broker: str
    broker_time_us: int
    ingest_time_us: int
    sequence: int
    spread_pips: float
    quality_score: float
    liquidity_score: float
    broker_quotes: _containers.RepeatedCompositeFieldContainer[Quote]
    ask_broker: str
    views: int
    released_time_us: int
    def __init__(self, symbol: _Optional[str] = ..., bid: _Optional[float] = ..., ask: _Optional[float] = ..., broker: _Optional[str] = ..., broker_time_us: _Optional[int] = ..., ingest_time_us: _Optional[int] = ..., sequence: _Optional[int] = ..., spread_pips: _Optional[float] = ..., quality_score: _Optional[float] = ..., liquidity_score: _Optional[float] = ..., broker_quotes: _Optional[_Iterable[_Union[Quote, _Mapping]]] = ..., ask_broker: _Optional[str] = ..., views: _Optional[int] = ..., released_time_us: _Optional[int] = ...) -> None: ...

class TickBatch(_message.Message):
    __slots__ = ("ticks", "first_seq", "last_seq", "send_time_us")
    TICKS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    SEND_TIME_US_FIELD_NUMBER: _ClassVar[int]
    ticks: _containers.RepeatedCompositeFieldContainer[Tick]
    first_seq: int
    last_seq: int
    send_time_us: int
    def __init__(self, ticks: _Optional[_Iterable[_Union[Tick, _Mapping]]] = ..., first_seq: _Optional[int] = ..., last_seq: _Optional[int] = ..., send_time_us: _Optional[int] = ...) -> None: ...

class GapNotice(_message.Message):
    __slots__ = ("from_seq", "to_seq", "reason")
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    TO_SEQ_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    from_seq: int
    to_seq: int
    reason: str
    def __init__(self, from_seq: _Optional[int] = ..., to_seq: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("server_time_us", "last_seq")
    SERVER_TIME_US_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    server_time_us: int
    last_seq: int
    def __init__(self, server_time_us: _Optional[int] = ..., last_seq: _Optional[int] = ...) -> None: ...
