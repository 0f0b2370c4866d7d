"""Listing companies with their tiers in one query: the same companies, order and tiers as
listing them and reading each subscription, page by page."""

from __future__ import annotations

from servers.storage.relational import companies, subscriptions
from servers.storage.relational.engine import RelationalStore
from tests.integration.storage.conftest import T0


async def test_pages_match_the_companies_and_their_subscriptions(
    store: RelationalStore,
) -> None:
    for tier in ("free", "pro", "enterprise"):
        await companies.create_company(store, "Paged Ltd.", tier, now=T0)
    expected = [
        (c, (await subscriptions.get_subscription(store, c.id)).tier)
        for c in await companies.list_companies(store)
    ]
    listed, offset, more = [], 0, True
    while more:
        page, more = await companies.list_companies_with_tiers(store, offset=offset, limit=2)
        assert len(page) == 2 or not more
        listed += page
        offset += 2
    assert listed == expected


async def test_past_the_end_is_an_empty_last_page(store: RelationalStore) -> None:
    count = len(await companies.list_companies(store))
    assert await companies.list_companies_with_tiers(store, offset=count, limit=5) == ([], False)
    huge = await companies.list_companies_with_tiers(store, offset=10**30, limit=5)
    assert huge == ([], False)
