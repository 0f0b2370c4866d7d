"""The Storage service's relational layer: shared tables plus one schema per tenant.

Layout. PostgreSQL (asyncpg): the shared tables (companies, subscriptions, api_keys,
audit_log, storage_usage, alembic_version) live in schema `tickmesh` (configurable;
tests use a throwaway one per session), each company's users, broker_accounts and
trading_positions in schema `tenant_<company_id>`. Embedded SQLite (aiosqlite):
`<data_dir>/tickmesh.db` holds the shared tables and `<data_dir>/tenants/tenant_<id>.db`
each tenant, ATTACHed under its schema name. One set of Table definitions serves every
tenant through schema_translate_map (tables.py). Start with `open_store()`.
"""

from servers.storage.relational.engine import RelationalStore, open_store
from servers.storage.relational.migrate import migrate
from servers.storage.relational.scope import TenantScope

__all__ = ["RelationalStore", "TenantScope", "migrate", "open_store"]
