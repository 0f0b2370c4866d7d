"""Client side of tracing: a span per outgoing call, its context sent as W3C metadata
(`traceparent`, `tracestate`; `baggage` when the trace carries any).

Hand-written rather than opentelemetry-instrumentation-grpc's aio client interceptors,
which replace every response stream with an async generator: one more hop per message
on the Bridge's upstream and on every stream the Hub forwards, and a span that ends only
when that generator is exhausted or collected, not when a caller cancels. These return
the call untouched and end the span when the call completes, whatever ends it.

grpc.aio files a channel interceptor under the first call shape it implements, so there
is one class per shape (as in mesh/client_interceptors.py). grpc's sync API asks one
object about every shape, so SyncTracingInterceptor is one class.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Tracer

from mesh.client_interceptors import sync_details
from mesh.telemetry.rpc import end_span, rpc_attributes, span_name, traced

# Strong references: the loop keeps only weak ones to tasks, and a collected watcher
# would leave its span open forever.
_watchers: set[asyncio.Task[None]] = set()


def _client_span(tracer: Tracer, method: str) -> tuple[Span, dict[str, str]] | None:
    """A client span for a call of `method` and the trace-context metadata naming it as
    the parent; None for a method that is not traced."""
    if not traced(method):
        return None
    span = tracer.start_span(
        span_name(method), kind=SpanKind.CLIENT, attributes=rpc_attributes(method)
    )
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return span, carrier


class _Tracing:
    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        # What the propagator writes: traceparent and tracestate (W3C), baggage.
        self._fields = tuple(propagate.get_global_textmap().fields)

    def _start(self, details: grpc.aio.ClientCallDetails) -> tuple[Span, Any] | None:
        method = details.method
        if isinstance(method, bytes):  # grpc passes bytes here (grpc/grpc#31092)
            method = method.decode()
        started = _client_span(self._tracer, method)
        if started is None:
            return None
        span, carrier = started
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        # Replace, not add: the Hub forwards its caller's metadata, trace context included,
        # and the next hop must see this span as its parent, once.
        for key in self._fields:
            if key in metadata:
                del metadata[key]
        for key, value in carrier.items():
            metadata.add(key, value)
        return span, grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    def _finish_later(self, span: Span, call: Any) -> None:
        # A stream is read by the caller at its own pace; a task ends the span when the
        # call completes (any code, cancellation included) without touching the messages.
        if not span.is_recording():
            span.end()  # not sampled: nothing to record, so nothing to wait for
            return
        task = asyncio.get_running_loop().create_task(_finish(span, call))
        _watchers.add(task)
        task.add_done_callback(_watchers.discard)

    async def _streaming(self, continuation: Any, details: Any, argument: Any) -> Any:
        """Any call with a streamed side: the span ends when the call completes."""
        started = self._start(details)
        if started is None:
            return await continuation(details, argument)
        span, details = started
        call = await continuation(details, argument)
        self._finish_later(span, call)
        return call


async def _finish(span: Span, call: Any) -> None:
    """End `span` with the status of `call` once it completes."""
    code = grpc.StatusCode.CANCELLED  # what a cancelled wait means: the caller gave up
    try:
        code = await call.code()
    finally:
        end_span(span, code, server=False)


class _UnaryUnary(_Tracing, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        started = self._start(details)
        if started is None:
            return await continuation(details, request)
        span, details = started
        call = await continuation(details, request)
        if span.is_recording():
            # The response is what the caller awaits anyway: wait for the status here.
            await _finish(span, call)
        else:
            span.end()  # not sampled: nothing to record, so nothing to wait for
        return call


class _UnaryStream(_Tracing, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await self._streaming(continuation, details, request)


class _StreamUnary(_Tracing, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await self._streaming(continuation, details, requests)


class _StreamStream(_Tracing, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await self._streaming(continuation, details, requests)


def tracing_interceptors(tracer: Tracer | None) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors tracing every call of a channel with `tracer`; none when it is None
    (telemetry off), so an untraced channel pays nothing."""
    if tracer is None:
        return []
    return [cls(tracer) for cls in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]


class SyncTracingInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """The same spans for grpc's sync API (the Bridge's upstream reader thread). A unary
    call's span ends from grpc's done callback. A server stream's ends when its reader
    sees the end (or the error) or when it is cancelled: grpc runs no done callback for a
    single-threaded stream (SingleThreadedUnaryStream) that its reader stops reading."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._fields = frozenset(propagate.get_global_textmap().fields)

    def _start(self, continuation: Any, details: Any, request: Any) -> tuple[Any, Span | None]:
        started = _client_span(self._tracer, details.method)
        if started is None:
            return continuation(details, request), None
        span, carrier = started
        # Replace, not add (as in _Tracing._start).
        metadata = [(k, v) for k, v in (details.metadata or ()) if k not in self._fields]
        return continuation(sync_details(details, [*metadata, *carrier.items()]), request), span

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        call, span = self._start(continuation, details, request)
        if span is not None:
            call.add_done_callback(lambda done: end_span(span, done.code(), server=False))
        return call

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        call, span = self._start(continuation, details, request)
        return call if span is None else _SpannedStream(call, span)


class _SpannedStream:
    """A sync server-stream call whose span ends with the stream (the call otherwise)."""

    def __init__(self, call: Any, span: Span) -> None:
        self._call = call
        self._span: Span | None = span
        self._lock = threading.Lock()  # the reader and a canceller may both end it

    def __iter__(self) -> _SpannedStream:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._call)
        except StopIteration:
            self._end(grpc.StatusCode.OK)
            raise
        except grpc.RpcError as exc:
            self._end(exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN)
            raise

    def cancel(self) -> bool:
        cancelled = bool(self._call.cancel())
        if cancelled:
            self._end(grpc.StatusCode.CANCELLED)
        return cancelled

    def _end(self, code: grpc.StatusCode) -> None:
        with self._lock:
            span, self._span = self._span, None
        if span is not None:
            end_span(span, code, server=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)  # code(), details(), metadata...


def sync_tracing_interceptors(tracer: Tracer | None) -> list[SyncTracingInterceptor]:
    """tracing_interceptors for a channel of grpc's sync API."""
    return [] if tracer is None else [SyncTracingInterceptor(tracer)]
