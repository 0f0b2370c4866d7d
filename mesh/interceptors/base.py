"""The base class of mesh server interceptors: one async hook around every call of any shape."""

from __future__ import annotations

import abc
import functools
from collections.abc import Awaitable, Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Self

import grpc
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from mesh.context import Metadata, MethodPath
from mesh.interceptors._wrap import wrap_handler

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
# Every reflection version lives under one package prefix (grpc.reflection.v1alpha, .v1).
REFLECTION_PREFIX = reflection_pb2.DESCRIPTOR.package.rpartition(".")[0] + "."


@dataclass(frozen=True, slots=True)
class CallInfo(MethodPath):
    """What an interceptor knows about a call before the handler runs."""

    method: str
    """The full method path, `/package.Service/Method`."""

    invocation_metadata: Metadata
    """The metadata the client sent, as (key, value) pairs in order, duplicates kept."""

    request_streaming: bool
    response_streaming: bool


def is_infrastructure(call: CallInfo) -> bool:
    """True for health checks and server reflection, which mesh interceptors leave alone."""
    return call.service == HEALTH_SERVICE or call.service.startswith(REFLECTION_PREFIX)


Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


class MeshInterceptor(grpc.aio.ServerInterceptor, metaclass=abc.ABCMeta):
    """Subclasses implement `around`; this class applies it to unary and streaming calls alike.

    Calls for which `applies_to` is false (by default health and reflection) bypass the hook.
    """

    _services: frozenset[str] | None = None

    def scoped_to(self, services: Collection[str] | None) -> Self:
        """Run `around` only for calls to `services` (full names); None: every service."""
        self._services = frozenset(services) if services is not None else None
        return self

    def applies_to(self, call: CallInfo) -> bool:
        """Whether `around` runs for this call; override to scope the interceptor."""
        if self._services is not None and call.service not in self._services:
            return False
        return not is_infrastructure(call)

    @abc.abstractmethod
    def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AbstractAsyncContextManager[object]:
        """The async context manager the handler runs in (e.g. an @asynccontextmanager).

        Code before its `yield` runs before the handler, code after it when the handler
        returns or, for server streams, after the last message; an exception from the
        handler is raised at the `yield`. Raising a MeshError refuses the call.
        """

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            # Unknown method: grpc answers UNIMPLEMENTED itself.
            return None
        call = CallInfo(
            method=handler_call_details.method,
            invocation_metadata=tuple(handler_call_details.invocation_metadata or ()),
            request_streaming=handler.request_streaming,
            response_streaming=handler.response_streaming,
        )
        if not self.applies_to(call):
            return handler
        return wrap_handler(handler, functools.partial(self.around, call))
