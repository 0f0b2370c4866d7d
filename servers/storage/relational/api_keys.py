"""API keys: issue (plaintext shown once, only its SHA-256 stored), revoke, authenticate.

A key reads `tm_<key_id>_<secret>`: the key id is public and finds the row, the secret
is 32 random bytes (token_urlsafe). The row keeps sha256(full key) in hex, so neither
the table nor a backup can authenticate anyone, and the digest is compared in
constant time so response timing tells an attacker nothing about it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa

from mesh.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from mesh.tenancy import permissions
from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier
from servers.storage.relational import audit, validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.ids import new_entity_id
from servers.storage.relational.scope import TenantScope
from servers.storage.relational.tables import (
    ENTITY_ID_LEN,
    api_keys,
    companies,
    subscriptions,
    users,
)
from servers.storage.relational.users import load_user

KEY_PREFIX = "tm_"
_SECRET_BYTES = 32
_SECRET_CHARS = 43  # len(token_urlsafe(32))
KEY_FORMAT = re.compile(
    rf"{KEY_PREFIX}(?P<key_id>[0-9a-f]{{{ENTITY_ID_LEN}}})_(?P<secret>[A-Za-z0-9_-]{{{_SECRET_CHARS}}})"
)
_MAX_KEY_LEN = len(KEY_PREFIX) + ENTITY_ID_LEN + 1 + _SECRET_CHARS
# last_used_at is bookkeeping, not an access log: refreshing it at most once a minute
# keeps authentication a read on the hot path.
LAST_USED_GRANULARITY = timedelta(minutes=1)
MAX_KEY_LIFETIME = timedelta(days=3653)  # ten years: a longer expiry is likely a typo


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key's public record (never its secret)."""

    id: str
    company_id: str
    user_id: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None = None
    scopes: frozenset[str] = frozenset()  # empty: every scope of the user's role


class IssuedKey(NamedTuple):
    """A new key: its id and the plaintext, which exists nowhere else after this returns."""

    key_id: str
    plaintext: str
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The tenant context a valid key resolves to."""

    company_id: str
    user_id: str
    tier: Tier
    key_id: str
    role: str = "member"
    scopes: frozenset[str] = frozenset()
    expires_at: datetime | None = None


def hash_key(plaintext: str) -> str:
    """The stored form of a key: sha256 of the whole key string, hex."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _from_row(row: sa.RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        company_id=row["company_id"],
        user_id=row["user_id"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        expires_at=row["expires_at"],
        scopes=frozenset(row["scopes"] or ()),
    )


async def issue_api_key(
    store: RelationalStore,
    scope: TenantScope,
    user_id: str,
    *,
    actor: str | None = None,
    now: datetime | None = None,
    scopes: frozenset[str] | None = None,
    issuer: TenantContext | None = None,
    expires_at: datetime | None = None,
) -> IssuedKey:
    """Issue a key for a user of the scope's company; NotFound for users of any other.

    `issuer` is the tenant asking (None: the operator): it may issue keys only for
    users whose role it manages, and only with scopes it holds itself. `scopes` (None:
    every scope of the user's role the issuer holds) must be within the user's role.
    `expires_at` (None: never) must be in the future, at most MAX_KEY_LIFETIME ahead."""
    check = validation.Validator()
    user_id = check.entity_id(user_id, "user_id")
    actor = actor or f"user:{user_id}"
    check.text("actor", actor, validation.ACTOR, 81, "kind[:id], e.g. user:<id>")
    at = store.now(now)
    if expires_at is not None and not at < expires_at <= at + MAX_KEY_LIFETIME:
        check.fail(
            "expires_at", f"must be after now ({at.isoformat()}) and at most ten years ahead"
        )
    check.check()
    key_id = new_entity_id()
    plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    async with store.tenant(scope.company_id) as conn:
        # The user lives in this tenant's schema: a user id of another tenant is not found.
        user = await load_user(conn, user_id)
        granted = grantable_scopes(issuer, user.role, scopes)
        await conn.execute(
            api_keys.insert().values(
                id=key_id,
                company_id=scope.company_id,
                user_id=user_id,
                key_hash=hash_key(plaintext),
                prefix=f"{KEY_PREFIX}{key_id}",
                created_at=at,
                scopes=sorted(granted) if granted is not None else None,
                expires_at=expires_at,
            )
        )
        await audit.record(
            conn,
            at=at,
            actor=actor,
            action="api_key.issued",
            company_id=scope.company_id,
            target=f"api_key:{key_id}",
            after={
                "user_id": user_id,
                "prefix": f"{KEY_PREFIX}{key_id}",
                "role": user.role,
                "scopes": sorted(granted) if granted is not None else "all of the role",
            },
        )
    return IssuedKey(key_id, plaintext, expires_at)


