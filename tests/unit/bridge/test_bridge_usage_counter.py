"""Usage counters: drained exactly once, restorable; delivered and recorded across restarts."""

from __future__ import annotations

from datetime import UTC, datetime

from tickmesh.common.v1 import tenancy_pb2

from mesh.metering.ledger import UsageLedger
from mesh.tiers import Tier
from servers.bridge.usage_counter import UsageCounter, UsageCounts, UsageKey

A = UsageKey("c1", "u1", Tier.PRO)
B = UsageKey("c1", "u2", Tier.PRO)
MARCH = datetime(2030, 3, 31, 23, 59, 59, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_drain_returns_deltas_once_and_resets() -> None:
    usage = UsageCounter(Clock(MARCH))
    usage.add(A, ticks=10, messages=2)
    usage.add(A, ticks=5, messages=1, skipped=3)
    usage.add(B, ticks=1, messages=1)
    first = usage.drain()
    assert first.deltas == {
        ("2030-03", A): UsageCounts(15, 3, 3),
        ("2030-03", B): UsageCounts(1, 1, 0),
    }
    assert usage.drain().empty  # nothing counted twice
    usage.add(A, ticks=7, messages=1)
    second = usage.drain()
    assert second.deltas == {("2030-03", A): UsageCounts(7, 1, 0)}
    assert first.drain_id != second.drain_id


def test_restore_puts_a_failed_drain_back_without_losing_newer_counts() -> None:
    usage = UsageCounter(Clock(MARCH))
    usage.add(A, ticks=10, messages=1)
    failed = usage.drain()
    usage.add(A, ticks=1, messages=1)  # counted while the flush was failing
    usage.restore(failed)
    assert usage.drain().deltas == {("2030-03", A): UsageCounts(11, 2, 0)}


def _ticks(company: str, points: int, key: str) -> tenancy_pb2.UsageEvent:
    return tenancy_pb2.UsageEvent(
        idempotency_key=key, company_id=company, service="bridge", endpoint="ticks",
        data_points=points, billing_period="2030-03",
    )  # fmt: skip


def test_delivered_starts_from_earlier_runs_and_recorded_is_what_storage_acknowledged() -> None:
    # What an earlier run of this Bridge metered: 20 acknowledged, 5 still in the spool.
    ledger = UsageLedger.restore(
        None, [([_ticks("c1", 20, "k1")], set())], [[_ticks("c1", 5, "k2")]]
    )
    usage = UsageCounter(Clock(MARCH), ledger=ledger)
    assert usage.company_usage("c1", "2030-03") == (25, 20)
    usage.add(A, ticks=10, messages=1)
    usage.add(B, ticks=5, messages=1)
    usage.drain()  # handed to the meter: not yet acknowledged
    assert usage.company_usage("c1", "2030-03") == (40, 20)
    ledger.spooled([_ticks("c1", 15, "k3")])
    ledger.settled([_ticks("c1", 5, "k2"), _ticks("c1", 15, "k3")], refused=set())
    assert usage.company_usage("c1", "2030-03") == (40, 40)
    assert usage.company_usage("other", "2030-03") == (0, 0)


def test_counts_land_in_the_period_they_happened() -> None:
    clock = Clock(MARCH)
    usage = UsageCounter(clock)
    usage.add(A, ticks=1, messages=1)
    clock.now += 2  # across midnight into April (UTC)
    usage.add(A, ticks=2, messages=1)
    assert usage.current_period() == "2030-04"
    assert usage.drain().deltas == {
        ("2030-03", A): UsageCounts(1, 1, 0),
        ("2030-04", A): UsageCounts(2, 1, 0),
    }
    assert usage.company_usage("c1", "2030-03") == (1, 0)
    assert usage.company_usage("c1", "2030-04") == (2, 0)


def test_december_rolls_into_january() -> None:
    clock = Clock(datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
    usage = UsageCounter(clock)
    assert usage.current_period() == "2030-12"
    clock.now += 2
    assert usage.current_period() == "2031-01"
