"""Storage's own settings: where its stores are, from the config file's [storage] table
or the environment (TICKMESH_POSTGRES_URL and friends: the names the deployments use)."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.config import as_bool, as_optional_str, int_at_least, setting


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """The relational and analytics stores; unset URLs mean the embedded ones."""

    postgres_url: str | None = setting(None, cast=as_optional_str, env="TICKMESH_POSTGRES_URL")
    """PostgreSQL URL; None uses the embedded SQL store under data_dir."""

    postgres_schema: str = setting("tickmesh", cast=str, env="TICKMESH_POSTGRES_SCHEMA")
    """PostgreSQL schema of the shared tables (tenant schemas are tenant_<company id>)."""

    clickhouse_url: str | None = setting(None, cast=as_optional_str, env="TICKMESH_CLICKHOUSE_URL")
    """ClickHouse URL; None uses the embedded analytics store under data_dir."""

    record_ticks: bool = setting(True, cast=as_bool, env="TICKMESH_STORAGE_RECORD_TICKS")
    """Record Ingestion's ticks as market-data history (servers.storage.recorder)."""

    signups_per_hour: int = setting(5, cast=int_at_least(1))
    """Self-service sign-ups accepted per peer address per hour (abuse limit)."""
