"""Bulk tenant provisioning for benchmarks, and teardown of throwaway test/bench stores."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from mesh.tiers import Tier
from servers.storage.relational.companies import create_company, list_companies
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.scope import tenant_schema_name


async def provision_tenants(
    store: RelationalStore,
    count: int,
    *,
    tier: Tier = Tier.FREE,
    concurrency: int = 1,
    name_prefix: str = "Bench tenant",
) -> list[str]:
    """Create `count` companies, each with its tenant schema at head; return their ids.

    `concurrency` companies are created at a time (each is its own transaction).
    """
    if count < 0 or concurrency < 1:
        raise ValueError("count must be >= 0 and concurrency >= 1")
    ids: list[str] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with gate:
            company, _ = await create_company(store, f"{name_prefix} {index}", tier)
            ids.append(company.id)

    async with asyncio.TaskGroup() as group:
        for index in range(count):
            group.create_task(one(index))
    return ids


async def destroy_store(store: RelationalStore) -> None:
    """Drop every tenant schema and the shared schema: for throwaway test/bench stores only.

    Production never drops a tenant (companies are deactivated); this exists so test and
    benchmark runs on a shared PostgreSQL leave nothing behind. On SQLite the files stay
    (the caller owns and deletes the directory).
    """
    if store.backend != "postgres":
        await store.close()
        return
    for company in await list_companies(store):
        # One transaction per schema: dropping thousands at once exhausts the lock table.
        async with store.engine.begin() as conn:
            await conn.execute(
                sa.schema.DropSchema(tenant_schema_name(company.id), cascade=True, if_exists=True)
            )
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.schema.DropSchema(str(store.shared_schema), cascade=True, if_exists=True)
        )
    await store.close()
