"""Chain definitions, versioned: each save is the next version of its name. Storage keeps
the Workflow service's serialized definition and never interprets it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mesh.errors import Aborted
from servers.storage.relational import validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.tables import chain_versions

NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
MAX_DEFINITION = 64 * 1024


@dataclass(frozen=True, slots=True)
class ChainVersion:
    """One stored version."""

    name: str
    version: int
    definition: bytes
    registered_at: datetime


def _row(row: sa.RowMapping) -> ChainVersion:
    return ChainVersion(row["name"], row["version"], bytes(row["definition"]), row["registered_at"])


async def save_version(
    store: RelationalStore, name: str, definition: bytes, *, now: datetime | None = None
) -> ChainVersion:
    """Store `definition` as the next version of `name`."""
    check = validation.Validator()
    check.text("name", name, NAME, 64, "lower-case words joined by '-'")
    if not definition or len(definition) > MAX_DEFINITION:
        check.fail("definition", f"must be 1 to {MAX_DEFINITION} bytes")
    check.check()
    at = store.now(now)
    try:
        async with store.shared() as conn:
            latest = (
                await conn.execute(
                    sa.select(sa.func.max(chain_versions.c.version)).where(
                        chain_versions.c.name == name
                    )
                )
            ).scalar_one()
            version = (latest or 0) + 1
            await conn.execute(chain_versions.insert().values(
                name=name, version=version, definition=definition, registered_at=at
            ))  # fmt: skip
    except IntegrityError:  # two registrations of one name raced: the caller retries
        raise Aborted(f"chain {name!r} was registered concurrently; try again") from None
    return ChainVersion(name, version, definition, at)


async def list_versions(store: RelationalStore, name: str = "") -> list[ChainVersion]:
    """Every version of `name`, oldest first; or the latest of every chain, by name."""
    if name:
        query = (
            sa.select(chain_versions)
            .where(chain_versions.c.name == name)
            .order_by(chain_versions.c.version)
        )
    else:
        latest = (
            sa.select(chain_versions.c.name, sa.func.max(chain_versions.c.version).label("v"))
            .group_by(chain_versions.c.name)
            .subquery()
        )
        query = (
            sa.select(chain_versions)
            .join(
                latest,
                sa.and_(
                    chain_versions.c.name == latest.c.name, chain_versions.c.version == latest.c.v
                ),
            )
            .order_by(chain_versions.c.name)
        )
    async with store.shared(readonly=True) as conn:
        return [_row(r) for r in (await conn.execute(query)).mappings().all()]
