"""What client and server spans share: names, rpc.* attributes, status, metadata carriers."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import grpc
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, Status, StatusCode

from mesh.interceptors.base import HEALTH_SERVICE, REFLECTION_PREFIX

UNTRACED_METHODS = frozenset({"/tickmesh.hub.v1.HubService/Heartbeat"})
"""Lease keep-alives: a trace every few seconds per instance would drown the real ones."""

_UNTRACED_PREFIXES = (f"/{HEALTH_SERVICE}/", f"/{REFLECTION_PREFIX}")

# Server spans are errors only for codes that say the server failed (OTel's gRPC
# conventions); a refusal (PERMISSION_DENIED, RESOURCE_EXHAUSTED...) is the server working.
_SERVER_ERRORS = frozenset(
    {grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNIMPLEMENTED,
     grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS}
)  # fmt: skip

Metadata = Sequence[tuple[str, str | bytes]]


def traced(method: str) -> bool:
    """Whether calls of `method` (`/package.Service/Method`) get spans: not health checks,
    reflection or lease heartbeats."""
    return not method.startswith(_UNTRACED_PREFIXES) and method not in UNTRACED_METHODS


@functools.lru_cache(maxsize=1024)
def span_name(method: str) -> str:
    """`package.Service/Method`, the OTel RPC span name."""
    return method.lstrip("/")


@functools.lru_cache(maxsize=1024)
def rpc_attributes(method: str) -> dict[str, str]:
    """rpc.system, rpc.service and rpc.method of `method`, built once per method (the SDK
    copies attributes into each span, so the shared dict is never mutated)."""
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


def end_span(span: Span, code: grpc.StatusCode, *, server: bool) -> None:
    """Record the call's status on `span` and end it."""
    if span.is_recording():
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code is not grpc.StatusCode.OK and (not server or code in _SERVER_ERRORS):
            # The code's name only: status details may quote request data.
            span.set_status(Status(StatusCode.ERROR, code.name))
    span.end()


class MetadataGetter(Getter[Metadata]):
    """Reads W3C trace context from gRPC metadata pairs (binary values are skipped)."""

    def get(self, carrier: Metadata, key: str) -> list[str] | None:
        values = [value for k, value in carrier if k == key and isinstance(value, str)]
        return values or None

    def keys(self, carrier: Metadata) -> list[str]:
        return [k for k, _ in carrier]


METADATA_GETTER = MetadataGetter()


def status_code(value: object) -> grpc.StatusCode | None:
    """A status code as grpc.aio reports it (an enum member or its integer), else None."""
    if isinstance(value, grpc.StatusCode):
        return value
    if isinstance(value, int):
        return _BY_INT.get(value)
    return None


_BY_INT = {code.value[0]: code for code in grpc.StatusCode}
