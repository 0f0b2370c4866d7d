"""An interceptor scoped to some services leaves every other service's calls alone: the Hub
counts and meters only its own RPCs, never the calls it routes."""

from __future__ import annotations

import pytest

from mesh.interceptors.base import CallInfo
from mesh.interceptors.metering import MeteringInterceptor
from mesh.interceptors.quota import QuotaInterceptor

HUB = "tickmesh.hub.v1.HubService"


def call(method: str) -> CallInfo:
    return CallInfo(method, (), request_streaming=False, response_streaming=False)


@pytest.mark.parametrize(
    "interceptor",
    [QuotaInterceptor(None), MeteringInterceptor(None, "hub")],  # type: ignore[arg-type]
    ids=["quota", "metering"],
)
def test_scoped_interceptors_skip_routed_calls(
    interceptor: QuotaInterceptor | MeteringInterceptor,
) -> None:
    routed = call("/tickmesh.billing.v1.BillingService/PreviewInvoice")
    own = call(f"/{HUB}/Resolve")
    health = call("/grpc.health.v1.Health/Check")
    assert interceptor.applies_to(routed) and interceptor.applies_to(own)
    interceptor.scoped_to({HUB})
    assert not interceptor.applies_to(routed)
    assert interceptor.applies_to(own)
    assert not interceptor.applies_to(health)  # infrastructure stays out, scoped or not
    interceptor.scoped_to(None)
    assert interceptor.applies_to(routed)
