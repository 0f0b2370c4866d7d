"""Rebuild a grpc.aio method handler of any call shape to run inside an async context manager."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc

Around = Callable[[grpc.aio.ServicerContext], AbstractAsyncContextManager[object]]
"""Given the call's servicer context, the async context manager to run the handler in."""

Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]


def wrap_handler(handler: grpc.RpcMethodHandler, around: Around) -> grpc.RpcMethodHandler:
    """Return a copy of `handler` whose behavior runs inside `around(context)`.

    Works for all four call shapes (the approach of opentelemetry-python-contrib's gRPC
    instrumentation, see https://github.com/grpc/grpc/issues/18191). An exception the
    handler raises, also midway through a server stream, reaches `around`'s __aexit__.
    """
    behavior, factory = handler_shape(handler)
    wrapped = (
        _streaming(behavior, around) if handler.response_streaming else _unary(behavior, around)
    )
    return factory(
        wrapped,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def handler_shape(
    handler: grpc.RpcMethodHandler,
) -> tuple[Behavior, Callable[..., grpc.RpcMethodHandler]]:
    """The handler's behavior and the factory that builds a handler of the same shape."""
    if handler.request_streaming and handler.response_streaming:
        return handler.stream_stream, grpc.stream_stream_rpc_method_handler
    if handler.request_streaming:
        return handler.stream_unary, grpc.stream_unary_rpc_method_handler
    if handler.response_streaming:
        return handler.unary_stream, grpc.unary_stream_rpc_method_handler
    return handler.unary_unary, grpc.unary_unary_rpc_method_handler


def _unary(behavior: Behavior, around: Around) -> Behavior:
    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        async with around(context):
            result = behavior(request, context)
            if not inspect.isawaitable(result):
                raise TypeError(f"{behavior!r} is not an async handler; mesh servers are grpc.aio")
            return await result

    return unary


def _streaming(behavior: Behavior, around: Around) -> Behavior:
    # The wrapper is a coroutine that writes each message with context.write(), not an
    # async generator that yields them: grpc.aio awaits a coroutine handler to completion in
    # the RPC's own task, so `around` enters and exits in one task (contextvars reset
    # cleanly) and an inner generator is closed right here, never left suspended for the
    # garbage collector when the server stops or the peer goes away mid-stream.
    async def streaming(request: Any, context: grpc.aio.ServicerContext) -> None:
        async with around(context):
            await drain(behavior(request, context), context, behavior)

    return streaming


async def drain(result: Any, context: grpc.aio.ServicerContext, behavior: Behavior) -> None:
    """Send a streaming handler's output: iterate an async generator, await a writer coroutine."""
    if isinstance(result, AsyncIterator):
        try:
            async for message in result:
                await context.write(message)
        finally:
            aclose = getattr(result, "aclose", None)
            if aclose is not None:
                await aclose()
    elif inspect.isawaitable(result):
        # A handler that writes with context.write() itself and returns None; grpc.aio
        # handlers (and previous interceptors' wrappers) take this path.
        await result
    else:
        raise TypeError(f"{behavior!r} is not an async handler; mesh servers are grpc.aio")
