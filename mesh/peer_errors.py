"""A peer service's refusal as this service's own error, for a caller that only relays it."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mesh.errors import (
    Aborted,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    MeshError,
    NotFound,
    Unavailable,
)


def peer_error(err: grpc.aio.AioRpcError, peer: str) -> MeshError:
    """`err` from `peer` (e.g. "Storage") as a MeshError with the same meaning; the peer's
    messages are safe to pass on. A refusal of our own credential is our fault: INTERNAL."""
    code, details = err.code(), err.details() or ""
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(details, violations=_violations(err))
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(details)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return FailedPrecondition(details)
    if code == grpc.StatusCode.ABORTED:
        return Aborted(details)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return Unavailable(f"{peer} is unavailable: {code.name}", retry_after_s=1.0)
    return Internal(f"{peer} answered {code.name}")


def _violations(err: grpc.aio.AioRpcError) -> list[FieldViolation]:
    status = rpc_status.from_call(err)
    found = []
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found += [FieldViolation(v.field, v.description) for v in bad.field_violations]
    return found
