"""Authenticates every call and puts the verified Principal where handlers read it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import grpc

from mesh.errors import Unauthenticated
from mesh.interceptors.base import CallInfo, MeshInterceptor
from mesh.tenancy.authenticator import Authenticator
from mesh.tenancy.current import principal_scope


class AuthInterceptor(MeshInterceptor):
    """Refuses calls without valid credentials, except the RPCs named public."""

    def __init__(self, authenticator: Authenticator, public_methods: Iterable[str] = ()) -> None:
        self._authenticator = authenticator
        self._public = frozenset(public_methods)

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        principal = await self._authenticator.principal(call.invocation_metadata)
        if principal is None and call.method not in self._public:
            raise Unauthenticated(
                "missing credentials: send 'authorization: Bearer <api key>'",
                reason="MISSING_CREDENTIALS",
            )
        with principal_scope(principal):
            yield
