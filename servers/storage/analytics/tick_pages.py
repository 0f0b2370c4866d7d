"""A long range of one symbol's ticks, page after page, each page's query bounded in time.

A page is `ORDER BY time, sequence LIMIT n` from a cursor. ClickHouse reads it in index
order, but from every part between the cursor and the range's end (a block from each
before the first row comes out): over a quarter, 11 parts, a page of 10,000 ticks cost
~20 ms, and ~10 ms bounded to the next week. So every page after the first is bounded to
a window of twice the time the last full page spanned (the density just seen); a window
that comes back short is followed by one four times wider from where it ended, so
sparse stretches cost a few cheap queries, never a missed tick.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from mesh.lifecycle import cancel
from servers.storage.analytics.market import TickPage

ReadPage = Callable[[int, tuple[int, int] | None], Awaitable[TickPage]]
"""Reads the page after a cursor ((ingest time, sequence), None: from the start) up to
an end time (exclusive), at most the pager's limit."""

MIN_SPAN_US = 1_000_000
"""The narrowest window: pages of ticks that share a timestamp still move on."""


async def tick_pages(
    read: ReadPage, start_us: int, end_us: int, limit: int
) -> AsyncIterator[TickPage]:
    """Every non-empty page in [start_us, end_us), oldest first. The next page is read
    while the caller handles this one (queries run on a thread of their own)."""
    after: tuple[int, int] | None = None
    low = start_us  # nothing before this is left to read
    high = end_us  # the first page: no density known yet, so no bound
    pending: asyncio.Future[TickPage] | None = asyncio.ensure_future(read(high, after))
    try:
        while pending is not None:
            page = await pending
            pending = None
            if page.count == limit:  # more may follow: a window twice this page's span
                span = max(MIN_SPAN_US, 2 * (page.last_time_us - low))
                after, low = (page.last_time_us, page.last_seq), page.last_time_us
                high = min(end_us, low + span)
                pending = asyncio.ensure_future(read(high, after))
            elif high < end_us:  # the window ran out before the page filled: widen it
                if page.count:
                    after = (page.last_time_us, page.last_seq)
                span = max(MIN_SPAN_US, 4 * (high - low))
                low, high = high, min(end_us, high + span)
                pending = asyncio.ensure_future(read(high, after))
            if page.count:
                yield page
    finally:
        await cancel(pending)
