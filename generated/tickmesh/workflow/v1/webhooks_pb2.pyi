from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ReplayWebhookRequest(_message.Message):
    __slots__ = ("event_id", "endpoint_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    endpoint_id: str
    def __init__(self, event_id: _Optional[str] = ..., endpoint_id: _Optional[str] = ...) -> None: ...

class ReplayWebhookResponse(_message.Message):
    __slots__ = ("workflow_id", "delivered")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    delivered: bool
    def __init__(self, workflow_id: _Optional[str] = ..., delivered: _Optional[bool] = ...) -> None: ...
