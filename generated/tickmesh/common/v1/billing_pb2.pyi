import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tickmesh.common.v1 import money_pb2 as _money_pb2
from tickmesh.common.v1 import tenancy_pb2 as _tenancy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangeEffect(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_EFFECT_UNSPECIFIED: _ClassVar[ChangeEffect]
    CHANGE_EFFECT_IMMEDIATE: _ClassVar[ChangeEffect]
    CHANGE_EFFECT_END_OF_TERM: _ClassVar[ChangeEffect]
CHANGE_EFFECT_UNSPECIFIED: ChangeEffect
CHANGE_EFFECT_IMMEDIATE: ChangeEffect
CHANGE_EFFECT_END_OF_TERM: ChangeEffect

class InvoiceLine(_message.Message):
    __slots__ = ("kind", "description", "amount", "tier", "quantity")
    KIND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    kind: str
    description: str
    amount: _money_pb2.Money
    tier: _tenancy_pb2.Tier
    quantity: str
    def __init__(self, kind: _Optional[str] = ..., description: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tier: _Optional[_Union[_tenancy_pb2.Tier, str]] = ..., quantity: _Optional[str] = ...) -> None: ...

class Invoice(_message.Message):
    __slots__ = ("invoice_id", "company_id", "billing_period", "lines", "total", "status", "issued_at", "ticks_delivered", "api_calls", "payment_status")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    TICKS_DELIVERED_FIELD_NUMBER: _ClassVar[int]
    API_CALLS_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    company_id: str
    billing_period: str
    lines: _containers.RepeatedCompositeFieldContainer[InvoiceLine]
    total: _money_pb2.Money
    status: str
    issued_at: _timestamp_pb2.Timestamp
    ticks_delivered: int
    api_calls: int
    payment_status: str
    def __init__(self, invoice_id: _Optional[str] = ..., company_id: _Optional[str] = ..., billing_period: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[InvoiceLine, _Mapping]]] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ticks_delivered: _Optional[int] = ..., api_calls: _Optional[int] = ..., payment_status: _Optional[str] = ...) -> None: ...
