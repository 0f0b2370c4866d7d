"""Forwarding any mesh method, raw bytes in and out: the Hub's proxy and the sidecar share it.

A generic handler answers every routed method. Each method's shape (client and
server streaming) comes from the compiled descriptors; its handler has identity
serializers, so messages are forwarded as the bytes they arrived as, never
parsed. Per call a `Routing` (the Hub's own Resolver, or the sidecar's Resolve
calls to the Hub) picks the instance, then the call is forwarded:

- metadata: the caller's, minus hop-by-hop and grpc-internal keys, with the
  call's request id (the sidecar's `outgoing` also swaps credentials);
- the deadline: what remains of the caller's, as the upstream timeout;
- cancellation: a cancelled caller cancels the upstream call;
- the upstream's initial metadata, messages, status code, details and
  trailing metadata (rich error details and ratelimit-* included) unchanged.

An upstream failing with UNAVAILABLE from the connection (not from the
application, which always sends trailing metadata) is reported to the Routing;
when nothing has been answered yet and the request was unary (a unary call, or
a server stream before its first message), the call is retried on another
instance, up to `attempts` tries in all. A stream that delivered data is never
retried: it ends with UNAVAILABLE and the client reconnects (resuming by
sequence where the contract offers it). drain() ends every forwarded stream at
once with UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from tickmesh.billing.v1 import billing_pb2
from tickmesh.bridge.v1 import bridge_pb2, history_pb2
from tickmesh.ingestion.v1 import ingestion_pb2
from tickmesh.storage.v1 import storage_pb2
from tickmesh.workflow.v1 import chains_pb2, lifecycle_pb2, webhooks_pb2

from mesh.channel_pool import ChannelPool
from mesh.context import current_request_id
from mesh.errors import MeshError
from mesh.interceptors.request_id import REQUEST_ID_KEY

_log = logging.getLogger(__name__)

ROUTED_MODULES = (
    billing_pb2,
    bridge_pb2,
    history_pb2,
    ingestion_pb2,
    storage_pb2,
    lifecycle_pb2,
    webhooks_pb2,
    chains_pb2,
)
"""The generated modules of every service the Hub routes to (importing them registers
their descriptors in the default pool)."""

# Keys that describe one HTTP/2 hop, not the call; grpc sets its own on the next hop.
_HOP_BY_HOP = frozenset(
    {"te", "content-type", "user-agent", "host", "connection", "keep-alive",
     "proxy-connection", "transfer-encoding", "upgrade", REQUEST_ID_KEY}
)  # fmt: skip
_STATUS_DETAILS = "grpc-status-details-bin"

Metadata = tuple[tuple[str, str | bytes], ...]
MetadataIn = Sequence[tuple[str, str | bytes]] | None


@dataclass(frozen=True, slots=True)
class RoutedMethod:
    """One method the proxy forwards."""

    path: str
    """`/package.Service/Method`."""
    service: str
    """The mesh service that serves it, e.g. `bridge`."""
    request_streaming: bool
    response_streaming: bool


@dataclass(frozen=True, slots=True)
class Target:
    """The instance one attempt of a call goes to."""

    instance_id: str
    address: str


class Routing(Protocol):
    """Where each call goes, and what the forwarder learnt about an instance."""

    async def pick(self, method: RoutedMethod, exclude: Sequence[str], *, retry: bool) -> Target:
        """The instance for this call (`retry`: a repeat of a failed attempt, not a new
        call); raises MeshError when there is none, or the AioRpcError of a routing call
        (the caller gets its status as it is)."""
        ...

    def succeeded(self, target: Target) -> None:
        """The instance answered (possibly with an error of the application's)."""

    def failed(self, target: Target) -> None:
        """The connection to the instance failed."""


class CallObserver(Protocol):
    """Told about every forwarded call (the sidecar counts them); the Hub uses none."""

    def relayed(self) -> None:
        """A response message went to the caller (counted live, for open streams too)."""

    def ended(
        self, method: RoutedMethod, code: grpc.StatusCode, overhead_s: float, messages: int
    ) -> None:
        """A call ended with `code` after relaying `messages` response messages;
        `overhead_s` is the time spent in the forwarder itself (routing and relaying), not
        waiting for the upstream or the caller."""


def mesh_service_of(service: ServiceDescriptor) -> str:
    """The mesh service a contract service belongs to: `tickmesh.bridge.v1.X` -> `bridge`."""
    return service.full_name.split(".")[1]


def routed_methods(modules: Iterable[Any] = ROUTED_MODULES) -> dict[str, RoutedMethod]:
    """Every method of the services in `modules`, by path, with its shape."""
    out = {}
    for module in modules:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                path = f"/{service.full_name}/{method.name}"
                out[path] = RoutedMethod(
                    path=path,
                    service=mesh_service_of(service),
                    request_streaming=method.client_streaming,
                    response_streaming=method.server_streaming,
                )
    return out


def forwarded_metadata(metadata: MetadataIn) -> Metadata:
    """The caller's metadata for the next hop, with the current request id."""
    out: list[tuple[str, str | bytes]] = [
        (key, value)
        for key, value in metadata or ()
        if key not in _HOP_BY_HOP and not key.startswith((":", "grpc-"))
    ]
    request_id = current_request_id()
    if request_id:
        out.append((REQUEST_ID_KEY, request_id))
    return tuple(out)


def returned_metadata(metadata: MetadataIn) -> Metadata:
    """The upstream's metadata for the caller: everything but transport keys (the rich
    error details in grpc-status-details-bin stay)."""
    return tuple(
        (key, value)
        for key, value in metadata or ()
        if key == _STATUS_DETAILS or not key.startswith((":", "grpc-"))
        if key not in ("content-type", "te")
    )


def transport_failure(err: grpc.aio.AioRpcError) -> bool:
    """UNAVAILABLE from the connection, not from the application: the instance's own
    handlers always send trailing metadata (at least x-request-id), a dead peer none."""
    return err.code() == grpc.StatusCode.UNAVAILABLE and not err.trailing_metadata()


class _Timer:
    """Time spent in the forwarder, excluding the spans it waits on others."""

    __slots__ = ("_paused_at", "messages", "observer", "started", "waited")

    def __init__(self, observer: CallObserver) -> None:
        self.observer = observer
        self.started = time.perf_counter()
        self.messages = 0
        self.waited = 0.0
        self._paused_at = 0.0

    def pause(self) -> None:
        self._paused_at = time.perf_counter()

    def resume(self) -> None:
        self.waited += time.perf_counter() - self._paused_at

    def overhead(self) -> float:
        return max(0.0, time.perf_counter() - self.started - self.waited)


class Forwarder(grpc.GenericRpcHandler):
    """Forwards every routed method to the instance its Routing picks."""

    def __init__(
        self,
        routing: Routing,
        channels: ChannelPool,
        methods: dict[str, RoutedMethod] | None = None,
        *,
        name: str = "proxy",
        outgoing: Callable[[MetadataIn], Metadata] = forwarded_metadata,
        attempts: int = 2,
        observer: CallObserver | None = None,
    ) -> None:
        self._routing = routing
        self._stopping = f"the {name} is stopping; reconnect"
        self._channels = channels
        self._outgoing = outgoing
        self._attempts = attempts
        self._observer = observer
        self.methods = methods if methods is not None else routed_methods()
        self._handlers = {path: self._handler(m) for path, m in self.methods.items()}
        self._streams: set[grpc.aio.Call] = set()
        self._draining = False

    def drain(self) -> None:
        """Stopping: end every forwarded stream now with UNAVAILABLE, so its clients
        reconnect instead of waiting out the grace period."""
        self._draining = True
        for call in list(self._streams):
            call.cancel()

    @property
    def method_paths(self) -> frozenset[str]:
        """Every path the forwarder answers."""
        return frozenset(self.methods)

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        return self._handlers.get(handler_call_details.method)

    # --- handlers by shape ---------------------------------------------------------------

    def _handler(self, m: RoutedMethod) -> grpc.RpcMethodHandler:
        if m.request_streaming and m.response_streaming:

            async def stream_stream(requests: AsyncIterator[bytes], context: Any) -> None:
                await self._observed(m, self._stream_response, requests, context)

            return grpc.stream_stream_rpc_method_handler(stream_stream)
        if m.request_streaming:

            async def stream_unary(requests: AsyncIterator[bytes], context: Any) -> bytes:
                return await self._observed(m, self._unary_response, requests, context)

            return grpc.stream_unary_rpc_method_handler(stream_unary)
        if m.response_streaming:

            async def unary_stream(request: bytes, context: Any) -> None:
                await self._observed(m, self._stream_response, request, context)

            return grpc.unary_stream_rpc_method_handler(unary_stream)

        async def unary_unary(request: bytes, context: Any) -> bytes:
            return await self._observed(m, self._unary_response, request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary)

    async def _observed(self, m: RoutedMethod, forward: Any, request: Any, context: Any) -> Any:
        if self._observer is None:
            return await forward(m, request, context, None)
        timer = _Timer(self._observer)
        code = grpc.StatusCode.OK
        try:
            return await forward(m, request, context, timer)
        except grpc.aio.AioRpcError as err:
            code = err.code()
            raise
        except MeshError as err:
            code = err.code
            raise
        except asyncio.CancelledError:
            # grpc cancels the handler both for a cancelled caller and a passed deadline.
            remaining = context.time_remaining()
            expired = remaining is not None and remaining <= 0
            code = grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
            raise
        except grpc.aio.AbortError:
            # context.abort() raises this, with the upstream's status set on the context.
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except Exception:
            code = grpc.StatusCode.UNKNOWN
            raise
        finally:
            self._observer.ended(m, code, timer.overhead(), timer.messages)

    # --- forwarding ----------------------------------------------------------------------

    async def _unary_response(
        self, m: RoutedMethod, request: Any, context: Any, timer: _Timer | None
    ) -> bytes:
        metadata = self._outgoing(context.invocation_metadata())
        tried: list[str] = []
        target = await self._first_pick(m, context)
        while True:
            multi = (
                self._channels.stream_unary(target.address, m.service, m.path)
                if m.request_streaming
                else self._channels.unary_unary(target.address, m.service, m.path)
            )
            call = multi(request, timeout=context.time_remaining(), metadata=metadata)
            if timer is not None:
                timer.pause()
            try:
                response: bytes = await call
            except grpc.aio.AioRpcError as err:
                if timer is not None:
                    timer.resume()
                tried.append(target.instance_id)
                retry = await self._after_failure(m, target, err, tried, nothing_sent=True)
                if retry is None:
                    await _relay_error(context, err)
                    raise
                target = retry
                continue
            if timer is not None:
                timer.resume()
                timer.messages += 1
                timer.observer.relayed()
            self._routing.succeeded(target)
            await _relay_initial(context, await call.initial_metadata())
            context.set_trailing_metadata(returned_metadata(await call.trailing_metadata()))
            return response

    async def _stream_response(
        self, m: RoutedMethod, request: Any, context: Any, timer: _Timer | None
    ) -> None:
        metadata = self._outgoing(context.invocation_metadata())
        tried: list[str] = []
        target = await self._first_pick(m, context)
        while True:
            multi = (
                self._channels.stream_stream(target.address, m.service, m.path)
                if m.request_streaming
                else self._channels.unary_stream(target.address, m.service, m.path)
            )
            call = multi(request, timeout=context.time_remaining(), metadata=metadata)
            sent = False
            retry = None
            self._streams.add(call)
            try:
                if self._draining:
                    call.cancel()
                while True:
                    if timer is not None:
                        timer.pause()
                    message = await call.read()
                    if timer is not None:
                        timer.resume()
                    if message is grpc.aio.EOF:
                        break
                    if not sent:
                        await _relay_initial(context, await call.initial_metadata())
                        sent = True
                    if timer is None:
                        await context.write(message)
                    else:
                        # The caller's flow control is the caller's time, not ours.
                        timer.messages += 1
                        timer.observer.relayed()
                        timer.pause()
                        await context.write(message)
                        timer.resume()
            except grpc.aio.AioRpcError as err:
                if timer is not None:
                    timer.resume()
                tried.append(target.instance_id)
                retry = await self._after_failure(m, target, err, tried, nothing_sent=not sent)
                if retry is None:
                    await _relay_error(context, err)
                    raise
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._draining and task is not None and not task.cancelling():
                    # drain() cancelled the upstream, not the caller: tell it to reconnect.
                    await context.abort(grpc.StatusCode.UNAVAILABLE, self._stopping)
                raise
            finally:
                self._streams.discard(call)
                # The caller cancelled, the deadline passed or we are stopping: the
                # upstream call must not outlive the one it serves.
                if not call.done():
                    call.cancel()
            if retry is not None:
                target = retry
                continue
            self._routing.succeeded(target)
            if not sent:
                await _relay_initial(context, await call.initial_metadata())
            context.set_trailing_metadata(returned_metadata(await call.trailing_metadata()))
            return

    async def _first_pick(self, m: RoutedMethod, context: Any) -> Target:
        try:
            return await self._routing.pick(m, (), retry=False)
        except grpc.aio.AioRpcError as err:
            await _relay_error(context, err)
            raise

    async def _after_failure(
        self,
        m: RoutedMethod,
        target: Target,
        err: grpc.aio.AioRpcError,
        tried: Sequence[str],
        *,
        nothing_sent: bool,
    ) -> Target | None:
        """Account for a failed upstream call; the instance to retry on, or None to relay
        the upstream's error as it is."""
        if not transport_failure(err):
            # The instance answered (with an error of the application's): it is alive.
            self._routing.succeeded(target)
            return None
        self._routing.failed(target)
        # Retry only what can be replayed: a unary request, nothing answered yet.
        if m.request_streaming or not nothing_sent or len(tried) >= self._attempts:
            return None
        try:
            return await self._routing.pick(m, tried, retry=True)
        except (MeshError, grpc.aio.AioRpcError):
            # No other instance: the upstream's own UNAVAILABLE says more than "none left".
            return None


async def _relay_initial(context: Any, metadata: MetadataIn) -> None:
    forwarded = returned_metadata(metadata)
    if forwarded:
        await context.send_initial_metadata(forwarded)


async def _relay_error(context: Any, err: grpc.aio.AioRpcError) -> None:
    """End the call with the upstream's status, details and trailing metadata as they are."""
    await context.abort(err.code(), err.details() or "", returned_metadata(err.trailing_metadata()))
