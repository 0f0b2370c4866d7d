"""Taking payment: the payment gateway seam, its local simulator, and collecting a
period's invoices.

`PaymentGateway` is where a real processor plugs in: Stripe's PaymentMethods give
`describe` (brand, last four, expiry of a `pm_...` token created by Stripe.js in the
customer's browser, so card data never reaches tickmesh) and its PaymentIntents give
`charge` (amount in cents, the invoice id as the idempotency key, so a retried
charge is never taken twice). `SimulatedGateway` is the built-in one: tokens decide
the outcome, so dunning can be tested end to end without a processor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from mesh.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True, slots=True)
class CardDetails:
    """What the gateway tells about a token: enough to recognise the card, no more."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class Charge:
    """The outcome of one charge."""

    status: str
    """"succeeded", "declined" (the issuer said no) or "failed" (processing error)."""
    reference: str
    reason: str = ""


class GatewayUnavailable(Exception):
    """The gateway could not be reached; the charge did not happen and may be retried."""


class PaymentGateway(Protocol):
    """A payment processor."""

    async def describe(self, token: str) -> CardDetails:
        """The card behind `token`; InvalidArgument for an unknown token."""
        ...

    async def charge(self, token: str, amount_minor_units: int, idempotency_key: str) -> Charge:
        """Charge `amount_minor_units` cents; the same key charges at most once."""
        ...


_SIMULATED = {
    "pm_sim_ok": (CardDetails("visa", "4242", 12, 2030), "succeeded", ""),
    "pm_sim_declined": (CardDetails("visa", "0002", 12, 2030), "declined", "card_declined"),
    "pm_sim_error": (CardDetails("mastercard", "0119", 12, 2030), "failed", "processing_error"),
}


class SimulatedGateway:
    """A gateway whose outcome is chosen by the token: `pm_sim_ok` always succeeds,
    `pm_sim_declined` is declined, `pm_sim_error` fails with a processing error."""

    def __init__(self) -> None:
        self.charges: dict[str, Charge] = {}

    async def describe(self, token: str) -> CardDetails:
        return _known(token)[0]

    async def charge(self, token: str, amount_minor_units: int, idempotency_key: str) -> Charge:
        if idempotency_key in self.charges:  # a retry returns the first outcome
            return self.charges[idempotency_key]
        _, status, reason = _known(token)
        reference = "ch_sim_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        self.charges[idempotency_key] = Charge(status, reference, reason)
        return self.charges[idempotency_key]


def _known(token: str) -> tuple[CardDetails, str, str]:
    if token not in _SIMULATED:
        raise InvalidArgument(
            f"unknown payment token {token!r}; the simulator knows {', '.join(_SIMULATED)}",
            violations=[FieldViolation("token", "a token from the payment gateway")],
        )
    return _SIMULATED[token]
