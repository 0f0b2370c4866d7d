"""Per-call state in contextvars: request id, method, and trailing metadata to send back."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

MetadataValue = str | bytes
Metadata = tuple[tuple[str, MetadataValue], ...]


class MethodPath:
    """`service` and `method_name` of a record's `method`, `/package.Service/Method`."""

    __slots__ = ()
    method: str

    @property
    def service(self) -> str:
        """The full service name, `package.Service`."""
        return service_of(self.method)

    @property
    def method_name(self) -> str:
        """The bare method name, `Method`."""
        return method_name_of(self.method)


@dataclass(slots=True)
class CallState(MethodPath):
    """What the mesh knows about the RPC being served in this task."""

    request_id: str
    """The caller's x-request-id, or one generated for this call."""

    method: str
    """The full method path, `/package.Service/Method`."""

    trailing: list[tuple[str, MetadataValue]] = field(default_factory=list)
    """Trailing metadata accumulated by add_trailing_metadata; the outermost
    interceptor sends it when the call ends, also when it ends in an error."""


def service_of(method: str) -> str:
    """`package.Service` of a method path `/package.Service/Method`."""
    return method.lstrip("/").partition("/")[0]


def method_name_of(method: str) -> str:
    """`Method` of a method path `/package.Service/Method`."""
    return method.rpartition("/")[2]


# grpc.aio runs each RPC (interceptors and handler alike) in its own asyncio task, and every
# task gets a copy of the context, so a value set here is private to one call.
_call: ContextVar[CallState | None] = ContextVar("tickmesh_call", default=None)

# The tenant context (company, user, tier, key id) gets its own ContextVar in
# mesh/tenancy/, set by the auth interceptor; it does not live in CallState because
# authentication is a separate concern with its own lifetime rules.


def current_call() -> CallState | None:
    """The state of the RPC being served, or None outside an RPC."""
    return _call.get()


def current_request_id() -> str | None:
    """The request id of the RPC being served, or None outside an RPC."""
    call = _call.get()
    return call.request_id if call is not None else None


def current_method() -> str | None:
    """The full method path of the RPC being served, or None outside an RPC."""
    call = _call.get()
    return call.method if call is not None else None


def add_trailing_metadata(key: str, value: MetadataValue) -> None:
    """Queue one trailing-metadata entry to send back to the caller when this RPC ends.

    Outside an RPC this does nothing, so domain code that reports (say) quota usage runs
    unchanged in unit tests without gRPC.
    """
    call = _call.get()
    if call is not None:
        call.trailing.append((key.lower(), value))


@contextlib.contextmanager
def call_scope(request_id: str, method: str) -> Iterator[CallState]:
    """Make a fresh CallState current for the duration of the block."""
    state = CallState(request_id=request_id, method=method)
    token = _call.set(state)
    try:
        yield state
    finally:
        _call.reset(token)


def merge_metadata(*parts: Iterable[tuple[str, MetadataValue]]) -> Metadata:
    """Concatenate metadata, dropping exact repeats of a (key, value) pair, keeping order."""
    seen: set[tuple[str, MetadataValue]] = set()
    out: list[tuple[str, MetadataValue]] = []
    for part in parts:
        for key, value in part:
            if (key, value) not in seen:
                seen.add((key, value))
                out.append((key, value))
    return tuple(out)
