"""Meters every API call a tenant makes with its own key: one usage unit per call."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc

from mesh.interceptors.base import CallInfo, MeshInterceptor
from mesh.metering.meter import UsageMeter
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
        try:
            yield
        finally:
            principal = optional_principal()
            tenant = principal.direct_tenant if principal is not None else None
            if tenant is not None:
                self._meter.add(
                    tenant.company_id, tenant.user_id, tenant.tier, self._component,
                    call.method_name, 1, (time.perf_counter_ns() - start) // 1000,
                )  # fmt: skip
