"""A service's lifecycle parts: started in order, drained when a stop begins, stopped in reverse.

A part is whatever a service runs besides its handlers: a store it opened, a background
task, an upstream stream. Each says what to do at three moments. A part added without a
`start` is running from the moment it is added (a store opened while the service was
built), so a build that fails half-way closes exactly what it had opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None] | None]
"""A lifecycle hook, plain or async."""


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of a service's lifecycle; every hook is optional."""

    name: str
    """Named in logs when a hook fails."""

    start: Hook | None = None
    """Runs once the server listens and before it reports SERVING; may wait for readiness
    (an upstream answering). None: the part runs already."""

    drain: Callable[[], None] | None = None
    """Runs when a stop begins, before the grace period: end long-lived streams, so the
    grace period is not spent waiting for streams that never end by themselves."""

    stop: Hook | None = None
    """Runs after the server stopped serving: flush, close, release."""


def background(name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> Part:
    """A part that runs `run()` as a task from start until stop (which cancels it)."""
    task: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal task
        task = asyncio.create_task(run(), name=name)

    async def stop() -> None:
        await cancel(task)

    return Part(name, start=start, stop=stop)


async def cancel(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel `tasks` (None is skipped) and wait until each has ended."""
    live = [task for task in tasks if task is not None]
    for task in live:
        task.cancel()
    for task in live:
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Lifecycle:
    """The ordered parts of one service."""

    def __init__(self) -> None:
        self._parts: list[Part] = []
        self._running: list[Part] = []

    def add(self, part: Part) -> Part:
        """Append `part`; one without a start counts as running from now on."""
        self._parts.append(part)
        if part.start is None:
            self._running.append(part)
        return part

    async def start(self) -> None:
        """Start every part not yet started, in order. When one fails, the parts running
        are stopped (in reverse) and the error is raised."""
        for part in self._parts:
            if part in self._running:
                continue
            assert part.start is not None
            try:
                await _call(part.start)
            except BaseException:
                await self.stop()
                raise
            self._running.append(part)

    def drain(self) -> None:
        """Tell every running part that a stop has begun (latest first)."""
        for part in reversed(self._running):
            if part.drain is not None:
                try:
                    part.drain()
                except Exception:
                    _log.exception("draining %s failed", part.name)

    async def stop(self) -> None:
        """Stop every running part, latest first; one failing does not keep the others
        from stopping. Safe to call more than once."""
        while self._running:
            part = self._running.pop()
            if part.stop is None:
                continue
            try:
                await _call(part.stop)
            except Exception:
                _log.exception("stopping %s failed", part.name)


async def _call(hook: Hook) -> None:
    result = hook()
    if inspect.isawaitable(result):
        await result
