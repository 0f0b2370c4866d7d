"""Contract helpers: RPCs declared in a .proto but not built yet answer UNIMPLEMENTED clearly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from mesh.errors import Unimplemented


def answer_unbuilt(servicer: object, base: type, service: ServiceDescriptor, note: str) -> None:
    """Make every RPC that `servicer` does not override raise a clear Unimplemented.

    The generated base class answers "Method not implemented!"; ours names the
    RPC and says where it is planned, and goes through the error interceptor
    like every other domain error.
    """
    for method in service.methods:
        if getattr(type(servicer), method.name) is getattr(base, method.name):
            setattr(servicer, method.name, _unbuilt(method, note))


def _unbuilt(method: MethodDescriptor, note: str) -> Any:
    message = f"{method.full_name} is declared in the contract but not built yet ({note})"
    if method.server_streaming:

        async def stream(request: object, context: object) -> AsyncIterator[object]:
            raise Unimplemented(message, metadata={"method": method.full_name})
            yield  # pragma: no cover - makes this an async generator

        return stream

    async def unary(request: object, context: object) -> object:
        raise Unimplemented(message, metadata={"method": method.full_name})

    return unary


def method_path(service: ServiceDescriptor, method: str) -> str:
    """The gRPC path of an RPC, `/package.Service/Method`, from the descriptor."""
    return f"/{service.full_name}/{service.methods_by_name[method].name}"
