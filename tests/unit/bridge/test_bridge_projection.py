"""Projection: each tier gets exactly its features' fields; projections are shared."""

from __future__ import annotations

import pytest
from tickmesh.common.v1 import market_pb2

from mesh.tiers import Tier
from mesh.wire import TICK_DELIVERY_FIELDS
from servers.bridge.projection import BatchView, tier_fields
from tests.unit.bridge.helpers import tick

BASIC = {"symbol", "bid", "ask", "broker", "broker_time_us", "ingest_time_us", "sequence"}
PRO = BASIC | {"spread_pips", "quality_score"}
# Every field a producer sets (the Bridge adds the delivery fields after projecting).
ALL = {f.name for f in market_pb2.Tick.DESCRIPTOR.fields} - TICK_DELIVERY_FIELDS


def _set_fields(encoded: bytes) -> set[str]:
    batch = market_pb2.TickBatch.FromString(encoded)
    (only,) = batch.ticks
    return {field.name for field, _ in only.ListFields()}


@pytest.mark.parametrize(("tier", "fields"), [(Tier.FREE, BASIC), (Tier.PRO, PRO),
                                               (Tier.ENTERPRISE, ALL)])  # fmt: skip
def test_each_tier_receives_exactly_its_fields(tier: Tier, fields: set[str]) -> None:
    assert tier_fields(tier) == fields
    original = tick("EURUSD", 42)
    assert {f.name for f, _ in original.ListFields()} == ALL  # the helper sets every field
    seq, symbol, encoded = BatchView([original], 42, 42).latest_entry("EURUSD", tier)
    assert (seq, symbol) == (42, "EURUSD")
    assert _set_fields(encoded) == fields
    projected = market_pb2.TickBatch.FromString(encoded).ticks[0]
    for name in fields - {"broker_quotes"}:
        assert getattr(projected, name) == getattr(original, name)


def test_enterprise_keeps_broker_quotes_and_ask_broker() -> None:
    original = tick("EURUSD", 1)
    _, _, encoded = BatchView([original], 1, 1).latest_entry("EURUSD", Tier.ENTERPRISE)
    assert market_pb2.TickBatch.FromString(encoded).ticks[0] == original


def test_latest_tick_per_symbol_and_projection_cached_per_tier() -> None:
    batch = BatchView([tick("EURUSD", 1), tick("GBPUSD", 2), tick("EURUSD", 3)], 1, 3)
    assert batch.latest[Tier.FREE] == {"EURUSD": 2, "GBPUSD": 1}
    free = batch.projected(Tier.FREE)
    assert batch.projected(Tier.FREE) is free  # one projection per (tier, batch)
    assert free.entry(2) is free.entry(2)  # serialized once, shared by every subscriber
    assert batch.projected(Tier.PRO) is not free
