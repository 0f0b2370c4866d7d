"""Rating: one company's invoice for one period, from its subscription, usage and SLA."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from mesh.errors import FailedPrecondition
from mesh.tiers import Tier
from servers.billing import sla
from servers.billing.clock import Clock, require_utc
from servers.billing.expiry import apply_expiry
from servers.billing.lines import InvoiceLine, LineKind
from servers.billing.money import Money, total
from servers.billing.periods import BillingPeriod, Granularity
from servers.billing.proration import fee_lines, prorated
from servers.billing.subscriptions import Segment, SubscriptionEvent, segments_for_period

# Fixed namespace: the same (company, period) gives the same id on every machine, forever.
_INVOICE_NAMESPACE = uuid.UUID("6f1d5e0a-4b7e-5c39-9a57-2f0e9c6b1d43")


class InvoiceStatus(enum.StrEnum):
    """A preview is a draft; a closed invoice is final and stored."""

    DRAFT = "draft"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """A company's usage in the period (informative lines: no tier has overage pricing)."""

    ticks_delivered: int = 0
    api_calls: int = 0
    # Market-data history rows returned (ticks, bars, quotes), billed like delivered ticks.
    history_rows: int = 0
    # Of api_calls, those that ended in a server-side error (customer health).
    server_errors: int = 0


@dataclass(frozen=True, slots=True)
class InvoiceInput:
    """Everything rating needs about one company and one period (the servicer fills it)."""

    company_id: str
    period: BillingPeriod
    events: tuple[SubscriptionEvent, ...]
    # The tier before the first event, when the events do not say (see segments_for_period).
    initial_tier: Tier | None = None
    # The subscription's current expires_at; from it on the company is billed as free.
    expires_at: datetime | None = None
    usage: UsageSummary = UsageSummary()
    # Measured availability percent in the period, per tier the company was on.
    availability: Mapping[Tier, Decimal] = field(default_factory=dict)
    # Excess credit carried from the previous invoice (a non-negative amount).
    credit_brought_forward: Money = field(default_factory=Money.zero)


@dataclass(frozen=True, slots=True)
class Invoice:
    """A rated invoice; total is the sum of the lines and never negative."""

    invoice_id: str
    company_id: str
    period: BillingPeriod
    lines: tuple[InvoiceLine, ...]
    total: Money
    status: InvoiceStatus
    issued_at: datetime
    ticks_delivered: int = 0
    api_calls: int = 0

    def lines_of(self, kind: LineKind) -> list[InvoiceLine]:
        """The lines of one kind, in invoice order."""
        return [line for line in self.lines if line.kind is kind]

    @property
    def carried_forward(self) -> Money:
        """Credit left over for the next period (zero unless credits exceeded charges)."""
        return total(line.amount for line in self.lines_of(LineKind.CREDIT_CARRIED_FORWARD))


def invoice_id(company_id: str, period: BillingPeriod) -> str:
    """The deterministic id of a company's invoice for a period: "inv-2025-11-<16 hex>"."""
    digest = uuid.uuid5(_INVOICE_NAMESPACE, f"{company_id}\x00{period}").hex[:16]
    return f"inv-{period}-{digest}"


def period_segments(inp: InvoiceInput) -> tuple[Segment, ...]:
    """The tier segments of the period, expiry applied."""
    segments = segments_for_period(inp.period, inp.events, inp.initial_tier)
    return apply_expiry(segments, inp.expires_at)


def rate(
    inp: InvoiceInput,
    *,
    status: InvoiceStatus,
    issued_at: datetime,
    granularity: Granularity = Granularity.DAY,
) -> Invoice:
    """Rate `inp`: fees and proration, usage, SLA credits, carried credit; total >= 0."""
    if inp.credit_brought_forward.cents < 0:
        raise ValueError("credit_brought_forward is an amount owed to the customer: >= 0")
    segments = period_segments(inp)
    lines = fee_lines(inp.period, segments, granularity)
    lines += usage_lines(inp.usage)
    lines += sla_credit_lines(inp.period, segments, inp.availability, granularity)
    if inp.credit_brought_forward.cents:
        lines.append(
            InvoiceLine(
                LineKind.CREDIT_BROUGHT_FORWARD,
                "credit from earlier periods",
                -inp.credit_brought_forward,
            )
        )
    subtotal = total(line.amount for line in lines)
    if subtotal.cents < 0:  # credits beat charges: bill nothing, keep the rest for later
        lines.append(
            InvoiceLine(
                LineKind.CREDIT_CARRIED_FORWARD,
                f"excess credit {(-subtotal).format()} carried to the next period",
                -subtotal,
            )
        )
    return Invoice(
        invoice_id=invoice_id(inp.company_id, inp.period),
        company_id=inp.company_id,
        period=inp.period,
        lines=tuple(lines),
        total=total(line.amount for line in lines),
        status=status,
        issued_at=require_utc(issued_at, "issued_at"),
        ticks_delivered=inp.usage.ticks_delivered,
        api_calls=inp.usage.api_calls,
    )


