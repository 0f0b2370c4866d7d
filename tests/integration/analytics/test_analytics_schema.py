"""The analytics schema: engines, partitioning, ordering, TTLs and the views' targets."""

from __future__ import annotations

from servers.storage.analytics import AnalyticsStore, schema


async def _tables(store: AnalyticsStore) -> dict[str, tuple[str, str, str]]:
    rows = await store.query(
        "SELECT name, engine, engine_full, create_table_query FROM system.tables"
        " WHERE database = currentDatabase()"
    )
    return {name: (engine, full, create) for name, engine, full, create in rows}


async def test_tables_and_views_have_the_designed_engines(store: AnalyticsStore) -> None:
    tables = await _tables(store)
    assert tables["usage_tracking"][0] == "MergeTree"
    assert tables["usage_analytics_hourly"][0] == "SummingMergeTree"
    assert tables["billing_monthly"][0] == "AggregatingMergeTree"
    assert tables["performance_sla"][0] == "MergeTree"
    assert tables["usage_analytics_hourly_mv"][0] == "MaterializedView"
    assert tables["billing_monthly_mv"][0] == "MaterializedView"
    assert "TO default.usage_analytics_hourly" in tables["usage_analytics_hourly_mv"][2]
    assert "TO default.billing_monthly" in tables["billing_monthly_mv"][2]


async def test_usage_tracking_partitioning_order_ttl_and_key_projection(
    store: AnalyticsStore,
) -> None:
    _, full, create = (await _tables(store))["usage_tracking"]
    assert "PARTITION BY toYYYYMM(event_time)" in full
    assert "ORDER BY (company_id, user_id, event_time, service, endpoint)" in full
    assert f"TTL toDateTime(event_time) + toIntervalDay({schema.USAGE_TTL_DAYS})" in full
    assert "PROJECTION by_key" in create
    columns = dict(
        await store.query(
            "SELECT name, type FROM system.columns"
            " WHERE database = currentDatabase() AND table = 'usage_tracking'"
        )
    )
    for name in ("tier", "service", "endpoint"):
        assert columns[name] == "LowCardinality(String)"
    assert columns["event_time"] == "DateTime64(6, 'UTC')"


async def test_every_table_has_a_ttl(store: AnalyticsStore) -> None:
    tables = await _tables(store)
    for name in ("usage_tracking", "usage_analytics_hourly", "billing_monthly", "performance_sla"):
        assert " TTL " in tables[name][1], name


async def test_schema_is_idempotent(store: AnalyticsStore) -> None:
    before = await _tables(store)

    def reapply() -> None:
        schema.apply_schema(store._client)

    await store._call(reapply)
    assert await _tables(store) == before
    assert set(schema.TABLES) <= set(before)
