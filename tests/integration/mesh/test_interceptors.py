"""The mesh interceptor chain on a real grpc.aio server, for all four call shapes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mesh.binding import ServiceBinding
from mesh.config import MeshConfig
from mesh.context import add_trailing_metadata, current_request_id
from mesh.errors import QuotaViolation, ResourceExhausted
from mesh.interceptors import CallInfo, MeshInterceptor
from mesh.server import MeshServer, build_server

SERVICE = "tickmesh.test.v1.Probe"
ChannelFactory = Callable[[str], grpc.aio.Channel]


def path(method: str) -> str:
    return f"/{SERVICE}/{method}"


def quota_error() -> ResourceExhausted:
    return ResourceExhausted(
        "daily API calls used up",
        violations=[QuotaViolation(subject="company:c1", description="1000 calls/day")],
        retry_after_s=30,
        trailing_metadata=[("x-quota-reset", "2030-01-01T00:00:00Z")],
    )


# --- handlers: bytes in, bytes out --------------------------------------------------------


async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    add_trailing_metadata("x-usage", "1")
    return b"unary:" + request


async def unary_stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    for i in range(3):
        yield request + b":%d" % i


async def unary_stream_writer(request: bytes, context: grpc.aio.ServicerContext) -> None:
    # The reader/writer style: a coroutine that writes and returns None.
    await context.write(request + b":w0")
    await context.write(request + b":w1")


async def stream_unary(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
    return b"+".join([message async for message in requests])


async def stream_stream(
    requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
) -> AsyncIterator[bytes]:
    async for message in requests:
        yield b"echo:" + message


async def fail_mid_stream(
    request: bytes, context: grpc.aio.ServicerContext
) -> AsyncIterator[bytes]:
    yield b"tick-1"
    yield b"tick-2"
    add_trailing_metadata("x-usage", "2")
    raise quota_error()


async def fail_mid_stream_writer(request: bytes, context: grpc.aio.ServicerContext) -> None:
    await context.write(b"tick-1")
    await context.write(b"tick-2")
    raise quota_error()


ENDLESS_CLOSED = asyncio.Event()


async def endless(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    try:
        while True:
            yield b"tick"
    finally:
        ENDLESS_CLOSED.set()


async def boom(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise RuntimeError("password=hunter2 in the connection string")


async def grpc_abort(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.PERMISSION_DENIED, "handler aborted itself")
    raise AssertionError("abort returns only by raising")


async def request_id(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return (current_request_id() or "").encode()


HANDLERS = {
    "Unary": grpc.unary_unary_rpc_method_handler(unary),
    "UnaryStream": grpc.unary_stream_rpc_method_handler(unary_stream),
    "UnaryStreamWriter": grpc.unary_stream_rpc_method_handler(unary_stream_writer),
    "StreamUnary": grpc.stream_unary_rpc_method_handler(stream_unary),
    "StreamStream": grpc.stream_stream_rpc_method_handler(stream_stream),
    "FailMidStream": grpc.unary_stream_rpc_method_handler(fail_mid_stream),
    "FailMidStreamWriter": grpc.unary_stream_rpc_method_handler(fail_mid_stream_writer),
    "Endless": grpc.unary_stream_rpc_method_handler(endless),
    "Boom": grpc.unary_unary_rpc_method_handler(boom),
    "GrpcAbort": grpc.unary_unary_rpc_method_handler(grpc_abort),
    "RequestId": grpc.unary_unary_rpc_method_handler(request_id),
}


@dataclass
class Seen:
    method: str
    shape: tuple[bool, bool]
    request_id: str | None
    outcome: str = "running"
    ended: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Recorder(MeshInterceptor):
    """Records every call it wraps, and how it ended."""

    calls: list[Seen] = field(default_factory=list)

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        seen = Seen(
            call.method, (call.request_streaming, call.response_streaming), current_request_id()
        )
        self.calls.append(seen)
        try:
            yield
        except BaseException as exc:
            seen.outcome = type(exc).__name__
            raise
        else:
            seen.outcome = "ok"
        finally:
            seen.ended.set()

    def last(self, method: str) -> Seen:
        return [seen for seen in self.calls if seen.method == path(method)][-1]


@dataclass
class Probe:
    server: MeshServer
    recorder: Recorder

    @property
    def target(self) -> str:
        return self.server.address


@pytest.fixture(scope="module")
async def probe() -> AsyncIterator[Probe]:
    recorder = Recorder()
    binding = ServiceBinding(
        name=SERVICE,
        register=lambda server: server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, HANDLERS),)
        ),
    )
    server = await build_server(
        MeshConfig(tls_insecure=True, grace_seconds=0),
        component="probe",
        port=0,
        bindings=[binding],
        interceptors=[recorder],
    )
    await server.start()
    yield Probe(server, recorder)
    await server.stop()


def trailers(metadata: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for key, value in metadata or ():
        out.setdefault(key, []).append(value)
    return out


async def test_unary_unary_passes_through_the_chain(
    probe: Probe, aio_channel: ChannelFactory
) -> None:
    call = aio_channel(probe.target).unary_unary(path("Unary"))(b"hi")
    assert await call == b"unary:hi"
    assert await call.code() == grpc.StatusCode.OK
    got = trailers(await call.trailing_metadata())
    assert got["x-usage"] == ["1"]
    seen = probe.recorder.last("Unary")
    assert (seen.shape, seen.outcome) == ((False, False), "ok")
    # The request id the handler's interceptors saw is the one echoed to the caller.
    assert got["x-request-id"] == [seen.request_id]


async def test_unary_stream_async_generator(probe: Probe, aio_channel: ChannelFactory) -> None:
    call = aio_channel(probe.target).unary_stream(path("UnaryStream"))(b"s")
    assert [m async for m in call] == [b"s:0", b"s:1", b"s:2"]
    assert await call.code() == grpc.StatusCode.OK
    seen = probe.recorder.last("UnaryStream")
    assert (seen.shape, seen.outcome) == ((False, True), "ok")


async def test_unary_stream_writer_coroutine(probe: Probe, aio_channel: ChannelFactory) -> None:
    call = aio_channel(probe.target).unary_stream(path("UnaryStreamWriter"))(b"s")
    assert [m async for m in call] == [b"s:w0", b"s:w1"]
    assert await call.code() == grpc.StatusCode.OK
    assert probe.recorder.last("UnaryStreamWriter").outcome == "ok"


async def test_stream_unary(probe: Probe, aio_channel: ChannelFactory) -> None:
    async def requests() -> AsyncIterator[bytes]:
        for part in (b"a", b"b", b"c"):
            yield part

    call = aio_channel(probe.target).stream_unary(path("StreamUnary"))(requests())
    assert await call == b"a+b+c"
    seen = probe.recorder.last("StreamUnary")
    assert (seen.shape, seen.outcome) == ((True, False), "ok")


async def test_stream_stream(probe: Probe, aio_channel: ChannelFactory) -> None:
    call = aio_channel(probe.target).stream_stream(path("StreamStream"))()
    replies = []
    for part in (b"x", b"y"):
        await call.write(part)
        replies.append(await call.read())
    await call.done_writing()
    assert await call.read() is grpc.aio.EOF
    assert replies == [b"echo:x", b"echo:y"]
    assert await call.code() == grpc.StatusCode.OK
    seen = probe.recorder.last("StreamStream")
    assert (seen.shape, seen.outcome) == ((True, True), "ok")


@pytest.mark.parametrize("method", ["FailMidStream", "FailMidStreamWriter"])
async def test_mesh_error_mid_stream_keeps_messages_and_maps_status(
    probe: Probe, aio_channel: ChannelFactory, method: str
) -> None:
    call = aio_channel(probe.target).unary_stream(path(method))(
        b"", metadata=(("x-request-id", "client-rid-42"),)
    )
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for message in call:
            received.append(message)
    assert received == [b"tick-1", b"tick-2"]
    error = info.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == "daily API calls used up"

    status = rpc_status.from_call(error)
    assert status is not None
    by_type = {detail.TypeName(): detail for detail in status.details}
    info_detail = error_details_pb2.ErrorInfo()
    by_type["google.rpc.ErrorInfo"].Unpack(info_detail)
    assert (info_detail.reason, info_detail.domain) == ("QUOTA_EXCEEDED", "tickmesh.dev")
    quota = error_details_pb2.QuotaFailure()
    by_type["google.rpc.QuotaFailure"].Unpack(quota)
    assert [(v.subject, v.description) for v in quota.violations] == [
        ("company:c1", "1000 calls/day")
    ]
    assert "google.rpc.RetryInfo" in by_type

    got = trailers(error.trailing_metadata())
    assert got["x-request-id"] == ["client-rid-42"]  # a valid caller id is kept and echoed
    assert got["x-quota-reset"] == ["2030-01-01T00:00:00Z"]  # from the error
    if method == "FailMidStream":
        assert got["x-usage"] == ["2"]  # from add_trailing_metadata before the raise
    # The interceptors inside the error mapping saw the domain error itself.
    assert probe.recorder.last(method).outcome == "ResourceExhausted"


async def test_unexpected_exception_is_internal_without_its_text(
    probe: Probe, aio_channel: ChannelFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="mesh.interceptors.errors")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await aio_channel(probe.target).unary_unary(path("Boom"))(b"")
    error = info.value
    assert error.code() == grpc.StatusCode.INTERNAL
    request_id = trailers(error.trailing_metadata())["x-request-id"][0]
    assert request_id in error.details()
    assert "hunter2" not in error.details() and "RuntimeError" not in error.details()
    status = rpc_status.from_call(error)
    assert status is not None and status.message == error.details()
    # ...but the log has the traceback.
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])


async def test_grpc_abort_passes_through_untouched(
    probe: Probe, aio_channel: ChannelFactory
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await aio_channel(probe.target).unary_unary(path("GrpcAbort"))(b"")
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert info.value.details() == "handler aborted itself"
    assert rpc_status.from_call(info.value) is None  # not re-mapped into a rich status
    assert "x-request-id" in trailers(info.value.trailing_metadata())
    assert probe.recorder.last("GrpcAbort").outcome == "AbortError"


@pytest.mark.parametrize(
    "metadata",
    [
        (("x-request-id", "has space"),),
        (("x-request-id", "x" * 129),),
        (("x-request-id", ""),),
        (("x-request-id", "ok-1"), ("x-request-id", "ok-2")),
    ],
    ids=["space", "too-long", "empty", "duplicated"],
)
async def test_malformed_request_id_is_invalid_argument(
    probe: Probe, aio_channel: ChannelFactory, metadata: tuple[tuple[str, str], ...]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await aio_channel(probe.target).unary_unary(path("Unary"))(b"", metadata=metadata)
    error = info.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error)
    assert status is not None
    detail = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(detail)
    assert detail.reason == "MALFORMED_METADATA"
    assert dict(detail.metadata) == {"key": "x-request-id"}
    # The caller still gets a (fresh, valid) request id to quote.
    [echoed] = trailers(error.trailing_metadata())["x-request-id"]
    assert echoed not in {value for _, value in metadata}


async def test_request_id_generated_when_absent(probe: Probe, aio_channel: ChannelFactory) -> None:
    call = aio_channel(probe.target).unary_unary(path("RequestId"))(b"")
    body = await call
    [echoed] = trailers(await call.trailing_metadata())["x-request-id"]
    assert body.decode() == echoed
    assert len(echoed) == 32 and int(echoed, 16) >= 0


async def test_request_id_taken_from_caller(probe: Probe, aio_channel: ChannelFactory) -> None:
    rid = "trace:abc.DEF_1-2"
    call = aio_channel(probe.target).unary_unary(path("RequestId"))(
        b"", metadata=(("x-request-id", rid),)
    )
    assert await call == rid.encode()
    assert trailers(await call.trailing_metadata())["x-request-id"] == [rid]


async def test_unknown_method_is_unimplemented(probe: Probe, aio_channel: ChannelFactory) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await aio_channel(probe.target).unary_unary(path("NoSuchMethod"))(b"")
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_client_cancel_closes_the_handlers_generator(
    probe: Probe, aio_channel: ChannelFactory
) -> None:
    call = aio_channel(probe.target).unary_stream(path("Endless"))(b"")
    assert await call.read() == b"tick"
    call.cancel()
    # The wrapper closes the handler's generator in the RPC's task, not at garbage collection.
    await asyncio.wait_for(ENDLESS_CLOSED.wait(), 5.0)
    seen = probe.recorder.last("Endless")
    await asyncio.wait_for(seen.ended.wait(), 5.0)
    assert seen.outcome == "CancelledError"
