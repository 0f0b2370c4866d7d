"""Moves what the Bridge delivered into the usage meter, one drain a second.

The sessions count delivered ticks in the UsageCounter on the hot path (a dict
add, no I/O); this pump drains those counts and hands them to the process's
UsageMeter, which spools them durably and sends them to Storage.RecordUsage
with stable idempotency keys (its ledger then knows what Storage acknowledged).
A drain is handed over in one synchronous step, so a tick is counted in exactly
one drain.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from mesh.metering.meter import UsageMeter
from mesh.metering.vocabulary import TICK_ENDPOINT, TICK_SERVICE
from servers.bridge.usage_counter import UsageCounter


def _last_instant_us(period: str) -> int:
    """The last microsecond of billing period `period` ("YYYY-MM"), in unix microseconds."""
    year, month = map(int, period.split("-"))
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return int(end.timestamp() * 1_000_000) - 1


class UsagePump:
    """Drains delivered-tick counts into the meter every `interval_s`, and on stop."""

    def __init__(self, usage: UsageCounter, meter: UsageMeter, interval_s: float = 1.0) -> None:
        self._usage = usage
        self._meter = meter
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def pump(self) -> int:
        """Hand every delta counted so far to the meter; returns the ticks handed over."""
        drained = self._usage.drain()
        current = self._usage.current_period()
        ticks = 0
        for (period, key), counts in drained.deltas.items():
            if not counts.ticks:
                continue
            # Usage of a period that just ended stays in that period.
            at_us = None if period == current else _last_instant_us(period)
            self._meter.add(
                key.company_id,
                key.user_id,
                key.tier,
                TICK_SERVICE,
                TICK_ENDPOINT,
                counts.ticks,
                at_us=at_us,
            )
            ticks += counts.ticks
        return ticks

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="bridge-usage-pump")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)  # a periodic drain, by design
            self.pump()

    async def stop(self) -> None:
        """Stop and hand over the last counts (the meter flushes them when it stops)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.pump()
