"""The one error type the client raises: a gRPC status with its rich details decoded."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


@dataclass
class TickmeshError(Exception):
    """A refused or failed call: the status code, why (ErrorInfo reason) and what to do."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    quota_violations: list[tuple[str, str]] = field(default_factory=list)
    retry_after_s: float | None = None

    def __str__(self) -> str:
        # The reason only when it adds to the code (never INVALID_ARGUMENT [INVALID_ARGUMENT]).
        reason = f" [{self.reason}]" if self.reason and self.reason != self.code.name else ""
        return f"{self.code.name}{reason}: {self.message}"

    @property
    def retryable(self) -> bool:
        """True when the same call may succeed later (server down, overloaded)."""
        return self.code in RETRYABLE

    @classmethod
    def from_rpc_error(cls, err: grpc.aio.AioRpcError) -> TickmeshError:
        """Decode google.rpc details (ErrorInfo, QuotaFailure, RetryInfo) when present."""
        error = cls(err.code(), err.details() or "")
        status = rpc_status.from_call(err)
        for detail in status.details if status is not None else ():
            info, quota, retry = (
                error_details_pb2.ErrorInfo(),
                error_details_pb2.QuotaFailure(),
                error_details_pb2.RetryInfo(),
            )
            if detail.Unpack(info):
                error.reason, error.metadata = info.reason, dict(info.metadata)
            elif detail.Unpack(quota):
                error.quota_violations = [(v.subject, v.description) for v in quota.violations]
            elif detail.Unpack(retry):
                error.retry_after_s = retry.retry_delay.ToTimedelta().total_seconds()
        return error
