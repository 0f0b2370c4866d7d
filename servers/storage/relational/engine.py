"""RelationalStore: the engine, the schema-translated connections, and SQLite's per-tenant files."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from mesh.errors import NotFound, Unavailable
from mesh.tiers import Tier, limits
from servers.storage.relational.migrate import migrate
from servers.storage.relational.scope import tenant_schema_name
from servers.storage.relational.tables import (
    DEFAULT_SHARED_SCHEMA,
    SHARED,
    SHARED_SCHEMA_NAME,
    TENANT,
    companies,
)

Backend = Literal["postgres", "sqlite"]
Clock = Callable[[], datetime]
QuotaPolicy = Callable[[Tier], int | None]

# SQLite attaches at most 10 databases per connection (SQLITE_MAX_ATTACHED, and
# sqlite3_limit can only lower it), so tenants are attached on demand and the least
# recently used one is detached; 8 keeps headroom below the hard limit.
SQLITE_ATTACH_LIMIT = 8
_READONLY = "tickmesh_readonly"


def utc_now() -> datetime:
    """The default clock: the current instant, aware, in UTC."""
    return datetime.now(UTC)


def tier_storage_quota(tier: Tier) -> int | None:
    """The default quota policy: the tier catalog's storage quota (None = unlimited)."""
    return limits(tier).storage_quota_bytes


class RelationalStore:
    """One relational database: shared tables plus one schema (SQLite: one file) per tenant.

    Connections come from `shared()` (shared schema only) or `tenant(company_id)` (shared
    schema plus exactly that tenant's schema); each yields a connection inside a
    transaction that commits on success and rolls back on any exception.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        shared_schema: str = DEFAULT_SHARED_SCHEMA,
        tenant_dir: Path | None = None,
        clock: Clock = utc_now,
        quota_for: QuotaPolicy = tier_storage_quota,
    ) -> None:
        self.engine = engine
        self.backend: Backend = "sqlite" if engine.dialect.name == "sqlite" else "postgres"
        if not SHARED_SCHEMA_NAME.fullmatch(shared_schema):
            raise ValueError(f"shared schema {shared_schema!r} is not a plain identifier")
        # SQLite keeps the shared tables in the main database file.
        self.shared_schema: str | None = shared_schema if self.backend == "postgres" else None
        if self.backend == "sqlite" and tenant_dir is None:
            raise ValueError("a SQLite store needs tenant_dir for the per-tenant files")
        self.tenant_dir = tenant_dir
        self.clock = clock
        self.quota_for = quota_for
        # Companies are never deleted, so once seen a company's schema exists for good.
        self._known_companies: set[str] = set()
        # Per SQLite driver connection: attached tenant schemas, least recently used first.
        self._attached: weakref.WeakKeyDictionary[Any, OrderedDict[str, None]] = (
            weakref.WeakKeyDictionary()
        )
        if self.backend == "sqlite":
            _install_sqlite_hooks(engine)

    def now(self, now: datetime | None = None) -> datetime:
        """`now` (which must be aware) or the store's clock, in UTC."""
        value = self.clock() if now is None else now
        if value.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        return value.astimezone(UTC)

    def schema_map(self, company_id: str | None = None) -> dict[str | None, str | None]:
        """The schema_translate_map for the shared schema and, optionally, one tenant."""
        mapping: dict[str | None, str | None] = {SHARED: self.shared_schema}
        if company_id is not None:
            mapping[TENANT] = tenant_schema_name(company_id)
        return mapping

    def tenant_file(self, company_id: str) -> Path:
        """The SQLite file holding one tenant's schema."""
        assert self.tenant_dir is not None
        return self.tenant_dir / f"{tenant_schema_name(company_id)}.db"

    @asynccontextmanager
    async def shared(self, *, readonly: bool = False) -> AsyncIterator[AsyncConnection]:
        """A transaction that sees the shared schema only."""
        async with _unavailable_on_outage(), self.engine.connect() as conn:
            await conn.execution_options(
                schema_translate_map=self.schema_map(), **{_READONLY: readonly}
            )
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def tenant(
        self, company_id: str, *, readonly: bool = False, create: bool = False
    ) -> AsyncIterator[AsyncConnection]:
        """A transaction that sees the shared schema and `tenant_<company_id>`, nothing else.

        Unknown companies raise NotFound before any tenant SQL runs; `create=True` is for
        create_company only, which makes the schema inside this transaction.
        """
        if not create:
            await self.require_company(company_id)
        async with _unavailable_on_outage(), self.engine.connect() as conn:
            if self.backend == "sqlite":
                await self._attach(conn, company_id, create=create)
            await conn.execution_options(
                schema_translate_map=self.schema_map(company_id), **{_READONLY: readonly}
            )
            async with conn.begin():
                yield conn

    async def require_company(self, company_id: str) -> None:
        """Raise NotFound unless the company exists (its tenant schema then exists too)."""
        if company_id in self._known_companies:
            return
        async with self.shared(readonly=True) as conn:
            found = await conn.scalar(sa.select(companies.c.id).where(companies.c.id == company_id))
        if found is None:
            raise NotFound(f"company {company_id} not found", metadata={"company_id": company_id})
        self._known_companies.add(company_id)

    def remember_company(self, company_id: str) -> None:
        """Record a company whose creation committed."""
        self._known_companies.add(company_id)

    async def _attach(self, conn: AsyncConnection, company_id: str, *, create: bool) -> None:
        # ATTACH and DETACH are refused inside a transaction, so this runs on the raw
        # driver connection before SQLAlchemy begins one.
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        attached = self._attached.setdefault(driver, OrderedDict())
        schema = tenant_schema_name(company_id)
        if schema in attached:
            attached.move_to_end(schema)
            return
        while len(attached) >= SQLITE_ATTACH_LIMIT:
            oldest, _ = attached.popitem(last=False)
            await _driver_exec(driver, f"DETACH DATABASE {oldest}")
        # mode=rw never creates a file, so a stale id cannot conjure an empty tenant.
        mode = "rwc" if create else "rw"
        uri = f"file:{quote(str(self.tenant_file(company_id)))}?mode={mode}"
        try:
            await _driver_exec(driver, f"ATTACH DATABASE ? AS {schema}", (uri,))
        except Exception as exc:
            if "already in use" not in str(exc):
                raise
        attached[schema] = None

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


