"""The simulated payment gateway: the token decides the outcome, a key charges once."""

from __future__ import annotations

import pytest

from mesh.errors import InvalidArgument
from servers.billing.payments import SimulatedGateway


async def test_tokens_decide_the_outcome() -> None:
    gateway = SimulatedGateway()
    ok = await gateway.charge("pm_sim_ok", 9900, idempotency_key="inv-1")
    declined = await gateway.charge("pm_sim_declined", 9900, idempotency_key="inv-2")
    error = await gateway.charge("pm_sim_error", 9900, idempotency_key="inv-3")
    assert (ok.status, declined.status, error.status) == ("succeeded", "declined", "failed")
    assert declined.reason == "card_declined" and ok.reference.startswith("ch_sim_")


async def test_the_same_idempotency_key_charges_once() -> None:
    gateway = SimulatedGateway()
    first = await gateway.charge("pm_sim_ok", 9900, idempotency_key="inv-1")
    again = await gateway.charge("pm_sim_declined", 100, idempotency_key="inv-1")
    assert again == first and len(gateway.charges) == 1


async def test_an_unknown_token_is_invalid_and_card_details_are_display_only() -> None:
    gateway = SimulatedGateway()
    with pytest.raises(InvalidArgument):
        await gateway.describe("4242424242424242")
    card = await gateway.describe("pm_sim_ok")
    assert (card.brand, card.last4) == ("visa", "4242")
