"""Expiry: a paid subscription that expires falls back to free for the rest of the period."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from mesh.tiers import Tier
from servers.billing.clock import require_utc
from servers.billing.subscriptions import Segment, merge


def apply_expiry(segments: Iterable[Segment], expires_at: datetime | None) -> tuple[Segment, ...]:
    """`segments` with every instant from `expires_at` on billed as free (price 0).

    `expires_at` is the subscription's current one: Storage clears it on renewal, so a
    renewed subscription passes None and keeps its tier. A segment straddling the expiry
    is cut in two.
    """
    if expires_at is None:
        return tuple(segments)
    expires_at = require_utc(expires_at, "expires_at")
    out: list[Segment] = []
    for seg in segments:
        if seg.end <= expires_at:
            out.append(seg)
        elif seg.start >= expires_at:
            out.append(Segment(Tier.FREE, seg.start, seg.end))
        else:
            out.append(Segment(seg.tier, seg.start, expires_at))
            out.append(Segment(Tier.FREE, expires_at, seg.end))
    return merge(out)


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    """True when the paid subscription has expired at `now`."""
    return expires_at is not None and require_utc(expires_at) <= require_utc(now)
