"""Domain errors that carry their gRPC status, and their rich-details encoding.

Domain modules raise these; exactly one interceptor (mesh.interceptors.errors)
turns them into statuses, so handlers never call context.abort themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "tickmesh.dev"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid request field (google.rpc.BadRequest.FieldViolation)."""

    field: str
    description: str


@dataclass(frozen=True, slots=True)
class QuotaViolation:
    """One exhausted quota (google.rpc.QuotaFailure.Violation)."""

    subject: str
    description: str


class MeshError(Exception):
    """An error with a gRPC status code, an ErrorInfo reason and optional details."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    default_reason: str = "UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        trailing_metadata: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})
        self.trailing_metadata = tuple(trailing_metadata)

    def details(self) -> list[object]:
        """Extra google.rpc detail messages beyond ErrorInfo; subclasses add theirs."""
        return []

    def to_status(self) -> grpc.Status:
        """Encode as a grpc.Status with ErrorInfo (and subclass details) attached."""
        info = error_details_pb2.ErrorInfo(
            reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata
        )
        packed = []
        for detail in [info, *self.details()]:
            holder = any_pb2.Any()
            holder.Pack(detail)
            packed.append(holder)
        proto = status_pb2.Status(
            code=_CODE_NUMBER[self.code], message=self.message, details=packed
        )
        status = rpc_status.to_status(proto)
        if not self.trailing_metadata:
            return status
        return _StatusWithMetadata(
            status.code, status.details, (*status.trailing_metadata, *self.trailing_metadata)
        )


class _StatusWithMetadata(grpc.Status):
    def __init__(self, code: grpc.StatusCode, details: str, trailing: tuple) -> None:
        self.code = code
        self.details = details
        self.trailing_metadata = trailing


class InvalidArgument(MeshError):
    """The request is malformed; retrying it unchanged fails again."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self, message: str, *, violations: Sequence[FieldViolation] = (), **kwargs: object
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.violations = tuple(violations)

    def details(self) -> list[object]:
        if not self.violations:
            return []
        return [
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in self.violations
                ]
            )
        ]


class NotFound(MeshError):
    """The named entity does not exist (or is not visible to this tenant)."""

    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(MeshError):
    """The entity the caller tried to create exists already."""

    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class Unauthenticated(MeshError):
    """No valid credential: missing, malformed, unknown, revoked, forged or expired."""

    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(MeshError):
    """Authenticated, but the tier does not allow it; names the tier that would."""

    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "TIER_NOT_ENTITLED"

    def __init__(self, message: str, *, required_tier: str | None = None, **kwargs: object) -> None:
        metadata = dict(kwargs.pop("metadata", None) or {})  # type: ignore[call-overload]
        if required_tier:
            metadata["required_tier"] = required_tier
        super().__init__(message, metadata=metadata, **kwargs)  # type: ignore[arg-type]
        self.required_tier = required_tier


class ResourceExhausted(MeshError):
    """A quota is used up; says which and when it resets."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "QUOTA_EXCEEDED"

    def __init__(
        self,
        message: str,
        *,
        violations: Sequence[QuotaViolation] = (),
        retry_after_s: float | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.violations = tuple(violations)
        self.retry_after_s = retry_after_s

    def details(self) -> list[object]:
        out: list[object] = [
            error_details_pb2.QuotaFailure(
                violations=[
                    error_details_pb2.QuotaFailure.Violation(
                        subject=v.subject, description=v.description
                    )
                    for v in self.violations
                ]
            )
        ]
        if self.retry_after_s is not None:
            out.append(_retry_info(self.retry_after_s))
        return out


class FailedPrecondition(MeshError):
    """The system is not in a state that allows this (e.g. a closed period)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Aborted(MeshError):
    """A concurrent change got there first; the caller retries the whole operation."""

    code = grpc.StatusCode.ABORTED
    default_reason = "ABORTED"


class Unavailable(MeshError):
    """A dependency is down; the caller may retry (RetryInfo says when)."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"

    def __init__(self, message: str, *, retry_after_s: float = 1.0, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after_s = retry_after_s

    def details(self) -> list[object]:
        return [_retry_info(self.retry_after_s)]


class Unimplemented(MeshError):
    """The server does not offer this RPC (a stand-in, or a feature switched off)."""

    code = grpc.StatusCode.UNIMPLEMENTED
    default_reason = "NOT_IMPLEMENTED"


class Internal(MeshError):
    """A bug on our side; the message never leaks internals."""

    code = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL"


def _retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(int(seconds * 1e9))
    return error_details_pb2.RetryInfo(retry_delay=delay)


_CODE_NUMBER = {code: getattr(code_pb2, code.name) for code in grpc.StatusCode}
