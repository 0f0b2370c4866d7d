"""Meters every API call a tenant makes with its own key: one usage unit per call, and
one more under `server_errors` when the call ended in a server-side error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc

from mesh.errors import MeshError
from mesh.interceptors.base import CallInfo, MeshInterceptor
from mesh.metering.meter import UsageMeter
from mesh.metering.vocabulary import SERVER_ERRORS_ENDPOINT
from mesh.tenancy.current import optional_principal


class MeteringInterceptor(MeshInterceptor):
    """Counts the call after it ends (refused calls too: they cost us work); no I/O.

    A call a service relays for a tenant was metered where it entered the mesh.
    """

    def __init__(self, meter: UsageMeter, component: str) -> None:
        self._meter = meter
        self._component = component

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        start = time.perf_counter_ns()
        failed = False
        try:
            yield
        except BaseException as exc:
            failed = server_side(exc, context)
            raise
        finally:
            principal = optional_principal()
            tenant = principal.direct_tenant if principal is not None else None
            if tenant is not None:
                self._meter.add(
                    tenant.company_id, tenant.user_id, tenant.tier, self._component,
                    call.method_name, 1, (time.perf_counter_ns() - start) // 1000,
                )  # fmt: skip
                if failed:
                    self._meter.add(
                        tenant.company_id, tenant.user_id, tenant.tier, self._component,
                        SERVER_ERRORS_ENDPOINT, 1,
                    )  # fmt: skip


SERVER_ERROR_CODES = frozenset(
    {
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
"""Statuses that are the mesh's fault, not the caller's (a refusal, a bad request, a
quota, a deadline the caller chose are not)."""


def server_side(exc: BaseException, context: grpc.aio.ServicerContext) -> bool:
    """Whether the call ends with a server-side error status because of `exc`."""
    if isinstance(exc, MeshError):
        return exc.code in SERVER_ERROR_CODES
    if isinstance(exc, grpc.aio.AbortError):  # context.abort: the status is on the context
        code = context.code() if hasattr(context, "code") else None
        return code in SERVER_ERROR_CODES
    if isinstance(exc, asyncio.CancelledError | grpc.aio.BaseError):
        return False  # the caller went away, or grpc's own control flow
    return isinstance(exc, Exception)  # a bug: the error interceptor answers INTERNAL
