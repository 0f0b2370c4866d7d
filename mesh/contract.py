"""Contract helpers: RPC paths taken from the service descriptors, never typed by hand."""

from __future__ import annotations

from google.protobuf.descriptor import ServiceDescriptor


def method_path(service: ServiceDescriptor, method: str) -> str:
    """The gRPC path of an RPC, `/package.Service/Method`, from the descriptor."""
    return f"/{service.full_name}/{service.methods_by_name[method].name}"
