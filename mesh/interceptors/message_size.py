"""Refuses a request message larger than its method accepts (mesh.message_limits), before
it is parsed and before any other mesh interceptor spends work on it.

The size is only known to the request deserializer, which sees the raw bytes; an
exception raised there would reach the client as UNKNOWN. So the deserializer hands
back a marker instead of a message, and the handler wrapper raises the precise error
in the call's own task, inside the error mapping, where every other refusal is raised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from mesh.errors import ResourceExhausted
from mesh.interceptors._wrap import drain, handler_shape
from mesh.interceptors.base import Continuation
from mesh.message_limits import request_limit


class _TooLarge:
    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


def too_large(method: str, size: int, limit: int) -> ResourceExhausted:
    """The refusal of a `size`-byte request to `method`."""
    return ResourceExhausted(
        f"request message of {size} bytes exceeds the {limit} bytes {method} accepts",
        reason="MESSAGE_TOO_LARGE",
        metadata={"limit_bytes": str(limit), "size_bytes": str(size)},
    )


class MessageSizeInterceptor(grpc.aio.ServerInterceptor):
    """Applies each method's request size limit (see the module docstring)."""

    def __init__(self, limit_of: Callable[[str], int] = request_limit) -> None:
        self._limit_of = limit_of

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        return _limited(handler, method, self._limit_of(method))


def _limited(handler: grpc.RpcMethodHandler, method: str, limit: int) -> grpc.RpcMethodHandler:
    parse: Callable[[bytes], Any] = handler.request_deserializer or (lambda data: data)

    def deserialize(data: bytes) -> Any:
        return _TooLarge(len(data)) if len(data) > limit else parse(data)

    def checked(request: Any) -> Any:
        if isinstance(request, _TooLarge):
            raise too_large(method, request.size, limit)
        return request

    async def checked_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for request in requests:
            yield checked(request)

    inner, factory = handler_shape(handler)

    # Coroutine functions, as grpc.aio requires of a handler it should await.
    if handler.response_streaming:

        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            check = checked_stream if handler.request_streaming else checked
            await drain(inner(check(request), context), context, inner)
    else:

        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            check = checked_stream if handler.request_streaming else checked
            return await inner(check(request), context)

    return factory(
        behavior,
        request_deserializer=deserialize,
        response_serializer=handler.response_serializer,
    )
