"""Monthly usage and churn, ticks delivered, and SLA figures from the analytics store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.errors import InvalidArgument
from mesh.tiers import Tier
from servers.storage.analytics import AnalyticsStore, MonthlyUsage
from servers.storage.analytics.sla import HISTOGRAM_BOUNDS_US
from servers.storage.analytics.validation import unix_us
from tests.integration.analytics.conftest import make_event, store_time


def month_start(months_ago: int) -> datetime:
    """The first instant of a month before the current one (well inside every TTL)."""
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 - months_ago
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def period(moment: datetime) -> str:
    """The billing period of an instant."""
    return f"{moment:%Y-%m}"


async def _load_month(store: AnalyticsStore, month: datetime, usage: dict[str, int]) -> None:
    """Record `usage` (company -> data points) mid-month, as if it were that time."""
    at = month.replace(day=15)
    with store_time(store, at + timedelta(hours=1)):
        for company_id, points in usage.items():
            if points:
                result = await store.record_usage(
                    [make_event(company_id, at=at, data_points=points)]
                )
                assert result.accepted == 1, result


async def test_monthly_usage_and_declining_companies(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    falling, flat, rising, silent, gone = (company() for _ in range(5))
    months = [month_start(n) for n in (6, 5, 4)]
    p0, p1, p2 = (period(m) for m in months)
    plan = {
        falling: (300, 200, 150),
        flat: (100, 100, 100),
        rising: (10, 20, 30),
        silent: (300, 0, 50),
        gone: (90, 30, 0),  # no usage at all in the last month: the strongest signal
    }
    for i, month in enumerate(months):
        await _load_month(store, month, {c: p[i] for c, p in plan.items()})

    assert await store.monthly_usage(silent, p2, 4) == [
        MonthlyUsage(period(month_start(7)), 0, 0),
        MonthlyUsage(p0, 1, 300),
        MonthlyUsage(p1, 0, 0),
        MonthlyUsage(p2, 1, 50),
    ]
    declining = {d.company_id: d for d in await store.declining_usage(p2)}
    assert set(declining) & set(plan) == {falling, gone}
    assert declining[falling].data_points == (300, 200, 150)
    assert declining[falling].periods == (p0, p1, p2)
    assert declining[falling].decline_percent == Decimal("50.00")
    assert declining[gone].decline_percent == Decimal("100.00")
    # Over the first two months only, rising and flat are not declining either.
    two = {d.company_id for d in await store.declining_usage(p1, 2)}
    assert two & set(plan) == {falling, silent, gone}
    with pytest.raises(InvalidArgument):
        await store.declining_usage(p2, 1)


async def test_ticks_delivered_counts_only_the_bridge(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    a, b = company(), company()
    at = month_start(2) + timedelta(days=9)
    with store_time(store, at + timedelta(minutes=1)):
        await store.record_usage(
            [
                make_event(a, at=at, service="bridge", data_points=1000),
                make_event(a, at=at, service="bridge", user_id="u2", data_points=500),
                make_event(a, at=at, service="ingestion", endpoint="ListSymbols", data_points=1),
                make_event(b, at=at, service="bridge", data_points=7),
            ]
        )
    delivered = await store.ticks_delivered(period(at))
    assert (delivered[a], delivered[b]) == (1500, 7)
    assert await store.ticks_delivered(period(at), a) == {a: 1500}
    assert await store.ticks_delivered(period(month_start(1)), a) == {}


def _sample(
    company_id: str, tier: int, latency_ms: int, ok: bool, at: datetime
) -> storage_pb2.SlaSample:
    return storage_pb2.SlaSample(
        company_id=company_id,
        tier=tier,  # type: ignore[arg-type]
        service="bridge",
        latency_us=latency_ms * 1000,
        within_target=ok,
        time_us=unix_us(at),
    )


async def test_sla_figures_per_tier_and_company(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    a, b, c = company(), company(), company()
    start = month_start(3) + timedelta(days=1, hours=10)
    # Company a (pro): 1..100 ms over four minutes, 25 a minute; the target is met up to
    # 80 ms, so the fourth minute (76..100 ms) has 5 of 25 within: unavailable.
    samples = [
        _sample(a, tenancy_pb2.TIER_PRO, i, i <= 80, start + timedelta(minutes=(i - 1) // 25))
        for i in range(1, 101)
    ]
    samples += [
        _sample(b, tenancy_pb2.TIER_ENTERPRISE, 5, True, start + timedelta(seconds=s))
        for s in range(10)
    ]
    # Company c (pro) is healthy in that fourth minute, so the pro tier total is not.
    samples += [
        _sample(c, tenancy_pb2.TIER_PRO, 1, True, start + timedelta(minutes=3, seconds=s % 60))
        for s in range(100)
    ]
    with store_time(store, start + timedelta(hours=1)):
        assert await store.record_sla(samples) == (210, 0)

    figures = {(f.tier, f.company_id): f for f in await store.query_sla(period(start))}
    fa = figures[(Tier.PRO, a)]
    assert (fa.samples, fa.within_target) == (100, 80)
    assert (fa.latency_p50_us, fa.latency_p99_us) == (50_000, 100_000)
    assert fa.availability_percent == Decimal("75.0000")
    # 1..100 ms in 1-2-5 buckets: every bucket listed, the last one open (bound 0).
    hist = dict(fa.histogram)
    assert [b for b, _ in fa.histogram] == [*HISTOGRAM_BOUNDS_US, 0]
    assert (hist[1000], hist[2000], hist[5000], hist[10_000]) == (0, 1, 3, 5)
    assert (hist[20_000], hist[50_000], hist[100_000], hist[200_000]) == (10, 30, 50, 1)
    assert sum(hist.values()) == fa.samples
    fb = figures[(Tier.ENTERPRISE, b)]
    assert (fb.samples, fb.latency_p50_us, fb.latency_p99_us) == (10, 5000, 5000)
    assert fb.availability_percent == Decimal("100.0000")
    assert [n for b, n in fb.histogram if n] == [10] and dict(fb.histogram)[10_000] == 10
    assert sum(n for _, n in figures[(Tier.PRO, "")].histogram) == 200  # a's and c's
    pro = figures[(Tier.PRO, "")]
    assert (pro.samples, pro.within_target) == (200, 180)
    assert (pro.latency_p50_us, pro.latency_p99_us) == (1000, 99_000)
    assert pro.availability_percent == Decimal("100.0000")

    only_a = await store.query_sla(period(start), a)
    assert [(f.tier, f.company_id, f.samples) for f in only_a] == [(Tier.PRO, a, 100)]
    assert await store.query_sla(period(month_start(2)), a) == []


async def test_invalid_sla_samples_refuse_the_request(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    a = company()
    now = datetime.now(UTC)
    good = _sample(a, tenancy_pb2.TIER_FREE, 10, True, now)
    bad = [
        _sample("ACME", tenancy_pb2.TIER_FREE, 10, True, now),
        _sample(a, tenancy_pb2.TIER_UNSPECIFIED, 10, True, now),
        _sample(a, tenancy_pb2.TIER_FREE, -1, True, now),
        _sample(a, tenancy_pb2.TIER_FREE, 10, True, now - timedelta(days=60)),
    ]
    with pytest.raises(InvalidArgument) as caught:
        await store.record_sla([good, *bad])
    assert [v.field for v in caught.value.violations] == [f"samples[{i}]" for i in range(1, 5)]
    assert await store.query_sla(f"{now:%Y-%m}", a) == []


def _minute(company_id: str, tier: int, at: datetime, **counts: int) -> storage_pb2.StreamMinute:
    return storage_pb2.StreamMinute(
        company_id=company_id,
        tier=tier,  # type: ignore[arg-type]
        service="bridge",
        minute_us=unix_us(at.replace(second=0, microsecond=0)),
        **counts,
    )


async def test_stream_minutes_add_up_per_minute_beside_the_latency_figures(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    ent, free = company(), company()
    start = month_start(3) + timedelta(days=2, hours=9)
    enterprise, free_tier = tenancy_pb2.TIER_ENTERPRISE, tenancy_pb2.TIER_FREE
    minutes = [
        # Minute 0 in two rows (a Bridge restarted within it): they add up, and the
        # row that saw a view below its target marks the minute.
        _minute(ent, enterprise, start, stream_ms=30_000, available_ms=30_000,
                ticks_delivered=900, live_sources_min=3),
        _minute(ent, enterprise, start, stream_ms=30_000, available_ms=20_000,
                ticks_delivered=90, ticks_skipped=10, gaps=1, live_sources_min=2,
                below_redundancy=True),
        _minute(ent, enterprise, start + timedelta(minutes=1), stream_ms=60_000,
                available_ms=60_000, ticks_delivered=1000, live_sources_min=3),
        # A free tenant with stream minutes but no latency sample at all.
        _minute(free, free_tier, start, stream_ms=60_000, available_ms=60_000,
                ticks_delivered=60, live_sources_min=1),
    ]  # fmt: skip
    samples = [_sample(ent, enterprise, 5, True, start + timedelta(seconds=s)) for s in range(5)]
    with store_time(store, start + timedelta(hours=1)):
        assert await store.record_sla(samples, minutes) == (5, 4)

    figures = {(f.tier, f.company_id): f for f in await store.query_sla(period(start))}
    e = figures[(Tier.ENTERPRISE, ent)]
    assert e.samples == 5 and e.streams is not None
    assert e.streams.stream_minutes == 2
    assert e.streams.completeness_percent == Decimal("99.5000")  # 1990 delivered of 2000 due
    assert e.streams.stream_availability_percent == Decimal("91.6666")  # 110 of 120 s
    assert (e.streams.minutes_below_redundancy, e.streams.live_sources_min) == (1, 2)
    f = figures[(Tier.FREE, free)]
    assert f.samples == 0 and f.streams is not None
    assert (f.streams.stream_minutes, f.streams.completeness_percent) == (1, Decimal("100.0000"))
    assert (f.streams.minutes_below_redundancy, f.streams.live_sources_min) == (0, 1)

    # The company's own query gives the same figures.
    only = await store.query_sla(period(start), ent)
    assert [x.streams for x in only] == [e.streams]


async def test_an_invalid_stream_minute_refuses_the_whole_request(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    a = company()
    now = datetime.now(UTC)
    good = _sample(a, tenancy_pb2.TIER_PRO, 10, True, now)
    bad = [
        _minute(a, tenancy_pb2.TIER_PRO, now, stream_ms=1000, available_ms=2000),
        storage_pb2.StreamMinute(company_id=a, tier=tenancy_pb2.TIER_PRO, service="bridge",
                                 minute_us=unix_us(now)),  # not the start of a minute
    ]  # fmt: skip
    with pytest.raises(InvalidArgument) as caught:
        await store.record_sla([good], bad)
    assert [v.field for v in caught.value.violations] == ["minutes[0]", "minutes[1]"]
    assert await store.query_sla(f"{now:%Y-%m}", a) == []


async def test_held_samples_are_reported_with_their_hold_and_never_judged(
    store: AnalyticsStore, company: Callable[[], str]
) -> None:
    a, b = company(), company()
    start = month_start(3) + timedelta(days=3, hours=8)
    judged = [_sample(a, tenancy_pb2.TIER_PRO, 5, True, start + timedelta(seconds=s))
              for s in range(10)]  # fmt: skip
    held = [
        storage_pb2.SlaSample(
            company_id=company_id, tier=tenancy_pb2.TIER_PRO, service="bridge",
            latency_us=900_000, within_target=False, held=True,
            time_us=unix_us(start + timedelta(seconds=s)),
        )
        for company_id in (a, b)
        for s in range(10)
    ]  # fmt: skip
    with store_time(store, start + timedelta(hours=1)):
        assert await store.record_sla(judged + held) == (30, 0)
    figures = {(f.tier, f.company_id): f for f in await store.query_sla(period(start))}
    fa = figures[(Tier.PRO, a)]
    # The 900 ms holds are the throttle's interval, sold as such: availability stays 100.
    assert (fa.samples, fa.within_target, fa.held_samples) == (10, 10, 10)
    assert (fa.latency_p50_us, fa.latency_p99_us) == (5_000, 5_000)
    assert fa.availability_percent == Decimal("100.0000") and fa.minutes_missed == 0
    assert (fa.latency_with_hold_p50_us, fa.latency_with_hold_p99_us) == (5_000, 900_000)
    fb = figures[(Tier.PRO, b)]  # held samples only: nothing judged, nothing missed
    assert (fb.samples, fb.held_samples, fb.minutes) == (0, 10, 0)
    assert fb.availability_percent == Decimal("100.0000")
    assert fb.histogram == ()  # held samples are not judged, so not in the histogram

    with pytest.raises(InvalidArgument):  # a held sample claiming to meet the target
        bad = storage_pb2.SlaSample()
        bad.CopyFrom(held[0])
        bad.within_target = True
        await store.record_sla([bad])
