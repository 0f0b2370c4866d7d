"""Server side of tracing: a span per RPC, and the authenticated caller on it.

Hand-written rather than opentelemetry-instrumentation-grpc's aio server interceptor,
which iterates every streaming handler with `async for`: grpc.aio handlers that write
with context.write() (the Hub's proxy, and every mesh interceptor's wrapper in
mesh/interceptors/_wrap.py) fail under it with a TypeError. These ride on MeshInterceptor,
which wraps all four call shapes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Tracer

from mesh.context import current_request_id
from mesh.interceptors.base import CallInfo, MeshInterceptor
from mesh.telemetry.rpc import METADATA_GETTER, end_span, rpc_attributes, span_name, status_code
from mesh.telemetry.rpc import traced as is_traced
from mesh.tenancy.context import TenantContext
from mesh.tenancy.current import Principal, optional_principal

REQUEST_ID = "tickmesh.request_id"
COMPANY_ID = "tickmesh.tenant.company_id"
TIER = "tickmesh.tenant.tier"
PRINCIPAL = "tickmesh.principal.kind"
CALLER_SERVICE = "tickmesh.caller.service"


class TracingInterceptor(MeshInterceptor):
    """Opens the call's server span, continuing the caller's trace from its metadata.

    Sits right inside RequestIdInterceptor (it records the request id) and outside the
    error mapping, so it sees the status every refusal ends with.
    """

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def applies_to(self, call: CallInfo) -> bool:
        return is_traced(call.method)

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        parent = propagate.extract(call.invocation_metadata, getter=METADATA_GETTER)
        span = self._tracer.start_span(
            span_name(call.method),
            context=parent,
            kind=SpanKind.SERVER,
            attributes=rpc_attributes(call.method),
        )
        if span.is_recording():
            span.set_attribute(REQUEST_ID, current_request_id() or "")
        code = grpc.StatusCode.UNKNOWN
        # Current for the handler: the span over the caller's context, so its baggage
        # travels on with the calls the handler makes.
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            yield
            code = status_code(context.code()) or grpc.StatusCode.OK
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        except grpc.aio.AbortError:
            # context.abort() (the error mapping uses it) set the code before raising.
            code = status_code(context.code()) or grpc.StatusCode.UNKNOWN
            raise
        except BaseException as exc:
            # The type only: an exception's text may hold request data.
            span.set_attribute("error.type", type(exc).__qualname__)
            raise
        finally:
            otel_context.detach(token)
            end_span(span, code, server=True)


class TenantSpanInterceptor(MeshInterceptor):
    """Puts the authenticated caller on the server span (tenant, tier, kind), never a
    credential; runs right after AuthInterceptor, which established it."""

    def applies_to(self, call: CallInfo) -> bool:
        return is_traced(call.method)

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        span = trace.get_current_span()
        if span.is_recording():
            annotate_principal(span, optional_principal())
        yield


def annotate_principal(span: Span, principal: Principal | None) -> None:
    """The caller's identity as span attributes (no attribute for an anonymous call)."""
    if principal is None:
        return
    span.set_attribute(PRINCIPAL, principal.kind.value)
    if principal.service:
        span.set_attribute(CALLER_SERVICE, principal.service)
    if principal.tenant is not None:
        _set_tenant(span, principal.tenant)


def annotate_tenant(tenant: TenantContext) -> None:
    """Name `tenant` on the current span: for a call that resolved a tenant without acting
    for it (Storage.AuthenticateKey, asked by a service on a tenant's behalf)."""
    span = trace.get_current_span()
    if span.is_recording():
        _set_tenant(span, tenant)


def _set_tenant(span: Span, tenant: TenantContext) -> None:
    span.set_attribute(COMPANY_ID, tenant.company_id)
    span.set_attribute(TIER, tenant.tier.value)
