"""What every Billing RPC group shares: its sources of numbers, its clock, who may call."""

from __future__ import annotations

from collections.abc import Mapping

from mesh.tenancy.current import PrincipalKind, current_principal
from mesh.tenancy.quota import QuotaStore
from servers.billing.bridge_counters import BridgeCounters
from servers.billing.clock import Clock, SystemClock
from servers.billing.money import Money
from servers.billing.payments import PaymentGateway, SimulatedGateway
from servers.billing.periods import BillingPeriod
from servers.billing.settings import BillingSettings
from servers.billing.storage_source import StorageSource

OPERATOR, SERVICE, TENANT = PrincipalKind.OPERATOR, PrincipalKind.SERVICE, PrincipalKind.TENANT


def require_staff() -> None:
    """PERMISSION_DENIED unless the caller is the operator or a mesh service."""
    current_principal().require(OPERATOR, SERVICE)


class BillingRpcs:
    """Storage for the numbers, the Bridges for what they delivered, the quota store for
    usage against limits, the clock periods are judged by, and the payment gateway."""

    def __init__(
        self,
        storage: StorageSource,
        bridges: BridgeCounters,
        quota: QuotaStore,
        clock: Clock | None = None,
        gateway: PaymentGateway | None = None,
        broker_costs: Mapping[str, Money] | None = None,
    ) -> None:
        self._storage = storage
        self._bridges = bridges
        self._quota = quota
        self._clock = clock or SystemClock()
        # The seam where a real processor (Stripe) plugs in; see servers.billing.payments.
        self._gateway = gateway or SimulatedGateway()
        # What each broker costs a month (BillingSettings): the broker report's inputs.
        self._broker_costs: Mapping[str, Money] = broker_costs or BillingSettings().broker_costs()

    def _period(self, text: str) -> BillingPeriod:
        """The named period (YYYY-MM), or the one in progress."""
        return BillingPeriod.parse(text) if text else BillingPeriod.containing(self._clock.now())
