"""Fixtures for the analytics store: one embedded chDB store for the whole package."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from tickmesh.common.v1 import tenancy_pb2

from servers.storage.analytics import AnalyticsStore, open_analytics
from servers.storage.analytics.validation import period_of, unix_us

EventFactory = Callable[..., tenancy_pb2.UsageEvent]


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AnalyticsStore]:
    """The store. chDB opens one data directory per process, so every test shares it
    (with its own company ids), and it is closed when this package is done so another
    package may open its own directory."""
    opened = await open_analytics(None, tmp_path_factory.mktemp("analytics"))
    yield opened
    await opened.close()


@pytest.fixture
def company() -> Callable[[], str]:
    """A factory of fresh company ids, so tests never see each other's rows."""
    return lambda: secrets.token_hex(6)


@contextmanager
def store_time(store: AnalyticsStore, moment: datetime) -> Iterator[None]:
    """Run the store's clock at `moment` (to load months older than the accept window)."""
    saved = store.clock
    store.clock = lambda: moment
    try:
        yield
    finally:
        store.clock = saved


def make_event(
    company_id: str,
    key: str | None = None,
    *,
    at: datetime | None = None,
    user_id: str = "user-1",
    tier: int = tenancy_pb2.TIER_PRO,
    service: str = "bridge",
    endpoint: str = "Subscribe",
    data_points: int = 10,
    processing_time_us: int = 100,
    billing_period: str | None = None,
) -> tenancy_pb2.UsageEvent:
    """A valid usage event unless told otherwise (now, pro, bridge/Subscribe)."""
    moment = at or datetime.now(UTC) - timedelta(seconds=1)
    return tenancy_pb2.UsageEvent(
        idempotency_key=key or f"test:{secrets.token_hex(8)}",
        company_id=company_id,
        user_id=user_id,
        tier=tier,  # type: ignore[arg-type]
        service=service,
        endpoint=endpoint,
        data_points=data_points,
        processing_time_us=processing_time_us,
        event_time_us=unix_us(moment),
        billing_period=billing_period if billing_period is not None else period_of(unix_us(moment)),
    )


async def company_totals(store: AnalyticsStore, company_id: str) -> dict[str, tuple[int, int]]:
    """(events, data_points) of a company in the base table and in both aggregates."""
    base = "SELECT count(), sum(data_points) FROM usage_tracking WHERE company_id = {c:String}"
    hourly = (
        "SELECT sum(events), sum(data_points) FROM usage_analytics_hourly"
        " WHERE company_id = {c:String}"
    )
    monthly = (
        "SELECT sum(events), sum(data_points) FROM billing_monthly WHERE company_id = {c:String}"
    )
    out = {}
    for name, sql in (("base", base), ("hourly", hourly), ("monthly", monthly)):
        ((events, points),) = await store.query(sql, {"c": company_id})
        out[name] = (int(events), int(points))
    return out
