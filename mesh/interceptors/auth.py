"""Authenticates every call and puts the verified Principal where handlers read it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import grpc

from mesh.errors import Unauthenticated
from mesh.interceptors.base import CallInfo, MeshInterceptor
from mesh.tenancy.auth_failures import AuthFailureLimiter
from mesh.tenancy.authenticator import Authenticator
from mesh.tenancy.current import principal_scope


class AuthInterceptor(MeshInterceptor):
    """Refuses calls without valid credentials, except the RPCs named public."""

    def __init__(
        self,
        authenticator: Authenticator,
        public_methods: Iterable[str] = (),
        failures: AuthFailureLimiter | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._public = frozenset(public_methods)
        self._failures = failures or AuthFailureLimiter()

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        peer = context.peer() or ""
        if (locked := self._failures.refusal(peer)) is not None:
            raise locked
        try:
            principal = await self._authenticator.principal(call.invocation_metadata)
        except Unauthenticated:
            # A guesser's answers come later and later, then not at all (auth_failures).
            if delay := self._failures.failed(peer):
                await asyncio.sleep(delay)  # the slowing is the point
            raise
        if principal is not None:
            self._failures.succeeded(peer)
        if principal is None and call.method not in self._public:
            raise Unauthenticated(
                "missing credentials: send 'authorization: Bearer <api key>'",
                reason="MISSING_CREDENTIALS",
            )
        with principal_scope(principal):
            yield