def usage_lines(usage: UsageSummary) -> list[InvoiceLine]:
    """Informative usage lines at $0.00 (no tier has overage pricing)."""
    return [
        InvoiceLine(
            LineKind.USAGE, "ticks delivered", Money.zero(), None, str(usage.ticks_delivered)
        ),
        InvoiceLine(LineKind.USAGE, "API calls", Money.zero(), None, str(usage.api_calls)),
        InvoiceLine(
            LineKind.USAGE, "market-data history rows", Money.zero(), None, str(usage.history_rows)
        ),
    ]


def sla_credit_lines(
    period: BillingPeriod,
    segments: Iterable[Segment],
    availability: Mapping[Tier, Decimal],
    granularity: Granularity = Granularity.DAY,
) -> list[InvoiceLine]:
    """One credit per tier whose measured availability missed its SLA (see servers.billing.sla).

    The base is the tier's fee for the part of the period the company was on it.
    """
    units: dict[Tier, int] = {}
    for seg in segments:
        units[seg.tier] = units.get(seg.tier, 0) + period.units_in(seg.start, seg.end, granularity)
    whole = period.units(granularity)
    lines = []
    for tier, used in units.items():
        measured = availability.get(tier)
        pct = sla.credit_percent(tier, measured)
        base = prorated(tier, used, whole)
        if pct and base.cents:
            lines.append(
                InvoiceLine(
                    LineKind.SLA_CREDIT,
                    f"SLA credit {tier}: availability {measured}% < {sla.target(tier)}% target, "
                    f"{pct}% of {base.format()}",
                    -base.percent(pct),
                    tier,
                    str(pct),
                )
            )
    return lines


def preview_invoice(
    inp: InvoiceInput, clock: Clock, granularity: Granularity = Granularity.DAY
) -> Invoice:
    """The invoice as it stands now, status draft; stores nothing."""
    return rate(inp, status=InvoiceStatus.DRAFT, issued_at=clock.now(), granularity=granularity)


def close_invoice(
    inp: InvoiceInput,
    clock: Clock,
    stored: Invoice | None = None,
    granularity: Granularity = Granularity.DAY,
) -> tuple[Invoice, bool]:
    """The closed invoice and whether it was closed before (then `stored` is returned as is).

    The caller saves a new one (Storage.SaveInvoice keeps the first), so closing twice
    returns the same invoice. A period closes only once it has ended.
    """
    if stored is not None:
        return stored, True
    now = clock.now()
    if now < inp.period.end:
        raise FailedPrecondition(
            f"billing period {inp.period} has not ended; "
            f"it closes from {inp.period.end.isoformat()}"
        )
    return rate(inp, status=InvoiceStatus.CLOSED, issued_at=now, granularity=granularity), False


@dataclass(frozen=True, slots=True)
class CloseResult:
    """A period's closed invoices, and how many were closed by an earlier call."""

    invoices: tuple[Invoice, ...]
    already_closed: int


def close_period(
    inputs: Iterable[InvoiceInput],
    clock: Clock,
    stored: Mapping[str, Invoice] | None = None,
    granularity: Granularity = Granularity.DAY,
) -> CloseResult:
    """Close every company's invoice; `stored` maps company_id to its already-saved invoice."""
    stored = stored or {}
    invoices = []
    again = 0
    for inp in inputs:
        invoice, before = close_invoice(inp, clock, stored.get(inp.company_id), granularity)
        invoices.append(invoice)
        again += before
    return CloseResult(tuple(invoices), again)
