"""Turns a call's metadata into its verified Principal: signed relay, operator key or API key.

Rules, in order:
- `x-tickmesh-tenant-bin` (a signed RelayedCaller from another service) must verify;
  a bad one is refused, never ignored in favour of another credential.
- `authorization: Bearer <token>`: the operator key (constant-time compare), else
  an API key resolved through Storage (cached).
- Neither: anonymous (None); the auth interceptor refuses it unless the RPC is public.
Any tier, tenant or company a client sends in other headers is never read.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Iterable

from google.protobuf.message import DecodeError
from tickmesh.common.v1 import tenancy_pb2

from mesh.context import MetadataValue
from mesh.errors import Unauthenticated
from mesh.peer_identity import ServiceVerifier
from mesh.protoconv import tier_from_proto, tier_to_proto
from mesh.tenancy.context import TenantContext
from mesh.tenancy.current import Principal, PrincipalKind
from mesh.tenancy.signing import METADATA_KEY, ContextSigner

AUTHORIZATION = "authorization"
_BEARER = re.compile(r"^bearer +([A-Za-z0-9._~+/=-]{1,512})$", re.IGNORECASE)

KeyAuthenticator = Callable[[str], Awaitable[TenantContext]]
"""Resolves an API key to its tenant, or raises Unauthenticated saying why."""


class Authenticator:
    """Verifies credentials; knows nothing about gRPC beyond metadata pairs."""

    def __init__(
        self,
        *,
        signer: ContextSigner,
        authenticate_key: KeyAuthenticator,
        admin_key: str | None = None,
        service_verifier: ServiceVerifier | None = None,
    ) -> None:
        self._signer = signer
        # With TLS on: a service claim must come with that service's certificate.
        self._service_verifier = service_verifier
        self._authenticate_key = authenticate_key
        self._admin_key = admin_key.encode() if admin_key else None

    async def principal(self, metadata: Iterable[tuple[str, MetadataValue]]) -> Principal | None:
        """The verified caller, None when no credential was sent; Unauthenticated if bad."""
        relayed = _values(metadata, METADATA_KEY)
        bearer = _values(metadata, AUTHORIZATION)
        if relayed:
            principal = self._relayed(relayed[0])
            if self._service_verifier is not None:
                envelope = relayed[0] if isinstance(relayed[0], bytes) else relayed[0].encode()
                self._service_verifier.verify(principal.service or "", envelope, metadata)
            return principal
        if bearer:
            return await self._bearer(bearer[0])
        return None

    def _relayed(self, value: MetadataValue) -> Principal:
        envelope = value if isinstance(value, bytes) else value.encode()
        payload = self._signer.verify(envelope)
        try:
            caller = tenancy_pb2.RelayedCaller.FromString(payload)
        except DecodeError:
            raise Unauthenticated(
                "signed caller context does not decode", reason="MALFORMED_SIGNED_CONTEXT"
            ) from None
        service = caller.service or "unknown"
        if caller.operator:
            return Principal(PrincipalKind.OPERATOR, service=service)
        if caller.HasField("tenant"):
            return Principal(PrincipalKind.TENANT, tenant=tenant_from_proto(caller.tenant),
                             service=service)  # fmt: skip
        return Principal(PrincipalKind.SERVICE, service=service)

    async def _bearer(self, value: MetadataValue) -> Principal:
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        match = _BEARER.match(text.strip())
        if match is None:
            raise Unauthenticated(
                "malformed authorization header: expected 'Bearer <api key>'",
                reason="MALFORMED_CREDENTIALS",
            )
        token = match.group(1)
        if self._admin_key is not None and hmac.compare_digest(token.encode(), self._admin_key):
            return Principal(PrincipalKind.OPERATOR)
        return Principal(PrincipalKind.TENANT, tenant=await self._authenticate_key(token))


def api_key_of(metadata: Iterable[tuple[str, MetadataValue]]) -> str | None:
    """The API key a call presented itself (not relayed by a service), if any: what a
    long-lived stream is re-checked with when its key may have been revoked."""
    if _values(metadata, METADATA_KEY):
        return None
    bearer = _values(metadata, AUTHORIZATION)
    if not bearer:
        return None
    value = bearer[0]
    match = _BEARER.match(
        (value.decode(errors="replace") if isinstance(value, bytes) else value).strip()
    )
    return match.group(1) if match else None


def relayed_caller(service: str, principal: Principal | None) -> bytes:
    """The RelayedCaller a service sends on behalf of `principal` (itself when None)."""
    caller = tenancy_pb2.RelayedCaller(service=service)
    if principal is not None and principal.kind is PrincipalKind.OPERATOR:
        caller.operator = True
    elif principal is not None and principal.tenant is not None:
        caller.tenant.CopyFrom(tenant_to_proto(principal.tenant))
    return caller.SerializeToString()


def tenant_to_proto(tenant: TenantContext) -> tenancy_pb2.TenantContext:
    """The wire form of a tenant context."""
    return tenancy_pb2.TenantContext(
        company_id=tenant.company_id,
        user_id=tenant.user_id,
        tier=tier_to_proto(tenant.tier),
        key_id=tenant.key_id,
        role=tenant.role,
        scopes=sorted(tenant.scopes),
        key_expires_at_us=tenant.key_expires_at_us,
    )


def tenant_from_proto(message: tenancy_pb2.TenantContext) -> TenantContext:
    """A tenant context from its wire form; Unauthenticated if it is incomplete."""
    if not message.company_id:
        raise Unauthenticated(
            "signed tenant context has no company", reason="MALFORMED_SIGNED_CONTEXT"
        )
    return TenantContext(
        company_id=message.company_id,
        user_id=message.user_id,
        tier=tier_from_proto(message.tier),
        key_id=message.key_id,
        role=message.role or "member",
        scopes=frozenset(message.scopes),
        key_expires_at_us=message.key_expires_at_us,
    )


def _values(metadata: Iterable[tuple[str, MetadataValue]], key: str) -> list[MetadataValue]:
    found = [value for k, value in metadata if k.lower() == key]
    if len(found) > 1:
        raise Unauthenticated(
            f"metadata {key!r} sent {len(found)} times; send one credential",
            reason="MALFORMED_CREDENTIALS",
            metadata={"key": key},
        )
    return found
