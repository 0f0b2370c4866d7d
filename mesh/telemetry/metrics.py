"""The mesh's business metrics: ticks delivered, quota refusals, open streams, latency.

Hooks are called on hot paths (once per delivered Subscribe message), so with telemetry
off they are a method call that does nothing, and when on they add to plain per-tier
counts that the observable instruments report when a reader collects.
"""

from __future__ import annotations

import time

from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Meter, Observation
from tickmesh.common.v1 import market_pb2

from mesh.tiers import Tier

LATENCY_BUCKETS_MS = (1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0,
                      5000.0, 10000.0)  # fmt: skip
"""Around the tiers' latency targets (10, 100 and 1000 ms)."""

LATENCY_SAMPLE_S = 0.01
"""At most one latency sample per tier this often (100 a second)."""


class TierMetrics:
    """The Bridge's hooks for one tier; this base records nothing (telemetry off)."""

    __slots__ = ()

    def delivered(self, ticks: int, last_tick: bytes) -> None:
        """A Subscribe message carrying `ticks` ticks was sent; `last_tick` is its newest
        tick as a one-tick TickBatch encoding (b"" when there is none to time)."""

    def stream_opened(self) -> None:
        """A Subscribe stream of this tier opened."""

    def stream_closed(self) -> None:
        """A Subscribe stream of this tier closed."""


NOOP = TierMetrics()


class _Recording(TierMetrics):
    # Plain counts, read by the observable instruments when a reader collects: the SDK's
    # synchronous add() costs ~4 us a call here, an int increment ~0.05 us.
    __slots__ = ("_latency", "_next_sample", "attributes", "streams", "ticks")

    def __init__(self, tier: str, latency: Histogram) -> None:
        self.attributes = {"tier": tier}
        self.ticks = 0
        self.streams = 0
        self._latency = latency
        self._next_sample = 0.0

    def delivered(self, ticks: int, last_tick: bytes) -> None:
        if not ticks:
            return  # acks without a snapshot, heartbeats, gap notices
        self.ticks += ticks
        if not last_tick:
            return
        # A histogram sample costs ~4 us in the SDK: time at most one message per tier per
        # LATENCY_SAMPLE_S, so the cost stays bounded however many messages go out.
        now = time.monotonic()
        if now < self._next_sample:
            return
        self._next_sample = now + LATENCY_SAMPLE_S
        # The message's newest tick: its other ticks are older still.
        ingest_us = market_pb2.TickBatch.FromString(last_tick).ticks[0].ingest_time_us
        if ingest_us > 0:
            latency_ms = (time.time_ns() // 1000 - ingest_us) / 1000
            self._latency.record(max(latency_ms, 0.0), self.attributes)

    def stream_opened(self) -> None:
        self.streams += 1

    def stream_closed(self) -> None:
        self.streams -= 1


class Instruments:
    """The instruments on one meter, and the per-tier hooks feeding them."""

    def __init__(self, meter: Meter) -> None:
        self.quota_refusals: Counter = meter.create_counter(
            "tickmesh.quota.refusals", unit="{call}", description="Calls refused by a quota"
        )
        latency = meter.create_histogram(
            "tickmesh.delivery.latency",
            unit="ms",
            description="From a tick's ingestion to the Subscribe message carrying it being sent",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_MS,
        )
        # Every tier up front: the reader's thread then iterates a dict nobody changes.
        self._tiers = {tier.value: _Recording(tier.value, latency) for tier in Tier}
        # Reported once taken: a service without streams exports no zero series.
        self._used: dict[str, _Recording] = {}
        meter.create_observable_counter(
            "tickmesh.ticks.delivered",
            callbacks=[self._observe_ticks],
            unit="{tick}",
            description="Ticks sent to subscribers",
        )
        meter.create_observable_up_down_counter(
            "tickmesh.streams.open",
            callbacks=[self._observe_streams],
            unit="{stream}",
            description="Open Subscribe streams",
        )

    def tier(self, tier: str) -> TierMetrics:
        """The hooks of `tier` (no-ops for a tier the catalog does not know)."""
        hooks = self._tiers.get(tier)
        if hooks is None:
            return NOOP
        self._used[tier] = hooks
        return hooks

    def _observe_ticks(self, options: CallbackOptions) -> list[Observation]:
        # A copy: the event loop's thread may add a tier while the reader's thread reads.
        return [Observation(t.ticks, t.attributes) for t in list(self._used.values())]

    def _observe_streams(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(t.streams, t.attributes) for t in list(self._used.values())]


_active: Instruments | None = None


def activate(meter: Meter) -> None:
    """Record from now on, on `meter` (the telemetry pipeline calls this)."""
    global _active
    _active = Instruments(meter)


def deactivate() -> None:
    """Stop recording: hooks taken from now on are no-ops."""
    global _active
    _active = None


def tier_metrics(tier: str) -> TierMetrics:
    """The hooks of `tier`: take them once per stream (they are no-ops when off)."""
    active = _active
    return NOOP if active is None else active.tier(str(tier))


def quota_refused(tier: str, quota: str) -> None:
    """Count a call refused by `quota` (`daily_api_calls`, `concurrent_streams`)."""
    active = _active
    if active is not None:
        active.quota_refusals.add(1, {"tier": str(tier), "quota": quota})
