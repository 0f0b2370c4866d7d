"""Counts every tenant call against its tier's daily quota; refuses past the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc

from mesh.context import add_trailing_metadata
from mesh.interceptors.base import CallInfo, MeshInterceptor
from mesh.telemetry.metrics import quota_refused
from mesh.tenancy.current import optional_principal
from mesh.tenancy.quota import QuotaStore, call_quota_exhausted, ratelimit_headers
from mesh.tenancy.quota_events import QuotaEvents


class QuotaInterceptor(MeshInterceptor):
    """One Redis round trip per call (never per tick): runs after AuthInterceptor.

    Only calls a tenant makes with its own key count; a call a service relays on a
    tenant's behalf was counted where it entered the mesh.
    """

    def __init__(self, store: QuotaStore, events: QuotaEvents | None = None) -> None:
        self._store = store
        self._events = events

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        principal = optional_principal()
        tenant = principal.direct_tenant if principal is not None else None
        if tenant is not None:
            quota = await self._store.check_call(tenant.company_id, tenant.tier)
            if not quota.allowed:
                quota_refused(tenant.tier, "daily_api_calls")
                raise call_quota_exhausted(quota)
            if self._events is not None:
                self._events.observe(quota)
            for key, value in ratelimit_headers(quota):
                add_trailing_metadata(key, value)
        yield
