"""A subscription's history as events, and the tier segments it yields inside a period."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from mesh.tiers import Tier
from servers.billing.clock import require_utc
from servers.billing.periods import BillingPeriod


class EventKind(enum.StrEnum):
    """The contract's SubscriptionEvent.kind strings."""

    CREATED = "created"
    TIER_CHANGED = "tier_changed"
    CHANGE_SCHEDULED = "change_scheduled"
    EXPIRED = "expired"
    RENEWED = "renewed"


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    """From `effective_at` on, the company is on `to_tier` (free after EXPIRED, whatever it says).

    A CHANGE_SCHEDULED event counts at its effective_at (the period end it was scheduled
    for); Storage drops a scheduled change it cancels, so every one listed happens.
    """

    kind: EventKind
    to_tier: Tier
    effective_at: datetime
    from_tier: Tier | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "effective_at", require_utc(self.effective_at, "effective_at"))

    @property
    def tier_after(self) -> Tier:
        """The tier in force from effective_at."""
        return Tier.FREE if self.kind is EventKind.EXPIRED else self.to_tier


@dataclass(frozen=True, slots=True)
class Segment:
    """The company is on `tier` over [start, end)."""

    tier: Tier
    start: datetime
    end: datetime


def segments_for_period(
    period: BillingPeriod,
    events: Iterable[SubscriptionEvent],
    initial_tier: Tier | None = None,
) -> tuple[Segment, ...]:
    """The tier segments covering `period`, oldest first, adjacent equal tiers merged.

    The tier before the first event is `initial_tier` when given; otherwise the first
    event's from_tier, unless it is CREATED (nothing before it). So events listed from the
    period start only (ListSubscriptionEvents since=start) still rate the whole period.
    Instants before the first known tier are not billed.
    """
    ordered = sorted(events, key=lambda e: e.effective_at)  # stable: same instant keeps order
    tier = initial_tier
    if tier is None and ordered and ordered[0].kind is not EventKind.CREATED:
        tier = ordered[0].from_tier
    steps: list[tuple[datetime, Tier | None]] = [(period.start, tier)]
    steps += [(period.clip(e.effective_at), e.tier_after) for e in ordered]
    return merge(_spans(period, steps))


def _spans(period: BillingPeriod, steps: Sequence[tuple[datetime, Tier | None]]) -> list[Segment]:
    spans: list[Segment] = []
    for (start, tier), (end, _) in zip(steps, [*steps[1:], (period.end, None)], strict=True):
        if tier is not None and start < end:
            spans.append(Segment(tier, start, end))
    return spans


def merge(segments: Iterable[Segment]) -> tuple[Segment, ...]:
    """Contiguous segments of the same tier joined into one."""
    out: list[Segment] = []
    for seg in segments:
        if out and out[-1].tier == seg.tier and out[-1].end == seg.start:
            out[-1] = Segment(seg.tier, out[-1].start, seg.end)
        else:
            out.append(seg)
    return tuple(out)
