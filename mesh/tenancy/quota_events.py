"""The company's webhooks hear when its daily calls reach 80 % and when they run out.

The quota counter is one atomic INCRBY in Redis, so exactly one call in the whole mesh
sees its count step over each threshold: that call's process reports the event to
Storage (EmitEvent), in the background so the call is not delayed. The report is retried
for a while if Storage is away, and carries a dedupe key per company, threshold and day,
so a retried report is still one event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from tickmesh.storage.v1 import storage_pb2

from mesh.backoff import Backoff
from mesh.lifecycle import cancel
from mesh.logging import error_fields
from mesh.tenancy.quota import NEAR_LIMIT_PERCENT, CallQuota

log = logging.getLogger(__name__)

WARNING, EXHAUSTED = "quota.warning", "quota.exhausted"
ATTEMPTS = 6
RETRY = Backoff(initial_s=0.5, max_s=8.0, jitter=0.2)

Send = Callable[[storage_pb2.EmitEventRequest], Awaitable[object]]


def crossed(quota: CallQuota, cost: int = 1) -> list[str]:
    """The thresholds this counted call stepped over: [] for nearly every call."""
    limit = quota.limit
    if not quota.allowed or limit is None:
        return []
    before = quota.used - cost
    warning = math.ceil(limit * NEAR_LIMIT_PERCENT / 100)
    return [
        kind for kind, at in ((WARNING, warning), (EXHAUSTED, limit)) if before < at <= quota.used
    ]


def event_request(kind: str, quota: CallQuota) -> storage_pb2.EmitEventRequest:
    """The report of `kind` for the quota day `quota` was counted in."""
    resets = datetime.fromtimestamp(quota.reset_at, UTC)
    day = datetime.fromtimestamp(quota.reset_at - 1, UTC).strftime("%Y-%m-%d")
    data = {
        "tier": quota.tier.value, "limit": quota.limit, "used": quota.used, "day": day,
        "resets_at": resets.isoformat(),
    }  # fmt: skip
    return storage_pb2.EmitEventRequest(
        company_id=quota.company_id, type=kind, data_json=json.dumps(data),
        dedupe_key=f"{kind}:{quota.company_id}:{day}",
    )  # fmt: skip


class QuotaEvents:
    """Reports threshold crossings (see the module docstring)."""

    def __init__(self, send: Send, *, attempts: int = ATTEMPTS, backoff: Backoff = RETRY) -> None:
        self._send = send
        self._attempts = attempts
        self._backoff = backoff
        self._pending: set[asyncio.Task[None]] = set()

    def observe(self, quota: CallQuota, cost: int = 1) -> None:
        """Called with every counted call's quota; reports what it crossed."""
        for kind in crossed(quota, cost):
            task = asyncio.create_task(self._report(event_request(kind, quota)))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _report(self, request: storage_pb2.EmitEventRequest) -> None:
        for attempt in range(self._attempts):
            try:
                await self._send(request)
                return
            except Exception as exc:
                if attempt + 1 == self._attempts:
                    log.warning("could not report %s for company %s", request.type,
                                request.company_id, extra=error_fields(exc))  # fmt: skip
                    return
            await asyncio.sleep(self._backoff.delay(attempt))  # retry backoff, by design

    async def drain(self, timeout_s: float = 2.0) -> None:
        """Give reports in flight a moment to land, then cancel the rest."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout_s)
        await cancel(*self._pending)
