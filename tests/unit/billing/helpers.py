"""Builders shared by the billing tests: instants, events and invoice inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from mesh.tiers import Tier
from servers.billing.clock import ManualClock
from servers.billing.invoices import Invoice, InvoiceInput, preview_invoice
from servers.billing.lines import LineKind
from servers.billing.periods import BillingPeriod
from servers.billing.subscriptions import EventKind, SubscriptionEvent

NOV = BillingPeriod(2025, 11)  # 30 days


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def created(tier: Tier, when: datetime) -> SubscriptionEvent:
    return SubscriptionEvent(EventKind.CREATED, tier, when)


def changed(old: Tier, new: Tier, when: datetime) -> SubscriptionEvent:
    return SubscriptionEvent(EventKind.TIER_CHANGED, new, when, from_tier=old)


def rate_preview(
    period: BillingPeriod,
    *events: SubscriptionEvent,
    availability: dict[Tier, Decimal] | None = None,
    **kwargs: object,
) -> Invoice:
    """A draft invoice of company "acme", rated with a clock at the period's last instant."""
    clock = ManualClock(period.end)
    inp = InvoiceInput("acme", period, events, availability=availability or {}, **kwargs)  # type: ignore[arg-type]
    return preview_invoice(inp, clock)


def amounts(invoice: Invoice, *kinds: LineKind) -> list[int]:
    """The cents of the invoice's lines of `kinds` (all money lines when none given)."""
    wanted = kinds or tuple(k for k in LineKind if k is not LineKind.USAGE)
    return [line.amount.cents for line in invoice.lines if line.kind in wanted]
