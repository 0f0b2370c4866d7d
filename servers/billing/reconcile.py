"""Reconciliation: ticks the Bridges delivered against ticks recorded as billed usage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from servers.billing.periods import BillingPeriod


@dataclass(frozen=True, slots=True)
class ReconcileEntry:
    """One company: difference = billed - delivered (positive: billed for ticks not seen)."""

    company_id: str
    delivered: int
    billed: int

    @property
    def difference(self) -> int:
        return self.billed - self.delivered


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Every company of the period, sorted by id; balanced when no difference is left."""

    period: BillingPeriod
    entries: tuple[ReconcileEntry, ...]
    bridges: int = 0
    """How many Bridge instances the delivered counts were summed over."""

    @property
    def balanced(self) -> bool:
        return all(e.difference == 0 for e in self.entries)

    @property
    def mismatched(self) -> tuple[ReconcileEntry, ...]:
        """The entries that disagree."""
        return tuple(e for e in self.entries if e.difference)


def reconcile(
    period: BillingPeriod,
    delivered: Mapping[str, int],
    billed: Mapping[str, int],
    *,
    bridges: int = 0,
) -> Reconciliation:
    """Compare per-company counts; a company missing on one side counts 0 there."""
    companies = sorted(set(delivered) | set(billed))
    return Reconciliation(
        period,
        tuple(ReconcileEntry(c, delivered.get(c, 0), billed.get(c, 0)) for c in companies),
        bridges,
    )
