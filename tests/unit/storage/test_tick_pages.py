"""tick_pages: every tick of a range exactly once, in order, with each query bounded."""

from __future__ import annotations

import asyncio
import bisect
import random

import pytest

from servers.storage.analytics.market import TickPage
from servers.storage.analytics.tick_pages import MIN_SPAN_US, tick_pages

SECOND = 1_000_000
Tick = tuple[int, int]  # (ingest time, sequence), the table's order


class Table:
    """What MarketStore.tick_page answers, over a list of ticks; records each query."""

    def __init__(self, ticks: list[Tick], start: int, limit: int) -> None:
        self.ticks = sorted(ticks)
        self.start = start
        self.limit = limit
        self.queries: list[tuple[int, Tick | None]] = []

    async def read(self, high: int, after: Tick | None) -> TickPage:
        self.queries.append((high, after))
        await asyncio.sleep(0)  # a real read yields to the loop
        first = bisect.bisect_right(self.ticks, after or (self.start, -1))
        rows = [t for t in self.ticks[first : first + self.limit] if t[0] < high]
        if not rows:
            return TickPage(b"", 0, 0, 0)
        batch = ",".join(str(seq) for _, seq in rows).encode()
        return TickPage(batch, len(rows), rows[-1][0], rows[-1][1])


async def read_all(table: Table, end: int) -> list[int]:
    got: list[int] = []
    async for page in tick_pages(table.read, table.start, end, table.limit):
        assert page.count == len(page.batch.split(b","))
        got.extend(int(seq) for seq in page.batch.split(b","))
    return got


def expected(table: Table, end: int) -> list[int]:
    return [seq for time, seq in table.ticks if table.start <= time < end]


async def test_a_steady_feed_is_read_in_windows_of_about_two_pages() -> None:
    ticks = [(1000 * SECOND + n * 10_000, n + 1) for n in range(5_000)]  # 100 a second
    table = Table(ticks, start=1000 * SECOND, limit=500)
    end = 2000 * SECOND
    assert await read_all(table, end) == expected(table, end)
    # The first query is unbounded; each after a full page ends about two pages (10 s)
    # later; past the last tick, wider windows (4x) reach the end in a few queries.
    assert table.queries[0] == (end, None)
    for high, after in table.queries[1:10]:
        assert after is not None
        assert high - after[0] <= 2 * 5 * SECOND + MIN_SPAN_US
    assert len(table.queries) <= 5_000 // 500 + 5


@pytest.mark.parametrize("seed", range(5))
async def test_bursts_gaps_and_shared_timestamps_lose_and_repeat_nothing(seed: int) -> None:
    rng = random.Random(seed)
    ticks: list[Tick] = []
    time, seq = 0, 0
    for _ in range(40):  # bursts of ticks on one microsecond, steady runs, long silences
        kind = rng.choice(("burst", "steady", "silence"))
        if kind == "burst":
            for _ in range(rng.randint(1, 1200)):
                seq += 1
                ticks.append((time, seq))
        elif kind == "steady":
            for _ in range(rng.randint(1, 800)):
                time += rng.randint(1, 5_000)
                seq += 1
                ticks.append((time, seq))
        else:
            time += rng.randint(SECOND, 86_400 * SECOND)
    table = Table(ticks, start=rng.randint(0, 10), limit=rng.choice((1, 7, 100, 1000)))
    end = time + rng.choice((0, 1, SECOND))
    assert await read_all(table, end) == expected(table, end)


async def test_an_empty_range_is_one_query() -> None:
    table = Table([(5 * SECOND, 1)], start=0, limit=10)
    assert await read_all(table, 5 * SECOND) == []
    assert table.queries == [(5 * SECOND, None)]


async def test_closing_early_cancels_the_read_ahead() -> None:
    ticks = [(n * SECOND, n + 1) for n in range(100)]
    started = asyncio.Event()
    cancelled = asyncio.Event()
    table = Table(ticks, start=0, limit=10)

    async def slow_read(high: int, after: Tick | None) -> TickPage:
        if after is None:
            return await table.read(high, after)
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    pages = tick_pages(slow_read, 0, 200 * SECOND, 10)
    first = await anext(pages)
    assert first.count == 10
    await asyncio.wait_for(started.wait(), 5)
    await pages.aclose()
    assert cancelled.is_set()
