"""Proration and invoice fees, every amount checked to the cent against hand arithmetic.

Prices: free $0, pro $99.00, enterprise $499.00. Day granularity: the day of a change is
billed at the new tier; each amount is price * days / days-in-month, rounded half-up.
"""

from __future__ import annotations

import pytest

from mesh.errors import FailedPrecondition
from mesh.tiers import Tier
from servers.billing.clock import ManualClock
from servers.billing.invoices import InvoiceInput, preview_invoice
from servers.billing.lines import LineKind
from servers.billing.money import Money
from servers.billing.periods import BillingPeriod, Granularity
from servers.billing.proration import ChangeEffect, quote_change
from servers.billing.subscriptions import EventKind, SubscriptionEvent

from .helpers import NOV, amounts, at, changed, created, rate_preview

PRO, ENT, FREE = Tier.PRO, Tier.ENTERPRISE, Tier.FREE
SUB, CREDIT, CHARGE = LineKind.SUBSCRIPTION, LineKind.PRORATION_CREDIT, LineKind.PRORATION_CHARGE


def test_whole_month_on_one_tier() -> None:
    invoice = rate_preview(NOV, created(PRO, at(2025, 10, 5)))
    # pro, all 30 days of November: $99.00, nothing else
    assert amounts(invoice) == [9900]
    assert invoice.total == Money(9900)
    assert invoice.lines[0].quantity == "30"
    assert invoice.lines[0].description == "pro subscription 2025-11"


def test_mid_month_upgrade_pro_to_enterprise() -> None:
    clock = ManualClock(at(2025, 11, 1))
    clock.advance(days=16, hours=10, minutes=30)  # Nov 17 10:30
    quote = quote_change(PRO, ENT, ChangeEffect.IMMEDIATE, clock.now())
    # Nov 17..30 = 14 of 30 days unused on pro
    # credit: 99.00 * 14/30 = 46.20
    # charge: 499.00 * 14/30 = 232.8666.. -> 232.87
    assert [line.amount.cents for line in quote.lines] == [-4620, 23287]
    assert quote.net == Money(18667)  # 232.87 - 46.20 = 186.67
    assert quote.effective_at == clock.now()
    invoice = rate_preview(NOV, created(PRO, at(2025, 10, 5)), changed(PRO, ENT, clock.now()))
    assert amounts(invoice, SUB, CREDIT, CHARGE) == [9900, -4620, 23287]
    # 99.00 - 46.20 + 232.87 = 285.67
    assert invoice.total == Money(28567)
    # the ChangeTier quote shows exactly the lines the invoice will carry
    assert tuple(invoice.lines_of(CREDIT) + invoice.lines_of(CHARGE)) == quote.lines
    assert [line.quantity for line in quote.lines] == ["14", "14"]


def test_mid_month_downgrade_enterprise_to_pro() -> None:
    invoice = rate_preview(
        NOV, created(ENT, at(2025, 9, 1)), changed(ENT, PRO, at(2025, 11, 11, 8))
    )
    # Nov 11..30 = 20 of 30 days
    # credit: 499.00 * 20/30 = 332.6666.. -> 332.67
    # charge: 99.00 * 20/30 = 66.00
    assert amounts(invoice) == [49900, -33267, 6600]
    # 499.00 - 332.67 + 66.00 = 232.33
    assert invoice.total == Money(23233)


def test_end_of_term_change_moves_no_money_now() -> None:
    asked = at(2025, 11, 17, 10, 30)
    quote = quote_change(PRO, ENT, ChangeEffect.END_OF_TERM, asked)
    assert quote.lines == () and quote.net == Money(0)
    assert quote.effective_at == at(2025, 12, 1)
    history = (
        created(PRO, at(2025, 10, 5)),
        SubscriptionEvent(EventKind.CHANGE_SCHEDULED, ENT, quote.effective_at, from_tier=PRO),
    )
    # November: pro all month, $99.00, no proration
    november = rate_preview(NOV, *history)
    assert amounts(november) == [9900]
    # December: enterprise from its first instant, $499.00, no proration
    december = rate_preview(NOV.next(), *history)
    assert amounts(december) == [49900]
    assert december.lines[0].tier is ENT


def test_end_of_term_to_the_current_tier_cancels_and_immediate_to_it_is_refused() -> None:
    assert quote_change(PRO, PRO, ChangeEffect.END_OF_TERM, at(2025, 11, 3)).lines == ()
    with pytest.raises(FailedPrecondition):
        quote_change(PRO, PRO, ChangeEffect.IMMEDIATE, at(2025, 11, 3))


