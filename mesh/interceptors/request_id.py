"""The outermost interceptor: gives every call a request id and sends queued trailing metadata."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import grpc

from mesh.context import MetadataValue, call_scope, merge_metadata
from mesh.errors import InvalidArgument
from mesh.interceptors.base import CallInfo, MeshInterceptor

REQUEST_ID_KEY = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    """A fresh request id (32 hex digits)."""
    return uuid.uuid4().hex


def _values(metadata: Iterable[tuple[str, MetadataValue]]) -> list[MetadataValue]:
    return [value for key, value in metadata if key.lower() == REQUEST_ID_KEY]


def request_id_from(metadata: Iterable[tuple[str, MetadataValue]]) -> str:
    """The caller's request id when it sent exactly one valid one, else a fresh id."""
    values = _values(metadata)
    if len(values) == 1 and is_valid_request_id(values[0]):
        return str(values[0])
    return new_request_id()


def is_valid_request_id(value: MetadataValue) -> bool:
    """Whether `value` is an acceptable request id: 1-128 of [A-Za-z0-9._:-]."""
    return isinstance(value, str) and _VALID_REQUEST_ID.fullmatch(value) is not None


def check_request_id(metadata: Iterable[tuple[str, MetadataValue]]) -> None:
    """Raise InvalidArgument if the caller sent a malformed x-request-id."""
    for value in _values(metadata):
        if not is_valid_request_id(value):
            raise InvalidArgument(
                f"{REQUEST_ID_KEY} must be 1-128 characters of [A-Za-z0-9._:-]",
                reason="MALFORMED_METADATA",
                metadata={"key": REQUEST_ID_KEY},
            )


class RequestIdInterceptor(MeshInterceptor):
    """Opens the call scope (request id, method, trailing-metadata queue) and flushes it.

    Must be the first (outermost) interceptor so that every other one, and the error
    mapping, sees the request id. It never refuses a call: a malformed or repeated
    x-request-id gets a fresh id here and is refused by MetadataInterceptor, which runs
    inside the error mapping.
    """

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        request_id = request_id_from(call.invocation_metadata)
        with call_scope(request_id, call.method) as state:
            state.trailing.append((REQUEST_ID_KEY, request_id))
            # Set now as well as at the end: a context.abort() without trailing metadata
            # (grpc's health servicer does that) sends what is set so far.
            context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
            try:
                yield
            finally:
                # After an abort the status is already sent and this is a no-op; otherwise
                # grpc sends these with the final status, OK or not.
                context.set_trailing_metadata(
                    merge_metadata(context.trailing_metadata() or (), state.trailing)
                )
