import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from tickmesh.common.v1 import tenancy_pb2 as _tenancy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChainStep(_message.Message):
    __slots__ = ("name", "service", "method", "request_template", "sla_ms", "cost_units", "abort_on_failure")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    SLA_MS_FIELD_NUMBER: _ClassVar[int]
    COST_UNITS_FIELD_NUMBER: _ClassVar[int]
    ABORT_ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    name: str
    service: str
    method: str
    request_template: str
    sla_ms: int
    cost_units: int
    abort_on_failure: bool
    def __init__(self, name: _Optional[str] = ..., service: _Optional[str] = ..., method: _Optional[str] = ..., request_template: _Optional[str] = ..., sla_ms: _Optional[int] = ..., cost_units: _Optional[int] = ..., abort_on_failure: _Optional[bool] = ...) -> None: ...

class ChainDefinition(_message.Message):
    __slots__ = ("name", "version", "category", "expected_outcome", "allowed_tiers", "parameters", "steps", "registered_at")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_TIERS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    category: str
    expected_outcome: str
    allowed_tiers: _containers.RepeatedScalarFieldContainer[_tenancy_pb2.Tier]
    parameters: _containers.ScalarMap[str, str]
    steps: _containers.RepeatedCompositeFieldContainer[ChainStep]
    registered_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., category: _Optional[str] = ..., expected_outcome: _Optional[str] = ..., allowed_tiers: _Optional[_Iterable[_Union[_tenancy_pb2.Tier, str]]] = ..., parameters: _Optional[_Mapping[str, str]] = ..., steps: _Optional[_Iterable[_Union[ChainStep, _Mapping]]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterChainRequest(_message.Message):
    __slots__ = ("chain",)
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    chain: ChainDefinition
    def __init__(self, chain: _Optional[_Union[ChainDefinition, _Mapping]] = ...) -> None: ...

class RegisterChainResponse(_message.Message):
    __slots__ = ("chain",)
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    chain: ChainDefinition
    def __init__(self, chain: _Optional[_Union[ChainDefinition, _Mapping]] = ...) -> None: ...

class ListChainsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListChainsResponse(_message.Message):
    __slots__ = ("chains",)
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    chains: _containers.RepeatedCompositeFieldContainer[ChainDefinition]
    def __init__(self, chains: _Optional[_Iterable[_Union[ChainDefinition, _Mapping]]] = ...) -> None: ...

class GetChainRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetChainResponse(_message.Message):
    __slots__ = ("chain",)
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    chain: ChainDefinition
    def __init__(self, chain: _Optional[_Union[ChainDefinition, _Mapping]] = ...) -> None: ...

class RunChainRequest(_message.Message):
    __slots__ = ("name", "version", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RunChainResponse(_message.Message):
    __slots__ = ("run_id", "version")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    version: int
    def __init__(self, run_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class StepResult(_message.Message):
    __slots__ = ("index", "name", "status", "code", "error", "duration_ms", "sla_violated", "attempts", "response_json")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    SLA_VIOLATED_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_JSON_FIELD_NUMBER: _ClassVar[int]
    index: int
    name: str
    status: str
    code: str
    error: str
    duration_ms: int
    sla_violated: bool
    attempts: int
    response_json: str
    def __init__(self, index: _Optional[int] = ..., name: _Optional[str] = ..., status: _Optional[str] = ..., code: _Optional[str] = ..., error: _Optional[str] = ..., duration_ms: _Optional[int] = ..., sla_violated: _Optional[bool] = ..., attempts: _Optional[int] = ..., response_json: _Optional[str] = ...) -> None: ...

class ChainRun(_message.Message):
    __slots__ = ("run_id", "name", "version", "company_id", "status", "steps", "sla_violations", "cost_units", "started_at")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    COMPANY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SLA_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    COST_UNITS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    name: str
    version: int
    company_id: str
    status: str
    steps: _containers.RepeatedCompositeFieldContainer[StepResult]
    sla_violations: int
    cost_units: int
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., company_id: _Optional[str] = ..., status: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[StepResult, _Mapping]]] = ..., sla_violations: _Optional[int] = ..., cost_units: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: ChainRun
    def __init__(self, run: _Optional[_Union[ChainRun, _Mapping]] = ...) -> None: ...

class WatchRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class WatchRunResponse(_message.Message):
    __slots__ = ("kind", "step", "run_status")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    RUN_STATUS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    step: StepResult
    run_status: str
    def __init__(self, kind: _Optional[str] = ..., step: _Optional[_Union[StepResult, _Mapping]] = ..., run_status: _Optional[str] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[ChainRun]
    def __init__(self, runs: _Optional[_Iterable[_Union[ChainRun, _Mapping]]] = ...) -> None: ...
