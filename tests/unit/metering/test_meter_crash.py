"""UsageMeter killed without stop(): recovery spools exactly what was counted, once."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
from tickmesh.storage.v1 import storage_pb2

from mesh.metering import Spool, UsageMeter
from mesh.tiers import Tier
from tests.unit.metering.test_meter import C1, C2, FakeStorage

# Counts 1,000 calls and 5,000 ticks, spools part of them, counts more, then SIGKILLs
# itself: no stop(), no flush of the rest.
_CHILD = """
import asyncio, os, signal, sys
from pathlib import Path
from mesh.metering import Spool, UsageMeter
from mesh.tiers import Tier

async def never(request):
    raise ConnectionError("storage down")

meter = UsageMeter("bridge", Spool(Path(sys.argv[1])), never, flush_interval_s=3600)
ticks = meter.counter("aaaaaaaaaaaa", "u1", Tier.PRO, "bridge", "ticks")
for i in range(1000):
    meter.add("aaaaaaaaaaaa", "u1", Tier.PRO, "bridge", "GetUsage", 1, 7)
    ticks.add(5)
    if i == 400:
        asyncio.run(meter.flush())
os.kill(os.getpid(), signal.SIGKILL)
"""


def _totals(storage: FakeStorage) -> dict[str, tuple[int, int]]:
    """endpoint -> (data points, processing time) over distinct idempotency keys."""
    seen: dict[str, tuple[str, int, int]] = {}
    for request in storage.requests:
        for e in request.events:
            seen[e.idempotency_key] = (e.endpoint, e.data_points, e.processing_time_us)
    totals: dict[str, tuple[int, int]] = {}
    for endpoint, points, spent in seen.values():
        p, t = totals.get(endpoint, (0, 0))
        totals[endpoint] = (p + points, t + spent)
    return totals


def _reopen(path: Path, storage: FakeStorage) -> UsageMeter:
    return UsageMeter("bridge", Spool(path), storage, flush_interval_s=3600, retry_initial_s=0.001)


async def _deliver(meter: UsageMeter) -> None:
    meter.start()
    assert await meter.stop()


async def test_a_sigkilled_process_loses_and_doubles_nothing(tmp_path: Path) -> None:
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", _CHILD, str(tmp_path))
    assert await child.wait() == -signal.SIGKILL
    storage = FakeStorage()
    meter = _reopen(tmp_path, storage)
    # Recovered before anything else, so what GetUsage reports spans the kill.
    assert list(meter.ledger.earlier("bridge", "ticks").values()) == [5000]
    await _deliver(meter)
    assert _totals(storage) == {"GetUsage": (1000, 7000), "ticks": (5000, 0)}
    # Once more: nothing left to recover, nothing sent twice.
    again = FakeStorage()
    await _deliver(_reopen(tmp_path, again))
    assert again.requests == []


async def test_killed_between_spooling_and_sending_resends_the_batch_only(tmp_path: Path) -> None:
    storage = FakeStorage()
    meter = _reopen(tmp_path, storage)
    meter.add(C1, "u1", Tier.PRO, "bridge", "GetUsage", 3)
    assert await meter.flush() == 1
    meter.add(C2, "u2", Tier.FREE, "bridge", "GetUsage", 2)
    await meter.abort()  # as SIGKILL: the batch spooled, not sent; 2 counted, not spooled
    second = _reopen(tmp_path, storage)
    await _deliver(second)
    assert _totals(storage) == {"GetUsage": (5, 0)}
    assert sum(len(r.events) for r in storage.requests) == 2


async def test_a_recovery_killed_before_spooling_repeats_with_the_same_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter = _reopen(tmp_path, FakeStorage())
    meter.counter(C1, "u1", Tier.PRO, "bridge", "ticks").add(40)
    await meter.abort()

    attempted: list[str] = []

    def crash(self: Spool, payload: bytes, marks: object = None) -> int:
        request = storage_pb2.RecordUsageRequest.FromString(payload)
        attempted.extend(e.idempotency_key for e in request.events)
        raise OSError("killed mid-recovery")

    with monkeypatch.context() as patch:
        patch.setattr(Spool, "append", crash)
        spool = Spool(tmp_path)
        with pytest.raises(OSError):
            UsageMeter("bridge", spool, FakeStorage())
        spool.close()
    assert attempted
    storage = FakeStorage()
    recovering = _reopen(tmp_path, storage)
    await recovering.abort()  # killed after spooling the recovery: it must not repeat
    await _deliver(_reopen(tmp_path, storage))
    assert _totals(storage) == {"ticks": (40, 0)}
    assert [e.idempotency_key for r in storage.requests for e in r.events] == attempted
