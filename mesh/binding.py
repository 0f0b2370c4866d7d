"""How a servicer joins a server: every method handler built from the service's descriptor."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message_factory import GetMessageClass


@dataclass(frozen=True, slots=True)
class ServiceBinding:
    """One service a server hosts: its full name and how to add it to a server."""

    name: str
    """The full service name, from the descriptor (`tickmesh.hub.v1.HubService`)."""

    register: Callable[[grpc.aio.Server], None]
    """Adds the service's handlers to a server."""


_HANDLER_SHAPES: dict[tuple[bool, bool], Callable[..., grpc.RpcMethodHandler]] = {
    # (client_streaming, server_streaming)
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}
_GENERATED_MODULE = "_pb2_grpc"
_RPC_LIKE = re.compile(r"[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*")


def bind(
    service: ServiceDescriptor, servicer: object, *, pre_serialized: Collection[str] = ()
) -> ServiceBinding:
    """Bind `servicer` to `service`: one handler per method of the contract, as the generated
    `add_XServicer_to_server` builds them, e.g. `bind(SERVICE, HubServicer(...))`.

    Methods named in `pre_serialized` yield or write bytes they framed themselves (a batch
    serialized once for every subscriber); their responses go out as they are.

    Raises TypeError when `servicer` lacks a method of the contract (one only inherited from
    the generated base class, which answers UNIMPLEMENTED, counts as missing) or has a
    public CamelCase method the contract does not declare (a typo, or a removed RPC), and
    ValueError when `pre_serialized` names a method the contract does not declare.
    """
    handlers = _method_handlers(service, servicer, pre_serialized=pre_serialized)

    def register(server: grpc.aio.Server) -> None:
        # Both, as the generated adders do; grpc prefers the registered handlers.
        generic = grpc.method_handlers_generic_handler(service.full_name, handlers)
        server.add_generic_rpc_handlers((generic,))
        server.add_registered_method_handlers(service.full_name, handlers)

    return ServiceBinding(service.full_name, register)


def _method_handlers(
    service: ServiceDescriptor, servicer: object, *, pre_serialized: Collection[str] = ()
) -> dict[str, grpc.RpcMethodHandler]:
    """The handler of every method of `service`, by method name; refusals as in `bind`."""
    if isinstance(pre_serialized, str):  # a str is a Collection[str] of its letters
        raise TypeError(f"pre_serialized: a collection of method names, not {pre_serialized!r}")
    methods = service.methods_by_name
    unknown = sorted(set(pre_serialized) - set(methods))
    if unknown:
        raise ValueError(
            f"pre_serialized names {', '.join(unknown)}, not methods of {service.full_name}"
        )
    missing = [name for name in methods if _implementation(servicer, name) is None]
    if missing:
        raise TypeError(
            f"{type(servicer).__name__} does not implement {service.full_name} method(s)"
            f" {', '.join(missing)}"
        )
    extra = [name for name in _rpc_like_names(servicer) if name not in methods]
    if extra:
        raise TypeError(
            f"{type(servicer).__name__} has method(s) {', '.join(extra)}"
            f" that {service.full_name} does not declare"
        )
    return {
        name: _handler(method, _implementation(servicer, name), name in pre_serialized)
        for name, method in methods.items()
    }


def _handler(
    method: MethodDescriptor, implementation: Any, pre_serialized: bool
) -> grpc.RpcMethodHandler:
    shape = _HANDLER_SHAPES[method.client_streaming, method.server_streaming]
    response = GetMessageClass(method.output_type)
    return shape(
        implementation,
        request_deserializer=GetMessageClass(method.input_type).FromString,
        response_serializer=_already_serialized if pre_serialized else response.SerializeToString,
    )


def _implementation(servicer: object, name: str) -> Any | None:
    """`servicer`'s handler for the RPC `name`, or None when it has none of its own."""
    handler = getattr(servicer, name, None)
    if not callable(handler):
        return None
    # The generated base class's methods only answer UNIMPLEMENTED: they are no handler.
    if getattr(handler, "__module__", "").endswith(_GENERATED_MODULE):
        return None
    return handler


def _rpc_like_names(servicer: object) -> list[str]:
    """Public CamelCase methods of `servicer`: the shape of an RPC handler's name."""
    names = []
    for name in dir(servicer):
        if not _RPC_LIKE.fullmatch(name):
            continue
        # Static lookup: no property of the servicer runs just to be inspected.
        value = inspect.getattr_static(servicer, name)
        if isinstance(value, staticmethod | classmethod) or (
            callable(value) and not isinstance(value, type)
        ):
            names.append(name)
    return names


def _already_serialized(payload: bytes) -> bytes:
    return payload
