"""Waiting for a condition in tests: poll it, bounded, and fail saying what never held.

The conditions live in server objects, stores or files that offer nothing to await,
so polling is the honest way; the bound keeps a broken test from hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

WAIT = 10.0
"""Upper bound of every wait on a condition (generous: the machine is shared)."""


async def eventually(
    condition: Callable[[], Awaitable[bool] | bool],
    what: str = "the condition",
    *,
    within: float = WAIT,
    every: float = 0.01,
) -> None:
    """Poll `condition` (sync or async) until it is true; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(every)