def test_two_changes_in_one_month_bill_each_segment_at_its_tier() -> None:
    invoice = rate_preview(
        NOV,
        created(PRO, at(2025, 10, 5)),
        changed(PRO, ENT, at(2025, 11, 10, 9)),
        changed(ENT, PRO, at(2025, 11, 20, 18)),
    )
    # subscription pro: 99.00
    # Nov 10 -> enterprise, Nov 10..30 = 21 days: credit 99*21/30 = 69.30, charge 499*21/30 = 349.30
    # Nov 20 -> pro, Nov 20..30 = 11 days: credit 499*11/30 = 182.9666 -> 182.97,
    #                                      charge 99*11/30 = 36.30
    assert amounts(invoice) == [9900, -6930, 34930, -18297, 3630]
    # 99.00 - 69.30 + 349.30 - 182.97 + 36.30 = 232.33
    # cross-check by segment: pro 9 d = 29.70, ent 10 d = 166.333, pro 11 d = 36.30 -> 232.33
    assert invoice.total == Money(23233)


def test_two_changes_on_the_same_day_cancel_out_exactly() -> None:
    invoice = rate_preview(
        NOV,
        created(PRO, at(2025, 10, 5)),
        changed(PRO, ENT, at(2025, 11, 17, 9)),
        changed(ENT, PRO, at(2025, 11, 17, 15)),
    )
    # both floor to Nov 17 (14 days): +232.87 and -232.87 cancel, as do -46.20 / +46.20
    assert amounts(invoice) == [9900, -4620, 23287, -23287, 4620]
    assert invoice.total == Money(9900)


def test_joined_mid_month_pays_its_days_only() -> None:
    invoice = rate_preview(NOV, created(PRO, at(2025, 11, 21, 14)))
    # Nov 21..30 = 10 days: 99.00 * 10/30 = 33.00
    assert amounts(invoice) == [3300]
    assert "10 of 30 days from 2025-11-21" in invoice.lines[0].description


def test_events_listed_from_the_period_start_take_the_tier_before_from_from_tier() -> None:
    # only the change is listed (ListSubscriptionEvents since=Nov 1): pro before it
    invoice = rate_preview(NOV, changed(PRO, ENT, at(2025, 11, 17)))
    assert amounts(invoice) == [9900, -4620, 23287]


def test_february_of_a_common_year() -> None:
    feb = BillingPeriod(2025, 2)  # 28 days
    invoice = rate_preview(feb, created(PRO, at(2025, 1, 1)), changed(PRO, ENT, at(2025, 2, 15)))
    # Feb 15..28 = 14 of 28 days: credit 99*14/28 = 49.50, charge 499*14/28 = 249.50
    assert amounts(invoice) == [9900, -4950, 24950]
    # 99.00 - 49.50 + 249.50 = 299.00
    assert invoice.total == Money(29900)


def test_february_of_a_leap_year() -> None:
    feb = BillingPeriod(2024, 2)  # 29 days
    invoice = rate_preview(feb, created(PRO, at(2024, 1, 1)), changed(PRO, ENT, at(2024, 2, 15)))
    # Feb 15..29 = 15 of 29 days: credit 99*15/29 = 51.2068 -> 51.21,
    #                            charge 499*15/29 = 258.1034 -> 258.10
    assert amounts(invoice) == [9900, -5121, 25810]
    # 99.00 - 51.21 + 258.10 = 305.89
    assert invoice.total == Money(30589)


def test_last_day_of_a_31_day_month() -> None:
    jan = BillingPeriod(2025, 1)  # 31 days
    invoice = rate_preview(
        jan, created(ENT, at(2024, 6, 1)), changed(ENT, PRO, at(2025, 1, 31, 23))
    )
    # Jan 31 = 1 of 31 days: credit 499/31 = 16.0967 -> 16.10, charge 99/31 = 3.1935 -> 3.19
    assert amounts(invoice) == [49900, -1610, 319]
    # 499.00 - 16.10 + 3.19 = 486.09
    assert invoice.total == Money(48609)


def test_a_third_of_a_cent_is_dropped() -> None:
    invoice = rate_preview(
        NOV, created(FREE, at(2025, 10, 1)), changed(FREE, ENT, at(2025, 11, 30))
    )
    # 1 day of enterprise: 49900 cents / 30 = 1663.333 cents -> 1663 ($16.63); free credit $0
    assert amounts(invoice) == [0, 0, 1663]
    assert invoice.total == Money(1663)
    # two days: 3326.667 cents -> 3327 ($33.27)
    two = rate_preview(NOV, created(FREE, at(2025, 10, 1)), changed(FREE, ENT, at(2025, 11, 29)))
    assert two.total == Money(3327)


def test_second_granularity_prorates_by_exact_time() -> None:
    clock = ManualClock(at(2025, 12, 1))
    events = (created(PRO, at(2025, 10, 5)), changed(PRO, ENT, at(2025, 11, 16, 12)))
    inp = InvoiceInput("acme", NOV, events)
    invoice = preview_invoice(inp, clock, Granularity.SECOND)
    # Nov 16 12:00 -> end = 14.5 of 30 days = 29/60 of the month
    # credit 99 * 29/60 = 47.85; charge 499 * 29/60 = 241.1833 -> 241.18
    assert amounts(invoice) == [9900, -4785, 24118]
    # 99.00 - 47.85 + 241.18 = 292.33
    assert invoice.total == Money(29233)
    assert invoice.lines[1].quantity == str(14 * 86400 + 12 * 3600)
