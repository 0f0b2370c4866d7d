"""Refuses calls whose metadata is structurally malformed for the mesh's contract."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import grpc

from mesh.context import MetadataValue
from mesh.errors import InvalidArgument
from mesh.interceptors.base import CallInfo, MeshInterceptor
from mesh.interceptors.request_id import REQUEST_ID_KEY, check_request_id

SINGLE_VALUED_KEYS: tuple[str, ...] = (REQUEST_ID_KEY,)
"""Metadata keys the contract allows at most once per call."""


def check_metadata(
    metadata: Iterable[tuple[str, MetadataValue]],
    single_valued: Iterable[str] = SINGLE_VALUED_KEYS,
) -> None:
    """Raise InvalidArgument (reason MALFORMED_METADATA, naming the key) for bad metadata."""
    metadata = tuple(metadata)
    counts = Counter(key.lower() for key, _ in metadata)
    for key in single_valued:
        if counts[key] > 1:
            raise InvalidArgument(
                f"metadata key {key!r} must appear at most once, got {counts[key]}",
                reason="MALFORMED_METADATA",
                metadata={"key": key},
            )
    check_request_id(metadata)


class MetadataInterceptor(MeshInterceptor):
    """Validates incoming metadata; runs inside the error mapping so refusals get mapped."""

    def __init__(self, single_valued: Iterable[str] = SINGLE_VALUED_KEYS) -> None:
        self._single_valued = tuple(k.lower() for k in single_valued)

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        check_metadata(call.invocation_metadata, self._single_valued)
        yield
