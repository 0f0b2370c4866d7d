"""Billing's own settings: TICKMESH_BILLING_* and the config file's [billing] table."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from mesh.config import Invalid, setting
from servers.billing.money import Money

# Seed 003's shared-collector budget: a collector server ($200 a month) and its dedicated
# bandwidth ($500 a month) per broker; the aggregator and processing ($500) are shared and
# belong to no broker.
SEED_BROKER_MONTHLY_COST = Decimal("700.00")


def as_usd(raw: object) -> Decimal:
    """A non-negative amount in dollars with at most two decimals ("700", "699.50")."""
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise Invalid(f"expected an amount in dollars, e.g. 700.00, got {raw!r}") from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise Invalid(f"expected a non-negative amount with at most 2 decimals, got {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class BillingSettings:
    """What each broker costs a month (the broker report splits it over companies served)."""

    ic_markets_monthly_cost: Decimal = setting(SEED_BROKER_MONTHLY_COST, cast=as_usd)  # noqa: RUF009
    """ic_markets' collector and bandwidth, USD a month."""

    pepperstone_monthly_cost: Decimal = setting(SEED_BROKER_MONTHLY_COST, cast=as_usd)  # noqa: RUF009
    """pepperstone's collector and bandwidth, USD a month."""

    fxcm_monthly_cost: Decimal = setting(SEED_BROKER_MONTHLY_COST, cast=as_usd)  # noqa: RUF009
    """fxcm's collector and bandwidth, USD a month."""

    def broker_costs(self) -> dict[str, Money]:
        """Broker -> its monthly cost."""
        return {
            "ic_markets": Money.of(self.ic_markets_monthly_cost),
            "pepperstone": Money.of(self.pepperstone_monthly_cost),
            "fxcm": Money.of(self.fxcm_monthly_cost),
        }
