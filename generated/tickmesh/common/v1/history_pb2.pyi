from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class BarInterval(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BAR_INTERVAL_UNSPECIFIED: _ClassVar[BarInterval]
    BAR_INTERVAL_1S: _ClassVar[BarInterval]
    BAR_INTERVAL_1M: _ClassVar[BarInterval]
    BAR_INTERVAL_1H: _ClassVar[BarInterval]
    BAR_INTERVAL_1D: _ClassVar[BarInterval]
BAR_INTERVAL_UNSPECIFIED: BarInterval
BAR_INTERVAL_1S: BarInterval
BAR_INTERVAL_1M: BarInterval
BAR_INTERVAL_1H: BarInterval
BAR_INTERVAL_1D: BarInterval

class Bar(_message.Message):
    __slots__ = ("start_time_us", "open", "high", "low", "close", "bid_close", "ask_close", "tick_count")
    START_TIME_US_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    BID_CLOSE_FIELD_NUMBER: _ClassVar[int]
    ASK_CLOSE_FIELD_NUMBER: _ClassVar[int]
    TICK_COUNT_FIELD_NUMBER: _ClassVar[int]
    start_time_us: int
    open: float
    high: float
    low: float
    close: float
    bid_close: float
    ask_close: float
    tick_count: int
    def __init__(self, start_time_us: _Optional[int] = ..., open: _Optional[float] = ..., high: _Optional[float] = ..., low: _Optional[float] = ..., close: _Optional[float] = ..., bid_close: _Optional[float] = ..., ask_close: _Optional[float] = ..., tick_count: _Optional[int] = ...) -> None: ...
