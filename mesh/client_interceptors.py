"""Client-side interceptors: attach metadata (API key, signed caller, request id) to every call.

grpc.aio files each channel interceptor under the first call-shape interface it
implements (an elif chain), so one object implementing all four would only ever
see unary-unary calls; `metadata_interceptors` returns one object per shape.
What they attach comes from a provider called per call, so it can depend on the
current request (relaying).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import Any

import grpc

MetadataPairs = Sequence[tuple[str, str | bytes]]
MetadataProvider = Callable[[], MetadataPairs]


class _WithMetadata:
    def __init__(self, provider: MetadataProvider) -> None:
        self._provider = provider

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        for key, value in self._provider():
            metadata.add(key, value)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


class _UnaryUnary(_WithMetadata, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _UnaryStream(_WithMetadata, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamUnary(_WithMetadata, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


class _StreamStream(_WithMetadata, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


def metadata_interceptors(provider: MetadataProvider) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors adding `provider()`'s pairs to every call on a channel, of any shape."""
    return [cls(provider) for cls in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]


def api_key_interceptors(api_key: str) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors sending `authorization: Bearer <api_key>` on every call."""
    pairs = (("authorization", f"Bearer {api_key}"),)
    return metadata_interceptors(lambda: pairs)


# -- grpc's sync API, for a reader in a thread of its own (the Bridge's upstream) ------


class SyncCallDetails(
    collections.namedtuple(
        "SyncCallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    """grpc.ClientCallDetails as a value (grpc's sync API gives no constructor of its own)."""


def sync_details(details: grpc.ClientCallDetails, metadata: MetadataPairs) -> SyncCallDetails:
    """`details` with `metadata` in place of its own."""
    return SyncCallDetails(
        details.method, details.timeout, tuple(metadata), details.credentials,
        details.wait_for_ready, getattr(details, "compression", None),
    )  # fmt: skip


class SyncMetadataInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """metadata_interceptors for grpc's sync API, which asks one object about every shape."""

    def __init__(self, provider: MetadataProvider) -> None:
        self._provider = provider

    def _intercept(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = [*(details.metadata or ()), *self._provider()]
        return continuation(sync_details(details, metadata), request)

    intercept_unary_unary = _intercept
    intercept_unary_stream = _intercept
