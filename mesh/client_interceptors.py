"""Client-side interceptors: attach metadata (API key, signed caller, request id) to every call.

One class covers the four call shapes of grpc.aio; what it attaches comes from a
provider called per call, so it can depend on the current request (relaying).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc

MetadataPairs = Sequence[tuple[str, str | bytes]]
MetadataProvider = Callable[[], MetadataPairs]


class MetadataClientInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """Adds `provider()`'s pairs to the metadata of every call on the channel."""

    def __init__(self, provider: MetadataProvider) -> None:
        self._provider = provider

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        for key, value in self._provider():
            metadata.add(key, value)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_stream_unary(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._details(details), request_iterator)

    async def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._details(details), request_iterator)


def api_key_interceptor(api_key: str) -> MetadataClientInterceptor:
    """Sends `authorization: Bearer <api_key>` on every call."""
    pairs = (("authorization", f"Bearer {api_key}"),)
    return MetadataClientInterceptor(lambda: pairs)
