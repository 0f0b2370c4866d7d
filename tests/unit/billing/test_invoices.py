"""Invoices: SLA credits, usage lines, carried credit, ids, preview and closing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mesh.errors import FailedPrecondition
from mesh.tiers import Tier
from servers.billing import sla
from servers.billing.clock import ManualClock
from servers.billing.invoices import (
    InvoiceInput,
    InvoiceStatus,
    UsageSummary,
    close_invoice,
    close_period,
    invoice_id,
    preview_invoice,
)
from servers.billing.lines import LineKind
from servers.billing.money import Money
from servers.billing.periods import BillingPeriod

from .helpers import NOV, amounts, at, changed, created, rate_preview

PRO, ENT = Tier.PRO, Tier.ENTERPRISE
SLA = LineKind.SLA_CREDIT


@pytest.mark.parametrize(
    ("tier", "measured", "percent"),
    [
        (PRO, "99.9", 0),  # met exactly
        (PRO, "99.95", 0),
        (PRO, "99.89", 10),  # below 99.9
        (PRO, "99.0", 10),  # 99.0 is not below 99.9 - 0.9
        (PRO, "98.99", 25),
        (PRO, "95", 25),
        (PRO, "94.99", 50),
        (ENT, "99.99", 0),
        (ENT, "99.98", 10),
        (ENT, "99.09", 10),
        (ENT, "99.08", 25),
        (Tier.FREE, "98.5", 10),  # free misses its 99 % too, but 10 % of $0 is $0
        (Tier.FREE, "98", 25),  # below 99 - 0.9 = 98.1
        (PRO, None, 0),  # nothing measured, nothing credited
    ],
)
def test_sla_credit_schedule(tier: Tier, measured: str | None, percent: int) -> None:
    value = Decimal(measured) if measured is not None else None
    assert sla.credit_percent(tier, value) == percent
    assert sla.met(tier, value) == (percent == 0)


def test_sla_refuses_floats_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        sla.credit_percent(PRO, 99.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sla.credit_percent(PRO, Decimal("100.1"))
    with pytest.raises(ValueError):
        sla.credit_percent(PRO, Decimal("NaN"))


def test_sla_credit_when_availability_is_below_target() -> None:
    pro = created(PRO, at(2025, 10, 5))
    # pro at 99.5 % < 99.9 %: 10 % of 99.00 = 9.90 -> 99.00 - 9.90 = 89.10
    ten = rate_preview(NOV, pro, availability={PRO: Decimal("99.5")})
    assert amounts(ten) == [9900, -990] and ten.total == Money(8910)
    assert ten.lines_of(SLA)[0].description == (
        "SLA credit pro: availability 99.5% < 99.9% target, 10% of $99.00"
    )
    # 98.9 % < 99.0 %: 25 % of 99.00 = 24.75 -> 74.25
    assert rate_preview(NOV, pro, availability={PRO: Decimal("98.9")}).total == Money(7425)
    # 94 % < 95 %: 50 % of 99.00 = 49.50 -> 49.50
    assert rate_preview(NOV, pro, availability={PRO: Decimal("94")}).total == Money(4950)
    # enterprise 99.95 % < 99.99 %: 10 % of 499.00 = 49.90 -> 449.10
    ent = rate_preview(NOV, created(ENT, at(2025, 1, 1)), availability={ENT: Decimal("99.95")})
    assert ent.total == Money(44910)


def test_no_sla_credit_when_met() -> None:
    invoice = rate_preview(NOV, created(PRO, at(2025, 10, 5)), availability={PRO: Decimal("99.97")})
    assert invoice.lines_of(SLA) == [] and invoice.total == Money(9900)


def test_sla_credit_after_a_change_is_on_the_days_of_each_tier() -> None:
    invoice = rate_preview(
        NOV,
        created(PRO, at(2025, 10, 5)),
        changed(PRO, ENT, at(2025, 11, 17)),
        availability={PRO: Decimal("99.5"), ENT: Decimal("99.0")},
    )
    # pro Nov 1..16 = 16 days: base 99*16/30 = 52.80, 10 % = 5.28
    # enterprise Nov 17..30 = 14 days: base 499*14/30 = 232.87,
    #   25 % (99.0 < 99.09) of 232.87 = 58.2175 -> 58.22
    assert amounts(invoice, SLA) == [-528, -5822]
    # 285.67 (the upgrade) - 5.28 - 58.22 = 222.17
    assert invoice.total == Money(22217)


def test_usage_lines_are_informative_and_free() -> None:
    usage = UsageSummary(ticks_delivered=1_234_567, api_calls=4_321, history_rows=890)
    invoice = rate_preview(NOV, created(PRO, at(2025, 10, 5)), usage=usage)
    lines = invoice.lines_of(LineKind.USAGE)
    assert [(line.quantity, line.amount) for line in lines] == [
        ("1234567", Money(0)),
        ("4321", Money(0)),
        ("890", Money(0)),
    ]
    assert (invoice.ticks_delivered, invoice.api_calls) == (1_234_567, 4_321)
    assert invoice.total == Money(9900)


def test_total_never_negative_excess_credit_is_carried() -> None:
    invoice = rate_preview(NOV, created(PRO, at(2025, 10, 5)), credit_brought_forward=Money(15000))
    # 99.00 - 150.00 = -51.00: bill 0.00, carry 51.00 to December
    assert amounts(invoice) == [9900, -15000, 5100]
    assert invoice.total == Money(0)
    assert invoice.carried_forward == Money(5100)
    # a credit smaller than the fee is simply used up
    small = rate_preview(NOV, created(PRO, at(2025, 10, 5)), credit_brought_forward=Money(1000))
    assert small.total == Money(8900) and small.carried_forward == Money(0)


def test_no_float_reaches_any_money() -> None:
    invoice = rate_preview(
        NOV,
        created(PRO, at(2025, 10, 5)),
        changed(PRO, ENT, at(2025, 11, 17)),
        availability={ENT: Decimal("90")},
        credit_brought_forward=Money(1),
    )
    for money in [invoice.total, *(line.amount for line in invoice.lines)]:
        assert type(money.cents) is int
    assert all(isinstance(line.quantity, str) for line in invoice.lines)


def test_invoice_id_is_deterministic_per_company_and_period() -> None:
    first = invoice_id("acme", NOV)
    assert first == invoice_id("acme", BillingPeriod.parse("2025-11"))
    assert first.startswith("inv-2025-11-") and len(first) == len("inv-2025-11-") + 16
    assert first != invoice_id("acme", NOV.next())
    assert first != invoice_id("globex", NOV)


def test_preview_is_a_draft_and_closing_is_final_and_idempotent() -> None:
    clock = ManualClock(at(2025, 11, 17, 10, 30))
    inp = InvoiceInput("acme", NOV, (created(PRO, at(2025, 10, 5)),))
    draft = preview_invoice(inp, clock)
    assert draft.status is InvoiceStatus.DRAFT and draft.issued_at == clock.now()
    with pytest.raises(FailedPrecondition):  # November has not ended
        close_invoice(inp, clock)
    clock.set(at(2025, 12, 1))
    closed, before = close_invoice(inp, clock)
    assert (closed.status, before, closed.total) == (InvoiceStatus.CLOSED, False, Money(9900))
    assert closed.invoice_id == draft.invoice_id
    clock.advance(days=3)
    again, before = close_invoice(inp, clock, stored=closed)
    assert again is closed and before


def test_close_period_counts_the_already_closed() -> None:
    clock = ManualClock(at(2025, 12, 2))
    inputs = [
        InvoiceInput("acme", NOV, (created(PRO, at(2025, 10, 5)),)),
        InvoiceInput("globex", NOV, (created(ENT, at(2025, 10, 5)),)),
    ]
    first = close_period(inputs, clock)
    assert first.already_closed == 0
    assert [i.total.cents for i in first.invoices] == [9900, 49900]
    second = close_period(inputs, clock, stored={i.company_id: i for i in first.invoices})
    assert second.already_closed == 2 and second.invoices == first.invoices