async def _driver_exec(driver: Any, sql: str, params: tuple[object, ...] = ()) -> None:
    cursor = await driver.execute(sql, params)
    await cursor.close()


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module (which would only BEGIN before
        # DML) so that every SQLAlchemy transaction, reads and DDL included, is real.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that reads, then
        # writes, can fail with SQLITE_BUSY without waiting when another writer is active.
        readonly = conn.get_execution_options().get(_READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


@asynccontextmanager
async def _unavailable_on_outage() -> AsyncIterator[None]:
    """Turn "cannot reach the database" into Unavailable (retryable); bugs stay bugs."""
    try:
        yield
    except (OSError, sa.exc.DisconnectionError, sa.exc.TimeoutError) as exc:
        raise Unavailable("relational store unavailable") from exc
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated or "database is locked" in str(exc):
            raise Unavailable("relational store unavailable") from exc
        raise


def sqlite_url(path: Path) -> str:
    """The aiosqlite URL of a database file, opened in URI mode so ATTACH can pass mode=rw."""
    return f"sqlite+aiosqlite:///file:{quote(str(path))}?uri=true"


def postgres_url(url: str) -> sa.URL:
    """`url` with the asyncpg driver, whichever PostgreSQL spelling it came in."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername="postgresql+asyncpg")


async def open_store(
    url: str | None,
    data_dir: Path,
    *,
    shared_schema: str = DEFAULT_SHARED_SCHEMA,
    clock: Clock = utc_now,
    quota_for: QuotaPolicy = tier_storage_quota,
    run_migrations: bool = True,
) -> RelationalStore:
    """Open PostgreSQL at `url`, or with url None the embedded SQLite store under `data_dir`.

    Migrates the shared schema to head unless run_migrations is False.
    """
    if url is None:
        tenant_dir = data_dir / "tenants"
        tenant_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(sqlite_url(data_dir / "tickmesh.db"))
        store = RelationalStore(engine, tenant_dir=tenant_dir, clock=clock, quota_for=quota_for)
    else:
        engine = create_async_engine(postgres_url(url), pool_pre_ping=True)
        store = RelationalStore(
            engine, shared_schema=shared_schema, clock=clock, quota_for=quota_for
        )
    if run_migrations:
        try:
            await migrate(engine, shared_schema)
        except BaseException:
            await engine.dispose()
            raise
    return store
