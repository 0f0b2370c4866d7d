"""Tier projection of ticks, cached once per (tier, upstream batch) as serialized bytes.

A tier's fields follow from its features in the catalog (mesh.tiers), so a tier can
never receive a field its features do not name. Each projected tick is kept as an
Entry (sequence, symbol, encoding) shared by every subscriber of that tier: 1,000 free
subscribers cost one projection and one serialization per tick, not 1,000.
"""

from __future__ import annotations

from collections.abc import Sequence

from tickmesh.common.v1 import market_pb2

from mesh.tiers import Feature, Tier, limits
from mesh.wire import TICK_DELIVERY_FIELDS, tick_field

Entry = tuple[int, str, bytes]
"""A projected tick: (sequence, symbol, its encoding as one TickBatch.ticks entry)."""

FIELDS_BY_FEATURE: dict[Feature, tuple[str, ...]] = {
    Feature.BASIC_PRICE: (
        "symbol", "bid", "ask", "broker", "broker_time_us", "ingest_time_us", "sequence",
    ),
    Feature.SPREAD_ANALYSIS: ("spread_pips",),
    Feature.QUALITY_SCORE: ("quality_score",),
    Feature.LIQUIDITY: ("liquidity_score",),
    # Which tiers' views share the price: comparison across tiers' sources.
    Feature.BROKER_COMPARISON: ("broker_quotes", "ask_broker", "views"),
}  # fmt: skip

# What a producer's tick carries (the Bridge adds the delivery fields after projecting).
_TICK_FIELDS = {
    name: field
    for name, field in market_pb2.Tick.DESCRIPTOR.fields_by_name.items()
    if name not in TICK_DELIVERY_FIELDS
}


def tier_fields(tier: Tier) -> frozenset[str]:
    """The Tick fields `tier` receives."""
    return frozenset(
        name for feature in limits(tier).features for name in FIELDS_BY_FEATURE[feature]
    )


class Projector:
    """Serializes ticks with only the fields of one tier."""

    __slots__ = ("_identity", "_repeated", "_scalars", "tier")

    def __init__(self, tier: Tier) -> None:
        fields = tier_fields(tier)
        self.tier = tier
        # A tier with every field (enterprise) re-serializes the tick as it came.
        self._identity = fields == frozenset(_TICK_FIELDS)
        self._scalars = tuple(sorted(f for f in fields if not _TICK_FIELDS[f].is_repeated))
        self._repeated = tuple(sorted(f for f in fields if _TICK_FIELDS[f].is_repeated))

    def encode(self, tick: market_pb2.Tick) -> bytes:
        """`tick` projected to the tier, as one TickBatch.ticks entry."""
        if self._identity:
            return tick_field(tick.SerializeToString())
        out = market_pb2.Tick()
        for name in self._scalars:
            setattr(out, name, getattr(tick, name))
        for name in self._repeated:
            getattr(out, name).extend(getattr(tick, name))
        return tick_field(out.SerializeToString())


PROJECTORS: dict[Tier, Projector] = {tier: Projector(tier) for tier in Tier}


class ProjectedBatch:
    """One upstream batch projected to one tier; ticks are projected on first demand."""

    __slots__ = ("_entries", "_projector", "_ticks")

    def __init__(self, ticks: Sequence[market_pb2.Tick], projector: Projector) -> None:
        self._ticks = ticks
        self._projector = projector
        self._entries: list[Entry | None] = [None] * len(ticks)

    def entry(self, index: int) -> Entry:
        """The projected tick at `index`, projecting and serializing it the first time."""
        entry = self._entries[index]
        if entry is None:
            tick = self._ticks[index]
            entry = (tick.sequence, tick.symbol, self._projector.encode(tick))
            self._entries[index] = entry
        return entry


_FREE, _PRO, _ENTERPRISE = (tier.view_bit for tier in Tier)


class BatchView:
    """An upstream batch as the fan-out reads it: its ticks, the latest tick per symbol
    and tier view, its sequence range, and its projections (made lazily, once per tier).

    Each tier gets the ticks of its own view (Tick.views: the tier's bit, or 0 for a
    tick of every tier): Ingestion prices each tier from the tier's brokers."""

    __slots__ = ("_projected", "first_seq", "last_seq", "latest", "ticks")

    def __init__(self, ticks: Sequence[market_pb2.Tick], first_seq: int, last_seq: int) -> None:
        self.ticks = ticks
        self.first_seq = first_seq
        self.last_seq = last_seq
        # Later ticks overwrite earlier ones: each symbol maps to its latest index, per
        # tier; one pass over the batch for all tiers.
        latest: dict[Tier, dict[str, int]] = {tier: {} for tier in Tier}
        free, pro, enterprise = latest.values()
        for i, tick in enumerate(ticks):
            views = tick.views
            if not views or views & _FREE:
                free[tick.symbol] = i
            if not views or views & _PRO:
                pro[tick.symbol] = i
            if not views or views & _ENTERPRISE:
                enterprise[tick.symbol] = i
        self.latest = latest
        self._projected: dict[Tier, ProjectedBatch] = {}

    def projected(self, tier: Tier) -> ProjectedBatch:
        """This batch projected to `tier` (shared by every subscriber of the tier)."""
        batch = self._projected.get(tier)
        if batch is None:
            batch = self._projected[tier] = ProjectedBatch(self.ticks, PROJECTORS[tier])
        return batch

    def latest_entry(self, symbol: str, tier: Tier) -> Entry:
        """The latest tick of `symbol` in this batch, projected to `tier`."""
        return self.projected(tier).entry(self.latest[tier][symbol])
