"""Server reflection through the sidecar: each question asked of the mesh service it is about.

Every mesh server describes only its own services, so the sidecar routes each
reflection request (v1 and v1alpha, wire-identical) by what it names:

- a symbol, file or type of a mesh service (`tickmesh.bridge.v1.*`,
  `tickmesh/bridge/v1/*.proto`) goes, as its bytes, to an instance of that
  service, and the instance's answer comes back as its bytes;
- "list services" is asked of every mesh service, and the names are merged with
  the sidecar's own;
- anything else (health, reflection, common and Google types) the sidecar answers
  from its own descriptors.

So grpcurl and buf curl, pointed at the sidecar, list and describe the whole mesh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha._async import ReflectionServicer

from mesh.channel_pool import ChannelPool
from mesh.reflection import SERVICE_NAMES, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME
from mesh.sidecar.routing import SidecarRouting

_log = logging.getLogger(__name__)

Request = reflection_pb2.ServerReflectionRequest
Response = reflection_pb2.ServerReflectionResponse
_METHOD = "ServerReflectionInfo"
UPSTREAM_TIMEOUT_S = 5.0


def mesh_service_named(name: str, services: Iterable[str]) -> str | None:
    """The mesh service a symbol (`tickmesh.bridge.v1.X`) or file (`tickmesh/bridge/v1/
    b.proto`) belongs to, or None when it is none of `services`."""
    parts = name.replace("/", ".").split(".")
    if len(parts) > 2 and parts[0] == "tickmesh" and parts[1] in services:
        return parts[1]
    return None


def _subject(request: Any) -> str:
    which = request.WhichOneof("message_request")
    if which == "file_containing_extension":
        return str(request.file_containing_extension.containing_type)
    return str(getattr(request, which)) if which else ""


class ReflectionRelay(grpc.GenericRpcHandler):
    """Answers reflection v1 and v1alpha by asking the mesh (module doc)."""

    def __init__(
        self,
        routing: SidecarRouting,
        channels: ChannelPool,
        mesh_services: Sequence[str],
        own_services: Sequence[str],
    ) -> None:
        self._routing = routing
        self._channels = channels
        self._mesh_services = tuple(mesh_services)
        self._own_names = tuple(dict.fromkeys([*own_services, *SERVICE_NAMES]))
        self._local = ReflectionServicer(self._own_names)
        self._handlers = {
            f"/{name}/{_METHOD}": grpc.stream_stream_rpc_method_handler(self._make(name))
            for name in (V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)
        }

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        return self._handlers.get(handler_call_details.method)

    def _make(self, reflection_service: str) -> Any:
        path = f"/{reflection_service}/{_METHOD}"

        async def relay(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
            async for raw in requests:
                yield await self._answer(path, raw, context)

        return relay

    async def _answer(self, path: str, raw: bytes, context: Any) -> bytes:
        request = Request.FromString(raw)
        if request.HasField("list_services"):
            return await self._list_services(path, request, raw)
        service = mesh_service_named(_subject(request), self._mesh_services)
        if service is not None:
            try:
                return await self._ask(path, service, raw)
            except grpc.aio.AioRpcError as err:
                _log.info("reflection: %s did not answer: %s", service, err.code().name)
                return Response(
                    original_request=request,
                    error_response=reflection_pb2.ErrorResponse(
                        error_code=err.code().value[0],
                        error_message=f"the {service} service: {err.details()}",
                    ),
                ).SerializeToString()
        return (await self._ask_locally(request)).SerializeToString()

    async def _ask(self, path: str, service: str, raw: bytes) -> bytes:
        target = await self._routing.resolve(service, fresh=False)
        call = self._channels.stream_stream(target.address, service, path)(
            timeout=UPSTREAM_TIMEOUT_S
        )
        try:
            await call.write(raw)
            await call.done_writing()
            answer = await call.read()
        finally:
            call.cancel()
        if answer is grpc.aio.EOF:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNAVAILABLE,
                grpc.aio.Metadata(),
                grpc.aio.Metadata(),
                details="no answer",
            )
        return bytes(answer)

    async def _ask_locally(self, request: Any) -> Any:
        async def one() -> AsyncIterator[Any]:
            yield request

        async for response in self._local.ServerReflectionInfo(one(), None):
            return response
        raise AssertionError("the reflection servicer answers every request")

    async def _list_services(self, path: str, request: Any, raw: bytes) -> bytes:
        answers = await asyncio.gather(
            *(self._ask(path, service, raw) for service in self._mesh_services),
            return_exceptions=True,
        )
        names = list(self._own_names)
        for service, answer in zip(self._mesh_services, answers, strict=True):
            if isinstance(answer, BaseException):
                # A service that is down is left out of the list; the rest still is.
                _log.info("reflection: cannot list %s: %s", service, answer)
                continue
            listed = Response.FromString(answer).list_services_response.service
            names += [s.name for s in listed]
        unique = sorted(dict.fromkeys(names))
        return Response(
            original_request=request,
            list_services_response=reflection_pb2.ListServiceResponse(
                service=[reflection_pb2.ServiceResponse(name=n) for n in unique]
            ),
        ).SerializeToString()
