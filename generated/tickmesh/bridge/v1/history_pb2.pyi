from tickmesh.common.v1 import history_pb2 as _history_pb2
from tickmesh.common.v1 import market_pb2 as _market_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetQuoteRequest(_message.Message):
    __slots__ = ("symbols",)
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbols: _Optional[_Iterable[str]] = ...) -> None: ...

class GetQuoteResponse(_message.Message):
    __slots__ = ("quotes",)
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    quotes: _containers.RepeatedCompositeFieldContainer[_market_pb2.Tick]
    def __init__(self, quotes: _Optional[_Iterable[_Union[_market_pb2.Tick, _Mapping]]] = ...) -> None: ...

class GetBarsRequest(_message.Message):
    __slots__ = ("symbol", "interval", "start_time_us", "end_time_us", "page_size", "page_token")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    START_TIME_US_FIELD_NUMBER: _ClassVar[int]
    END_TIME_US_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    interval: _history_pb2.BarInterval
    start_time_us: int
    end_time_us: int
    page_size: int
    page_token: str
    def __init__(self, symbol: _Optional[str] = ..., interval: _Optional[_Union[_history_pb2.BarInterval, str]] = ..., start_time_us: _Optional[int] = ..., end_time_us: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetBarsResponse(_message.Message):
    __slots__ = ("bars", "next_page_token")
    BARS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bars: _containers.RepeatedCompositeFieldContainer[_history_pb2.Bar]
    next_page_token: str
    def __init__(self, bars: _Optional[_Iterable[_Union[_history_pb2.Bar, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StreamHistoryRequest(_message.Message):
    __slots__ = ("symbols", "start_time_us", "end_time_us", "max_batch_ticks")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_US_FIELD_NUMBER: _ClassVar[int]
    END_TIME_US_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_TICKS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    start_time_us: int
    end_time_us: int
    max_batch_ticks: int
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., start_time_us: _Optional[int] = ..., end_time_us: _Optional[int] = ..., max_batch_ticks: _Optional[int] = ...) -> None: ...

class StreamHistoryResponse(_message.Message):
    __slots__ = ("tick_count", "batch")
    TICK_COUNT_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    tick_count: int
    batch: _market_pb2.TickBatch
    def __init__(self, tick_count: _Optional[int] = ..., batch: _Optional[_Union[_market_pb2.TickBatch, _Mapping]] = ...) -> None: ...
