"""Self-service sign-up: a free company and its owner now, the owner's first API key once
the owner proves the e-mail address by redeeming a token sent there.

The token reads `sv_<id>_<secret>` like an API key and is stored the same way (only its
SHA-256, compared in constant time). It is handed to the mailer as the company's
`signup.verification_requested` event, in the transaction that stores its hash, so an
e-mail goes out exactly when the sign-up committed; no mail server is needed to test the
flow (the operator reads the event). A token works once, within VERIFICATION_TTL.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from mesh.errors import Unauthenticated
from mesh.tiers import Tier
from servers.storage.relational import api_keys, audit, companies, events, users, validation
from servers.storage.relational.api_keys import IssuedKey, hash_key
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.ids import new_entity_id
from servers.storage.relational.scope import TenantScope
from servers.storage.relational.tables import ENTITY_ID_LEN, signups

VERIFICATION_TTL = timedelta(hours=24)
VERIFICATION_EVENT = "signup.verification_requested"
TOKEN_PREFIX = "sv_"
_TOKEN = re.compile(rf"{TOKEN_PREFIX}(?P<id>[0-9a-f]{{{ENTITY_ID_LEN}}})_[A-Za-z0-9_-]{{43}}")
_ACTOR = "signup"


@dataclass(frozen=True, slots=True)
class PendingSignUp:
    """A sign-up awaiting verification (the token went out as an event)."""

    company_id: str
    user_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Verified:
    """A redeemed token: the company and its owner's first key."""

    company_id: str
    key: IssuedKey
    created_at: datetime


async def sign_up(
    store: RelationalStore,
    company_name: str,
    owner_email: str,
    owner_name: str,
    *,
    now: datetime | None = None,
) -> PendingSignUp:
    """Create the free company and its owner, and queue the verification e-mail."""
    # Every field checked before anything is written, each named as the request names it.
    check = validation.Validator()
    check.name(company_name, "company_name")
    check.email(owner_email, "owner_email")
    check.name(owner_name, "owner_name")
    check.check()
    company, _ = await companies.create_company(
        store, company_name, Tier.FREE, actor=_ACTOR, now=now
    )
    scope = TenantScope(company.id)
    owner = await users.create_user(store, scope, owner_email, owner_name, "owner", now=now)
    at = store.now(now)
    signup_id = new_entity_id()
    token = f"{TOKEN_PREFIX}{signup_id}_{secrets.token_urlsafe(32)}"
    expires_at = at + VERIFICATION_TTL
    async with store.shared() as conn:
        await conn.execute(
            signups.insert().values(
                id=signup_id,
                company_id=company.id,
                user_id=owner.id,
                token_hash=hash_key(token),
                created_at=at,
                expires_at=expires_at,
            )
        )
        await events.emit(
            conn, at=at, company_id=company.id, type=VERIFICATION_EVENT,
            data={"email": owner.email, "token": token, "expires_at": expires_at.isoformat()},
        )  # fmt: skip
    return PendingSignUp(company.id, owner.id, expires_at)


async def verify(store: RelationalStore, token: str, *, now: datetime | None = None) -> Verified:
    """Redeem `token` once: the owner's first API key. UNAUTHENTICATED, reason
    SIGNUP_TOKEN_INVALID, for a malformed, unknown, used or expired token."""
    match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    if match is None:
        raise _invalid("malformed verification token")
    at = store.now(now)
    async with store.shared(readonly=True) as conn:
        row = (
            (await conn.execute(sa.select(signups).where(signups.c.id == match["id"])))
            .mappings()
            .one_or_none()
        )
    stored = row["token_hash"] if row is not None else "0" * 64
    if not hmac.compare_digest(stored, hash_key(token)) or row is None:
        raise _invalid("unknown verification token")
    if row["verified_at"] is not None:
        raise _invalid("this verification token was used already: sign in with your key")
    if row["expires_at"] <= at:
        raise _invalid("this verification token expired: sign up again")
    async with store.shared() as conn:
        # Compare-and-set: of two concurrent redemptions, one wins.
        claimed = await conn.execute(
            signups.update()
            .where(signups.c.id == row["id"], signups.c.verified_at.is_(None))
            .values(verified_at=at)
        )
        if claimed.rowcount != 1:
            raise _invalid("this verification token was used already: sign in with your key")
        await audit.record(
            conn, at=at, actor=f"user:{row['user_id']}", action="signup.verified",
            company_id=row["company_id"], target=f"user:{row['user_id']}",
            after={"verified_at": at.isoformat()},
        )  # fmt: skip
    scope = TenantScope(row["company_id"])
    key = await api_keys.issue_api_key(
        store, scope, row["user_id"], actor=f"user:{row['user_id']}", now=now
    )
    return Verified(row["company_id"], key, at)


def _invalid(message: str) -> Unauthenticated:
    return Unauthenticated(message, reason="SIGNUP_TOKEN_INVALID")
