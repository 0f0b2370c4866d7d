"""RecordUsage on the analytics store: exact sums, exactly-once per key, per-event validation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from tickmesh.common.v1 import tenancy_pb2

from mesh.errors import InvalidArgument
from servers.storage.analytics import AnalyticsStore, UsageRow
from servers.storage.analytics.validation import period_of, unix_us
from tests.integration.analytics.conftest import company_totals, make_event


async def test_record_then_query_exact_sums_by_every_grouping(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    c = company()
    at = datetime.now(UTC) - timedelta(minutes=1)
    period = period_of(unix_us(at))
    events = [
        make_event(c, at=at, user_id="alice", service="bridge", endpoint="Subscribe",
                   data_points=100, processing_time_us=7),
        make_event(c, at=at, user_id="alice", service="bridge", endpoint="Subscribe",
                   data_points=50, processing_time_us=3),
        make_event(c, at=at, user_id="bob", service="ingestion", endpoint="ListSymbols",
                   data_points=1, processing_time_us=900),
        make_event(c, at=at, user_id="bob", service="bridge", endpoint="GetUsage",
                   data_points=1, processing_time_us=20),
    ]  # fmt: skip
    result = await store.record_usage(events)
    assert (result.accepted, result.duplicates, result.rejected) == (4, 0, [])

    assert await store.query_usage(c, period) == [UsageRow("", 4, 152, 930)]
    assert await store.query_usage(c, period, "service") == [
        UsageRow("bridge", 3, 151, 30),
        UsageRow("ingestion", 1, 1, 900),
    ]
    assert await store.query_usage(c, period, "endpoint") == [
        UsageRow("bridge/GetUsage", 1, 1, 20),
        UsageRow("bridge/Subscribe", 2, 150, 10),
        UsageRow("ingestion/ListSymbols", 1, 1, 900),
    ]
    assert await store.query_usage(c, period, "user") == [
        UsageRow("alice", 2, 150, 10),
        UsageRow("bob", 2, 2, 920),
    ]
    assert await store.query_usage(c, period, "day") == [
        UsageRow(at.date().isoformat(), 4, 152, 930)
    ]
    assert await store.ticks_delivered(period, c) == {c: 151}
    assert await store.aggregates_mismatch(period) == []


async def test_unknown_company_period_and_grouping(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    assert await store.query_usage(company(), "2026-01") == [UsageRow("", 0, 0, 0)]
    assert await store.query_usage(company(), "2026-01", "user") == []
    with pytest.raises(InvalidArgument, match="group_by"):
        await store.query_usage(company(), "2026-01", "tier")
    with pytest.raises(InvalidArgument, match="YYYY-MM"):
        await store.query_usage(company(), "2026-13")
    with pytest.raises(InvalidArgument, match="company_id"):
        await store.query_usage("ACME", "2026-01")


async def test_same_batch_retried_five_times_counts_once_everywhere(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    c = company()
    batch = [make_event(c, f"retry:{c}:{i}", data_points=i + 1) for i in range(200)]
    first = await store.record_usage(batch)
    assert (first.accepted, first.duplicates) == (200, 0)
    for _ in range(5):
        again = await store.record_usage(batch)
        assert (again.accepted, again.duplicates, again.rejected) == (0, 200, [])
    expected = (200, sum(range(1, 201)))
    assert await company_totals(store, c) == {
        "base": expected,
        "hourly": expected,
        "monthly": expected,
    }


async def test_concurrent_retries_of_one_batch_count_once(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    c = company()
    batch = [make_event(c, f"race:{c}:{i}") for i in range(50)]
    results = await asyncio.gather(*(store.record_usage(batch) for _ in range(5)))
    assert sum(r.accepted for r in results) == 50
    assert sum(r.duplicates for r in results) == 200
    assert await company_totals(store, c) == {k: (50, 500) for k in ("base", "hourly", "monthly")}


async def test_partial_duplicates_and_repeats_within_a_batch(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    c = company()
    old = [make_event(c, f"part:{c}:{i}") for i in range(10)]
    assert (await store.record_usage(old[:4])).accepted == 4
    repeat = make_event(c, f"part:{c}:9")  # same key as old[9], twice in the batch
    result = await store.record_usage([*old, repeat])
    assert (result.accepted, result.duplicates) == (6, 5)
    assert await company_totals(store, c) == {k: (10, 100) for k in ("base", "hourly", "monthly")}


async def test_each_invalid_event_is_rejected_with_its_reason_and_the_rest_stored(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    c = company()
    now = datetime.now(UTC)
    period = period_of(unix_us(now))
    other = "2000-01" if period != "2000-01" else "2000-02"
    bad: list[tuple[tenancy_pb2.UsageEvent, str]] = [
        (make_event(c, "has space"), "malformed idempotency key"),
        (make_event("ACME"), "malformed company id 'ACME'"),
        (make_event(""), "empty company id"),
        (make_event(c, user_id=""), "empty user id"),
        (make_event(c, tier=tenancy_pb2.TIER_UNSPECIFIED), "unknown or unset tier 0"),
        (make_event(c, tier=9), "unknown or unset tier 9"),
        (make_event(c, service=""), "empty service"),
        (make_event(c, endpoint="Sub scribe"), "malformed endpoint"),
        (make_event(c, data_points=-1), "negative data_points -1"),
        (make_event(c, data_points=10**9 + 1), "exceeds 1000000000 per event"),
        (make_event(c, processing_time_us=-5), "negative processing_time_us -5"),
        (make_event(c, processing_time_us=10**12 + 1), "processing_time_us 1000000000001 exceeds"),
        (make_event(c, at=now + timedelta(minutes=10)), "in the future"),
        (make_event(c, at=now - timedelta(days=40)), "older than the 35-day window"),
        (make_event(c, billing_period=other), f"billing period '{other}' does not match"),
        (make_event(c, billing_period="2026/11"), "malformed billing period '2026/11'"),
    ]
    keyless, unset = make_event(c), make_event(c)
    keyless.idempotency_key = ""
    unset.event_time_us = 0
    bad += [(keyless, "empty idempotency key"), (unset, "event time unset")]
    good = [make_event(c, data_points=3) for _ in range(5)]
    batch = [e for e, _ in bad]
    for position in (0, 4, 9, 12, len(batch)):  # valid events scattered among the bad
        batch.insert(position, good.pop())
    result = await store.record_usage(batch)

    assert (result.accepted, result.duplicates) == (5, 0)
    assert len(result.rejected) == len(bad)
    assert [r.index for r in result.rejected] == sorted(r.index for r in result.rejected)
    by_index = {r.index: r for r in result.rejected}
    for event, reason in bad:
        index = next(i for i, e in enumerate(batch) if e is event)
        assert reason in by_index[index].reason, (reason, by_index[index].reason)
        assert by_index[index].idempotency_key == event.idempotency_key
    assert await store.query_usage(c, period) == [UsageRow("", 5, 15, 500)]


async def test_unknown_companies_are_rejected_through_the_callback(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    known, unknown = company(), company()
    asked: list[set[str]] = []

    async def company_exists(ids: set[str]) -> set[str]:
        asked.append(ids)
        return ids & {known}

    batch = [make_event(known), make_event(unknown), make_event(known), make_event(unknown)]
    result = await store.record_usage(batch, company_exists)
    assert asked == [{known, unknown}]  # one batched lookup
    assert result.accepted == 2
    assert [(r.index, r.reason) for r in result.rejected] == [
        (1, f"unknown company {unknown}"),
        (3, f"unknown company {unknown}"),
    ]
    assert (await company_totals(store, unknown))["base"] == (0, 0)


async def test_batch_over_the_cap_is_refused_whole(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    c = company()
    event = make_event(c)
    with pytest.raises(InvalidArgument, match="10000"):
        await store.record_usage([event] * 10_001)
    assert (await company_totals(store, c))["base"] == (0, 0)
    assert (await store.record_usage([])).accepted == 0


async def test_response_proto_mirrors_the_result(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    c = company()
    result = await store.record_usage([make_event(c, "dup-" + c), make_event("bad")])
    proto = result.to_proto()
    assert (proto.accepted, proto.duplicates) == (1, 0)
    assert proto.rejected[0].index == 1
    assert proto.rejected[0].reason.startswith("malformed company id")


async def test_aggregates_drift_is_detected_and_rebuilt_from_the_base_table(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    """What a crash inside one INSERT (base part committed, a view's part not) leaves."""
    c = company()
    at = datetime.now(UTC) - timedelta(seconds=5)
    period = period_of(unix_us(at))
    await store.record_usage([make_event(c, at=at, data_points=7) for _ in range(3)])

    def lose_aggregates() -> None:
        store._client.command(
            "ALTER TABLE usage_analytics_hourly DELETE WHERE company_id = {c:String}"
            " SETTINGS mutations_sync = 1",
            parameters={"c": c},
        )

    await store._call(lose_aggregates)
    assert c in await store.aggregates_mismatch(period)
    await store.rebuild_aggregates(period)
    assert await store.aggregates_mismatch(period) == []
    assert await store.query_usage(c, period) == [UsageRow("", 3, 21, 300)]
