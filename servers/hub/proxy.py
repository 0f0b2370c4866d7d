"""The Hub's proxy: any registered service called through the Hub, raw bytes in and out.

A generic handler on the Hub's server answers every method of the mesh's
services except the Hub's own. Each method's shape (client and server
streaming) comes from the compiled descriptors; its handler has identity
serializers, so messages are forwarded as the bytes they arrived as, never
parsed. Per call the Hub picks an instance with the same rules as Resolve (the
caller's tier is known from the Hub's own authentication), then forwards:

- metadata: the caller's, minus hop-by-hop and grpc-internal keys, with the
  call's request id; the credential goes through untouched, so the target
  authenticates again and counts the quota (the Hub's quota check skips
  routed calls);
- the deadline: what remains of the caller's, as the upstream timeout;
- cancellation: a cancelled caller cancels the upstream call;
- the upstream's initial metadata, messages, status code, details and
  trailing metadata (rich error details and ratelimit-* included) unchanged.

An upstream failing with UNAVAILABLE from the connection (not from the
application, which always sends trailing metadata) counts against the instance
for outlier ejection; when nothing has been answered yet and the request was
unary (a unary call, or a server stream before its first message), the call is
retried once on another instance. A stream whose instance dies midway ends
with UNAVAILABLE, and the client reconnects through the Hub. When the Hub
stops, its forwarded streams end at once with UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from tickmesh.billing.v1 import billing_pb2
from tickmesh.bridge.v1 import bridge_pb2, history_pb2
from tickmesh.ingestion.v1 import ingestion_pb2
from tickmesh.storage.v1 import storage_pb2
from tickmesh.workflow.v1 import chains_pb2, lifecycle_pb2, webhooks_pb2

from mesh.context import current_request_id
from mesh.errors import MeshError
from mesh.interceptors.request_id import REQUEST_ID_KEY
from mesh.tenancy.current import optional_principal
from servers.hub.channels import ChannelPool
from servers.hub.registry import Instance
from servers.hub.selection import Resolver, routing_tier

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


@dataclass(frozen=True, slots=True)
class RoutedMethod:
    """One method the proxy forwards."""

    path: str
    """`/package.Service/Method`."""
    service: str
    """The mesh service that serves it, e.g. `bridge`."""
    request_streaming: bool
    response_streaming: bool


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


def forwarded_metadata(metadata: Sequence[tuple[str, str | bytes]] | None) -> Metadata:
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


def returned_metadata(metadata: Sequence[tuple[str, str | bytes]] | None) -> Metadata:
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


class Proxy(grpc.GenericRpcHandler):
    """Forwards every routed method to an instance picked by the Resolver."""

    def __init__(
        self,
        resolver: Resolver,
        channels: ChannelPool,
        methods: dict[str, RoutedMethod] | None = None,
    ) -> None:
        self._resolver = resolver
        self._channels = channels
        self.methods = methods if methods is not None else routed_methods()
        self._handlers = {path: self._handler(m) for path, m in self.methods.items()}
        self._streams: set[grpc.aio.Call] = set()
        self._draining = False

    def drain(self) -> None:
        """The Hub is stopping: end every forwarded stream now with UNAVAILABLE, so its
        clients reconnect (through another Hub) instead of waiting out the grace period."""
        self._draining = True
        for call in list(self._streams):
            call.cancel()

    @property
    def method_paths(self) -> frozenset[str]:
        """Every path the proxy answers."""
        return frozenset(self.methods)

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        return self._handlers.get(handler_call_details.method)

    # --- handlers by shape ---------------------------------------------------------------

    def _handler(self, m: RoutedMethod) -> grpc.RpcMethodHandler:
        if m.request_streaming and m.response_streaming:

            async def stream_stream(requests: AsyncIterator[bytes], context: Any) -> None:
                await self._stream_response(m, requests, context)

            return grpc.stream_stream_rpc_method_handler(stream_stream)
        if m.request_streaming:

            async def stream_unary(requests: AsyncIterator[bytes], context: Any) -> bytes:
                return await self._unary_response(m, requests, context)

            return grpc.stream_unary_rpc_method_handler(stream_unary)
        if m.response_streaming:

            async def unary_stream(request: bytes, context: Any) -> None:
                await self._stream_response(m, request, context)

            return grpc.unary_stream_rpc_method_handler(unary_stream)

        async def unary_unary(request: bytes, context: Any) -> bytes:
            return await self._unary_response(m, request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary)

    # --- forwarding ----------------------------------------------------------------------

    def _pick(
        self, m: RoutedMethod, exclude: Sequence[str] = (), *, retry: bool = False
    ) -> Instance:
        tier, company = routing_tier(optional_principal())
        choice = self._resolver.resolve(
            m.service, tier,
            # A retry is the same call: attribute it once.
            company_id=None if retry else company, exclude=exclude,
            # A stream is a session on the instance; a unary call is not.
            session=m.response_streaming or m.request_streaming,
        )  # fmt: skip
        return choice.instance

    async def _unary_response(self, m: RoutedMethod, request: Any, context: Any) -> bytes:
        metadata = forwarded_metadata(context.invocation_metadata())
        instance = first = self._pick(m)
        while True:
            address = instance.spec.address
            multi = (
                self._channels.stream_unary(address, m.path)
                if m.request_streaming
                else self._channels.unary_unary(address, m.path)
            )
            call = multi(request, timeout=context.time_remaining(), metadata=metadata)
            try:
                response: bytes = await call
            except grpc.aio.AioRpcError as err:
                retry = self._after_failure(
                    m, instance, err, nothing_sent=True, retried=instance is not first
                )
                if retry is None:
                    await _relay_error(context, err)
                    raise
                instance = retry
                continue
            self._resolver.outliers.report_success(instance.instance_id)
            await _relay_initial(context, await call.initial_metadata())
            context.set_trailing_metadata(returned_metadata(await call.trailing_metadata()))
            return response

    async def _stream_response(self, m: RoutedMethod, request: Any, context: Any) -> None:
        metadata = forwarded_metadata(context.invocation_metadata())
        instance = first = self._pick(m)
        while True:
            address = instance.spec.address
            multi = (
                self._channels.stream_stream(address, m.path)
                if m.request_streaming
                else self._channels.unary_stream(address, m.path)
            )
            call = multi(request, timeout=context.time_remaining(), metadata=metadata)
            sent = False
            retry = None
            self._streams.add(call)
            try:
                if self._draining:
                    call.cancel()
                while True:
                    message = await call.read()
                    if message is grpc.aio.EOF:
                        break
                    if not sent:
                        await _relay_initial(context, await call.initial_metadata())
                        sent = True
                    await context.write(message)
            except grpc.aio.AioRpcError as err:
                retry = self._after_failure(
                    m, instance, err, nothing_sent=not sent, retried=instance is not first
                )
                if retry is None:
                    await _relay_error(context, err)
                    raise
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._draining and task is not None and not task.cancelling():
                    # drain() cancelled the upstream, not the caller: tell it to reconnect.
                    await context.abort(
                        grpc.StatusCode.UNAVAILABLE, "the Hub is stopping; reconnect"
                    )
                raise
            finally:
                self._streams.discard(call)
                # The caller cancelled, the deadline passed or the Hub is stopping: the
                # upstream call must not outlive the one it serves.
                if not call.done():
                    call.cancel()
            if retry is not None:
                instance = retry
                continue
            self._resolver.outliers.report_success(instance.instance_id)
            if not sent:
                await _relay_initial(context, await call.initial_metadata())
            context.set_trailing_metadata(returned_metadata(await call.trailing_metadata()))
            return

    def _after_failure(
        self,
        m: RoutedMethod,
        instance: Instance,
        err: grpc.aio.AioRpcError,
        *,
        nothing_sent: bool,
        retried: bool,
    ) -> Instance | None:
        """Account for a failed upstream call; the instance to retry on, or None to relay
        the upstream's error as it is."""
        if not transport_failure(err):
            # The instance answered (with an error of the application's): it is alive.
            self._resolver.outliers.report_success(instance.instance_id)
            return None
        peers = [i.instance_id for i in self._resolver.registry.instances(instance.service)]
        if self._resolver.outliers.report_failure(instance.instance_id, peers):
            _log.warning("ejected %s after consecutive failures", instance.instance_id)
        # Retry once, and only what can be replayed: a unary request, nothing answered yet.
        if m.request_streaming or not nothing_sent or retried:
            return None
        try:
            retry = self._pick(m, [instance.instance_id], retry=True)
        except MeshError:
            # No other instance: the upstream's own UNAVAILABLE says more than "none left".
            return None
        return retry


async def _relay_initial(context: Any, metadata: Sequence[tuple[str, str | bytes]] | None) -> None:
    forwarded = returned_metadata(metadata)
    if forwarded:
        await context.send_initial_metadata(forwarded)


async def _relay_error(context: Any, err: grpc.aio.AioRpcError) -> None:
    """End the call with the upstream's status, details and trailing metadata as they are."""
    await context.abort(err.code(), err.details() or "", returned_metadata(err.trailing_metadata()))
