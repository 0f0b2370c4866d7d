"""Users of one tenant, in `tenant_<id>.users`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.errors import AlreadyExists, NotFound
from servers.storage.relational import company_config, quota, validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.ids import new_entity_id
from servers.storage.relational.scope import TenantScope
from servers.storage.relational.tables import users


@dataclass(frozen=True, slots=True)
class User:
    """A user of the scope's company."""

    id: str
    email: str
    name: str
    role: str
    created_at: datetime


def _from_row(row: sa.RowMapping) -> User:
    return User(row["id"], row["email"], row["name"], row["role"], row["created_at"])


def validate_new_user(
    email: object, name: object, role: object, *, prefix: str = ""
) -> tuple[str, str, str]:
    """Check a new user's fields before anything is written; fields named with `prefix`."""
    check = validation.Validator()
    checked = (
        check.email(email, f"{prefix}email"),
        check.name(name, f"{prefix}name"),
        check.choice(role, f"{prefix}role", validation.ROLES),
    )
    check.check()
    return checked


async def create_user(
    store: RelationalStore,
    scope: TenantScope,
    email: str,
    name: str,
    role: str = "member",
    *,
    now: datetime | None = None,
) -> User:
    """Add a user to the scope's company; AlreadyExists when the email is taken there."""
    email, name, role = validate_new_user(email, name, role)
    at = store.now(now)
    user = User(new_entity_id(), email, name, role, at)
    async with store.tenant(scope.company_id) as conn:
        taken = await conn.scalar(sa.select(users.c.id).where(users.c.email == email))
        if taken is not None:
            raise AlreadyExists(f"a user with email {email} exists", metadata={"field": "email"})
        await company_config.check_room_for_user(conn, scope.company_id)
        await quota.reserve(store, conn, scope.company_id, quota.user_bytes(email, name), 1, at)
        try:
            await conn.execute(
                users.insert().values(id=user.id, email=email, name=name, role=role, created_at=at)
            )
        except sa.exc.IntegrityError as exc:  # a concurrent create took the email first
            raise AlreadyExists(
                f"a user with email {email} exists", metadata={"field": "email"}
            ) from exc
    return user


async def load_user(conn: AsyncConnection, user_id: str) -> User:
    """The user in the connection's tenant schema, or NotFound."""
    row = (
        (await conn.execute(sa.select(users).where(users.c.id == user_id))).mappings().one_or_none()
    )
    if row is None:
        raise NotFound(f"user {user_id} not found", metadata={"user_id": user_id})
    return _from_row(row)


async def get_user(store: RelationalStore, scope: TenantScope, user_id: str) -> User:
    """One user of the scope's company; NotFound for ids of any other company."""
    user_id = validation.entity_id(user_id, "user_id")
    async with store.tenant(scope.company_id, readonly=True) as conn:
        return await load_user(conn, user_id)


async def list_users(store: RelationalStore, scope: TenantScope) -> list[User]:
    """Every user of the scope's company, oldest first."""
    async with store.tenant(scope.company_id, readonly=True) as conn:
        rows = (
            (await conn.execute(sa.select(users).order_by(users.c.created_at, users.c.id)))
            .mappings()
            .all()
        )
    return [_from_row(row) for row in rows]