async def revoke_api_key(
    store: RelationalStore,
    scope: TenantScope,
    key_id: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> ApiKey:
    """Revoke one of the scope's keys (idempotent); NotFound for keys of any other company."""
    check = validation.Validator()
    key_id = check.entity_id(key_id, "key_id")
    check.text("actor", actor, validation.ACTOR, 81, "kind[:id], e.g. user:<id>")
    check.check()
    at = store.now(now)
    async with store.shared() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(api_keys)
                    .where(api_keys.c.id == key_id, api_keys.c.company_id == scope.company_id)
                    .with_for_update()
                )
            )
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise NotFound(f"API key {key_id} not found", metadata={"key_id": key_id})
        key = _from_row(row)
        if key.revoked_at is not None:
            return key
        await conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=at))
        await audit.record(
            conn,
            at=at,
            actor=actor,
            action="api_key.revoked",
            company_id=scope.company_id,
            target=f"api_key:{key_id}",
            before={"revoked_at": None},
            after={"revoked_at": at.isoformat()},
        )
    return replace(key, revoked_at=at)


async def list_api_keys(
    store: RelationalStore, scope: TenantScope, *, user_id: str | None = None
) -> list[ApiKey]:
    """The scope's keys (optionally one user's), oldest first."""
    query = sa.select(api_keys).where(api_keys.c.company_id == scope.company_id)
    if user_id is not None:
        query = query.where(api_keys.c.user_id == validation.entity_id(user_id, "user_id"))
    async with store.shared(readonly=True) as conn:
        rows = (
            (await conn.execute(query.order_by(api_keys.c.created_at, api_keys.c.id)))
            .mappings()
            .all()
        )
    return [_from_row(row) for row in rows]


