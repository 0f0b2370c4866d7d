"""Expiry: a paid subscription that expires mid-month is free from then on."""

from __future__ import annotations

from mesh.tiers import Tier
from servers.billing.expiry import apply_expiry, is_expired
from servers.billing.lines import LineKind
from servers.billing.money import Money
from servers.billing.subscriptions import EventKind, Segment, SubscriptionEvent

from .helpers import NOV, amounts, at, created, rate_preview


def test_expiry_mid_month_downgrades_to_free() -> None:
    invoice = rate_preview(NOV, created(Tier.PRO, at(2025, 10, 5)), expires_at=at(2025, 11, 20))
    # free from Nov 20: Nov 20..30 = 11 of 30 days
    # credit 99.00 * 11/30 = 36.30; charge free 0.00
    assert amounts(invoice) == [9900, -3630, 0]
    # 99.00 - 36.30 = 62.70 (= 19 days of pro: 99 * 19/30)
    assert invoice.total == Money(6270)
    assert invoice.lines_of(LineKind.PRORATION_CHARGE)[0].tier is Tier.FREE


def test_expiry_during_a_day_frees_that_whole_day() -> None:
    invoice = rate_preview(NOV, created(Tier.PRO, at(2025, 10, 5)), expires_at=at(2025, 11, 20, 15))
    assert invoice.total == Money(6270)


def test_an_expired_event_does_the_same() -> None:
    expired = SubscriptionEvent(EventKind.EXPIRED, Tier.FREE, at(2025, 11, 20), from_tier=Tier.PRO)
    invoice = rate_preview(NOV, created(Tier.PRO, at(2025, 10, 5)), expired)
    assert invoice.total == Money(6270)


def test_expiry_outside_the_period() -> None:
    pro = created(Tier.PRO, at(2025, 10, 5))
    assert rate_preview(NOV, pro, expires_at=at(2025, 12, 1)).total == Money(9900)
    # expired before November: free all month
    before = rate_preview(NOV, pro, expires_at=at(2025, 10, 20))
    assert before.lines[0].tier is Tier.FREE and before.total == Money(0)


def test_renewal_after_an_expiry_bills_the_tier_again() -> None:
    events = (
        created(Tier.ENTERPRISE, at(2025, 1, 1)),
        SubscriptionEvent(EventKind.EXPIRED, Tier.FREE, at(2025, 11, 11), Tier.ENTERPRISE),
        SubscriptionEvent(EventKind.RENEWED, Tier.ENTERPRISE, at(2025, 11, 21), Tier.FREE),
    )
    invoice = rate_preview(NOV, *events)
    # Nov 11 -> free (20 days): credit 499*20/30 = 332.67; charge 0
    # Nov 21 -> enterprise (10 days): credit 0; charge 499*10/30 = 166.33
    assert amounts(invoice) == [49900, -33267, 0, 0, 16633]
    # 499.00 - 332.67 + 166.33 = 332.66 (20 of 30 days of enterprise = 332.666; lines round apart)
    assert invoice.total == Money(33266)


def test_apply_expiry_cuts_segments() -> None:
    segs = (
        Segment(Tier.PRO, NOV.start, at(2025, 11, 10)),
        Segment(Tier.ENTERPRISE, at(2025, 11, 10), NOV.end),
    )
    cut = apply_expiry(segs, at(2025, 11, 5))
    assert cut == (
        Segment(Tier.PRO, NOV.start, at(2025, 11, 5)),
        Segment(Tier.FREE, at(2025, 11, 5), NOV.end),
    )
    assert apply_expiry(segs, None) == segs
    assert is_expired(at(2025, 11, 5), at(2025, 11, 5)) and not is_expired(None, at(2025, 11, 5))
