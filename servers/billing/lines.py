"""Invoice lines: the kinds an invoice is made of, and the line record itself."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mesh.tiers import Tier
from servers.billing.money import Money


class LineKind(enum.StrEnum):
    """What a line is for; the values are the contract's InvoiceLine.kind strings."""

    SUBSCRIPTION = "subscription"
    PRORATION_CREDIT = "proration_credit"
    PRORATION_CHARGE = "proration_charge"
    SLA_CREDIT = "sla_credit"
    USAGE = "usage"
    # An earlier period's excess credit used up here, and this period's excess kept for later.
    CREDIT_BROUGHT_FORWARD = "credit_brought_forward"
    CREDIT_CARRIED_FORWARD = "credit_carried_forward"


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One line: negative amounts are credits; quantity is an exact decimal string."""

    kind: LineKind
    description: str
    amount: Money
    tier: Tier | None = None
    quantity: str = "1"
