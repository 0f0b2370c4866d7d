"""API-call metering counts the calls that ended in a server-side error apart."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from mesh.errors import Internal, InvalidArgument, PermissionDenied, Unavailable
from mesh.interceptors.base import CallInfo
from mesh.interceptors.metering import MeteringInterceptor, server_side
from mesh.metering.vocabulary import SERVER_ERRORS_ENDPOINT
from mesh.tenancy import current
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier


class FakeContext:
    def __init__(self, code: grpc.StatusCode | None = None) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode | None:
        return self._code


class FakeMeter:
    def __init__(self) -> None:
        self.added: list[tuple[Any, ...]] = []

    def add(self, *args: Any) -> None:
        self.added.append(args)


def _abort() -> grpc.aio.AbortError:
    return grpc.aio.AbortError()


@pytest.mark.parametrize(
    ("exc", "context_code", "expected"),
    [
        (Internal("bug"), None, True),
        (Unavailable("storage down"), None, True),
        (InvalidArgument("bad"), None, False),
        (PermissionDenied("no"), None, False),
        (ValueError("a bug the error interceptor answers INTERNAL"), None, True),
        (asyncio.CancelledError(), None, False),  # the caller went away
        (_abort(), grpc.StatusCode.INTERNAL, True),
        (_abort(), grpc.StatusCode.NOT_FOUND, False),
    ],
)
def test_which_endings_are_the_servers_fault(
    exc: BaseException, context_code: grpc.StatusCode | None, expected: bool
) -> None:
    assert server_side(exc, FakeContext(context_code)) is expected  # type: ignore[arg-type]


async def test_a_failed_call_is_metered_as_a_call_and_as_a_server_error() -> None:
    meter = FakeMeter()
    interceptor = MeteringInterceptor(meter, "hub")  # type: ignore[arg-type]
    tenant = TenantContext(company_id="aaaaaaaaaaaa", user_id="u1", tier=Tier.PRO, key_id="k")
    token = current._principal.set(current.Principal(current.PrincipalKind.TENANT, tenant))
    call = CallInfo("/tickmesh.hub.v1.HubService/Resolve", (), False, False)
    try:
        async with interceptor.around(call, FakeContext()):  # type: ignore[arg-type]
            pass
        with pytest.raises(Unavailable):
            async with interceptor.around(call, FakeContext()):  # type: ignore[arg-type]
                raise Unavailable("registry down")
        with pytest.raises(InvalidArgument):
            async with interceptor.around(call, FakeContext()):  # type: ignore[arg-type]
                raise InvalidArgument("bad")
    finally:
        current._principal.reset(token)
    endpoints = [(a[3], a[4], a[5]) for a in meter.added]
    assert endpoints == [
        ("hub", "Resolve", 1),
        ("hub", "Resolve", 1),
        ("hub", SERVER_ERRORS_ENDPOINT, 1),
        ("hub", "Resolve", 1),
    ]
