"""The service catalog without gRPC: every tenant RPC offered by exactly one service, and
each tier's inclusions rendered from the tier catalog."""

from __future__ import annotations

from mesh.service_catalog import service_catalog
from mesh.tenancy.permissions import TENANT_RPCS
from mesh.tiers import Tier


def test_every_tenant_rpc_is_offered_by_exactly_one_service() -> None:
    offered = [m.method for offer in service_catalog() for m in offer.methods]
    assert sorted(offered) == sorted(TENANT_RPCS)


def test_inclusions_follow_the_tier_catalog() -> None:
    offers = {offer.name: offer for offer in service_catalog()}
    billing = offers["billing"].includes
    assert billing[Tier.FREE][:2] == ("0.00 USD a month", "1,000 API calls a day")
    assert billing[Tier.ENTERPRISE][1] == "unlimited API calls a day"
    storage = offers["storage"].includes
    assert "phone support, first reply within 1 h" in storage[Tier.ENTERPRISE]
    assert "up to 10 users" in storage[Tier.PRO]
    assert offers["ingestion"].includes[Tier.FREE][0] == (
        "prices from fxcm, failing over to ic_markets, pepperstone"
    )
