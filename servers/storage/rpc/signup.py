"""Self-service sign-up: no credentials, limited per peer address (see relational.signups)."""

from __future__ import annotations

import grpc
from tickmesh.storage.v1 import storage_pb2

from servers.storage import convert
from servers.storage.relational import signups
from servers.storage.rpc._base import StorageRpcs
from servers.storage.signup_limits import SignupLimiter


class SignUpRpcs(StorageRpcs):
    _signup_limits: SignupLimiter | None = None

    def limit_signups(self, limiter: SignupLimiter) -> None:
        """Count sign-ups per peer address with `limiter` (none: unlimited, for tests)."""
        self._signup_limits = limiter

    async def SignUp(
        self, request: storage_pb2.SignUpRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.SignUpResponse:
        if self._signup_limits is not None:
            await self._signup_limits.admit(context.peer() or "")
        pending = await signups.sign_up(
            self._store, request.company_name, request.owner_email, request.owner_name
        )
        return storage_pb2.SignUpResponse(
            company_id=pending.company_id,
            user_id=pending.user_id,
            verification_expires_at=convert.timestamp(pending.expires_at),
        )

    async def VerifyEmail(
        self, request: storage_pb2.VerifyEmailRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.VerifyEmailResponse:
        verified = await signups.verify(self._store, request.token)
        return storage_pb2.VerifyEmailResponse(
            company_id=verified.company_id,
            owner_key=convert.issued_key(verified.key, verified.created_at),
        )