async def authenticate_key(
    store: RelationalStore, plaintext: str, *, now: datetime | None = None
) -> AuthResult:
    """Resolve a presented key to its tenant context, or raise Unauthenticated.

    Messages tell malformed, unknown and revoked keys apart; "revoked" is only said to
    a caller holding the right secret, so key ids alone reveal nothing.
    """
    if not isinstance(plaintext, str) or len(plaintext) > _MAX_KEY_LEN:
        raise Unauthenticated("malformed API key", reason="API_KEY_MALFORMED")
    match = KEY_FORMAT.fullmatch(plaintext)
    if match is None:
        raise Unauthenticated("malformed API key", reason="API_KEY_MALFORMED")
    key_id = match["key_id"]
    at = store.now(now)
    query = (
        sa.select(
            api_keys.c.key_hash,
            api_keys.c.company_id,
            api_keys.c.user_id,
            api_keys.c.revoked_at,
            api_keys.c.last_used_at,
            api_keys.c.scopes,
            api_keys.c.expires_at,
            companies.c.status,
            subscriptions.c.tier,
        )
        .join(companies, companies.c.id == api_keys.c.company_id)
        .join(subscriptions, subscriptions.c.company_id == api_keys.c.company_id)
        .where(api_keys.c.id == key_id)
    )
    async with store.shared(readonly=True) as conn:
        row = (await conn.execute(query)).one_or_none()
    # Compare even when the id is unknown, against a dummy, to keep timing uniform.
    stored = row.key_hash if row is not None else "0" * 64
    if not hmac.compare_digest(stored, hash_key(plaintext)) or row is None:
        raise Unauthenticated("unknown API key", reason="API_KEY_UNKNOWN")
    if row.revoked_at is not None:
        raise Unauthenticated("API key revoked", reason="API_KEY_REVOKED")
    if row.expires_at is not None and row.expires_at <= at:
        raise Unauthenticated(
            f"API key expired at {row.expires_at.isoformat()}: issue a new one",
            reason="API_KEY_EXPIRED",
        )
    if row.status != "active":
        raise Unauthenticated("the API key's company is deactivated", reason="COMPANY_DEACTIVATED")
    if row.last_used_at is None or at - row.last_used_at >= LAST_USED_GRANULARITY:
        async with store.shared() as conn:
            await conn.execute(
                api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=at)
            )
    # The role is read now, not copied onto the key: a user's new role applies to
    # every key it holds from the next lookup on.
    async with store.tenant(row.company_id, readonly=True) as conn:
        role = (
            await conn.execute(sa.select(users.c.role).where(users.c.id == row.user_id))
        ).scalar_one_or_none()
    return AuthResult(
        row.company_id, row.user_id, Tier(row.tier), key_id, role or "member",
        frozenset(row.scopes or ()), row.expires_at,
    )  # fmt: skip


async def tenant_for_key(store: RelationalStore, plaintext: str) -> TenantContext:
    """The tenant a presented key acts for (see authenticate_key): how Storage resolves keys
    itself, for its own auth interceptor and for AuthenticateKey."""
    result = await authenticate_key(store, plaintext)
    expires = result.expires_at
    return TenantContext(
        result.company_id, result.user_id, result.tier, result.key_id, result.role, result.scopes,
        key_expires_at_us=int(expires.timestamp() * 1_000_000) if expires is not None else 0,
    )  # fmt: skip


def grantable_scopes(
    issuer: TenantContext | None, user_role: str, requested: frozenset[str] | None
) -> frozenset[str] | None:
    """The scopes a new key gets (None: all of the user's role, for the operator asking for
    no particular ones); PERMISSION_DENIED naming what the issuer may not grant."""
    target = permissions.parse_role(user_role)
    role_scopes = {s.value for s in permissions.ROLE_SCOPES[target]}
    if requested is not None:
        unknown = sorted(requested - {s.value for s in permissions.Scope})
        if unknown:
            raise InvalidArgument(
                f"unknown scope {unknown[0]!r}",
                violations=[FieldViolation("scopes", "one of " + ", ".join(permissions.Scope))],
            )
        beyond = sorted(requested - role_scopes)
        if beyond:
            raise PermissionDenied(
                f"role {user_role} cannot hold scope {beyond[0]}",
                reason="SCOPE_BEYOND_ROLE", metadata={"scope": beyond[0], "role": user_role},
            )  # fmt: skip
    if issuer is None:
        return requested
    mine = permissions.held_scopes(issuer)
    by = permissions.parse_role(issuer.role)
    if target not in permissions.MANAGES[by]:
        raise PermissionDenied(
            f"{permissions.with_article(issuer.role)} cannot issue keys for "
            f"{permissions.with_article(user_role)}; only an owner can",
            reason="ROLE_REQUIRED", metadata={"required_role": "owner"},
        )  # fmt: skip
    wanted = requested if requested is not None else frozenset(role_scopes)
    beyond = sorted(wanted - mine)
    if beyond:
        raise PermissionDenied(
            f"this key lacks scope {beyond[0]}, so it cannot grant it",
            reason="SCOPE_REQUIRED", metadata={"scope": beyond[0]},
        )  # fmt: skip
    return wanted if requested is not None or wanted != role_scopes else None
